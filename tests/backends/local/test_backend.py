"""The embedded local scorer: shape, determinism, chunking, integrity checks."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import modkit
from modkit import CATEGORIES, BackendError, ItemError, ModerationResult
from modkit.backends import LocalBackend
from modkit.backends.local._encoder import MODEL_SHA256, STRIDE, WINDOW, Encoder, default_model_path
from modkit.training._train import MODEL_NAME

FIXTURES = Path(__file__).parents[2] / "fixtures" / "local"
PACKAGE = Path(modkit.__file__).parent / "backends" / "local"


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend().load()


def _results(backend: LocalBackend, texts: list[str]) -> list[ModerationResult]:
    out = backend.score(texts)
    assert all(isinstance(r, ModerationResult) for r in out), out
    return out  # type: ignore[return-value]


def test_endpoint_shape_all_13_keys(backend):
    texts = ["I love my friends", "I am going to stab you tonight", "Bonjour tout le monde"]
    thresholds = backend.info["categories"]
    for res in _results(backend, texts):
        assert list(res.category_scores) == list(CATEGORIES)
        assert list(res.categories) == list(CATEGORIES)
        assert res.category_applied_input_types == {c: ["text"] for c in CATEGORIES}
        assert res.model == MODEL_NAME
        assert res.id.startswith("modr-local-") and len(res.id) > len("modr-local-") + 8
        for c, v in res.category_scores.items():
            assert isinstance(v, float) and 0.0 <= v <= 1.0 and not math.isnan(v)
            assert res.categories[c] == (v >= thresholds[c]["threshold"])
        assert res.flagged == any(res.categories.values())
        assert set(res.to_dict()) == {
            "flagged",
            "categories",
            "category_scores",
            "category_applied_input_types",
        }


def test_scores_rank_obvious_cases(backend):
    calm, threat, sexual = _results(
        backend,
        [
            "The weather is lovely today, let's have a picnic in the park.",
            "I am going to find you and kill you and your whole family.",
            "She took off her clothes and we had explicit sex all night.",
        ],
    )
    assert threat.category_scores["violence"] > calm.category_scores["violence"] + 0.1
    assert sexual.category_scores["sexual"] > calm.category_scores["sexual"] + 0.3
    assert not calm.flagged


def test_deterministic_across_calls_and_instances(backend):
    texts = ["you are a worthless idiot", "how do I bake bread?", "word " * 300]
    a = _results(backend, texts)
    b = _results(backend, texts)
    c = _results(LocalBackend(), texts)
    assert [r.category_scores for r in a] == [r.category_scores for r in b]
    assert [r.category_scores for r in a] == [r.category_scores for r in c]
    assert [r.id for r in a] == [r.id for r in c]
    # batch-mates change padding only: the same text scores the same within float noise
    alone = _results(backend, [texts[0]])[0].category_scores
    for k, v in alone.items():
        assert v == pytest.approx(a[0].category_scores[k], abs=1e-6)


def test_empty_and_whitespace_texts_are_item_errors(backend):
    out = backend.score(["", "   \n\t", "fine text"])
    assert isinstance(out[0], ItemError) and "empty" in out[0].message
    assert isinstance(out[1], ItemError)
    assert isinstance(out[2], ModerationResult)
    frame = modkit.moderate(["ok", " "], backend=backend, cache=None, progress=False)
    assert frame["error"].tolist()[0] == ""
    assert "empty or whitespace-only" in frame["error"].tolist()[1]
    assert math.isnan(frame.loc[1, "hate"])


def test_non_english_is_scored(backend):
    out = _results(backend, ["Je vais te tuer", "私はあなたを殺します", "Я тебя убью"])
    assert len(out) == 3


def test_long_text_is_windowed_not_cut(backend):
    enc = Encoder()
    filler = " ".join(f"The committee reviewed item number {i} of the budget." for i in range(60))
    ids = enc.tokenize([filler])[0]
    assert len(ids) > 4 * WINDOW
    windows = enc.windows([filler])
    assert len(windows.ids) >= len(ids) // (WINDOW - 2)
    assert all(len(w) <= WINDOW and w[0] == 101 and w[-1] == 102 for w in windows.ids)
    # every word piece lands in some window, in order
    covered = [t for w in windows.ids for t in w[1:-1]]
    assert set(ids) <= set(covered)
    assert windows.ids[0][1:-1] == ids[: WINDOW - 2]
    assert windows.ids[-1][1:-1] == ids[-(WINDOW - 2) :]
    step = WINDOW - 2 - STRIDE
    assert len(windows.ids) == math.ceil((len(ids) - (WINDOW - 2)) / step) + 1

    threat = "I am going to murder you with a knife and watch you bleed."
    benign, tail, head = _results(backend, [filler, filler + " " + threat, threat + " " + filler])
    # with truncation at the window, the threat at the end would be invisible
    assert tail.category_scores["violence"] > 3 * benign.category_scores["violence"]
    assert head.category_scores["violence"] > 3 * benign.category_scores["violence"]


def test_tampered_model_file_fails_loudly(tmp_path):
    bad = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), bad)
    with open(bad, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    found = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(BackendError) as info:
        LocalBackend(model_path=bad).load()
    msg = str(info.value)
    assert MODEL_SHA256 in msg and found in msg and str(bad) in msg
    # through the runner: the run stops with the same error, not a traceback inside onnx
    with pytest.raises(BackendError, match="integrity"):
        modkit.moderate(["x"], backend=LocalBackend(model_path=bad), cache=None, progress=False)


def test_missing_model_file_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="not found"):
        LocalBackend(model_path=tmp_path / "nope.onnx").load()


def test_shipped_model_file_has_the_pinned_sha256():
    assert hashlib.sha256(default_model_path().read_bytes()).hexdigest() == MODEL_SHA256


def test_tokenizer_matches_reference_ids():
    """Ids from the reference tokenizer.json of all-MiniLM-L6-v2 (fixture) are reproduced."""
    cases = json.loads((FIXTURES / "wordpiece_ids.json").read_text(encoding="utf-8"))["cases"]
    enc = Encoder()
    got = enc.tokenize([c["text"] for c in cases])
    for case, ids in zip(cases, got, strict=True):
        assert [101, *ids, 102] == case["ids"], case["text"]


def test_info_and_coverage(backend):
    info = backend.info
    assert info["model"] == backend.model
    cats = info["categories"]
    assert set(cats) == set(CATEGORIES)
    for c, entry in cats.items():
        assert entry["status"] in ("trained", "derived"), c
        assert 0.0 < entry["threshold"] < 1.0
        if entry["status"] == "derived":
            assert entry["from"] and all(s in CATEGORIES for s in entry["from"])
        else:
            assert entry["positives"] >= 10 and entry["negatives"] > entry["positives"]
    assert "hatecheck" in info["training_data"]["never_trained_on"]
    cov = backend.coverage()
    assert list(cov.index) == list(CATEGORIES)
    assert cov.loc["harassment/threatening", "status"] == "derived"
    trained = cov[cov["status"] == "trained"]
    assert (trained["contrast_rows"] > 0).all()  # every head saw contrast rows
    assert (trained["oof_contrast_safe_flagged"] <= info["contrast_fpr"] + 1e-9).all()
    assert cov["threshold_rule"].str.len().gt(0).all()
    info["categories"]["hate"]["threshold"] = 99  # a copy: the backend is unaffected
    assert backend.info["categories"]["hate"]["threshold"] != 99


def _copy_model(dst: Path, change) -> Path:
    dst.mkdir()
    heads = json.loads((PACKAGE / "heads.json").read_text())
    meta = json.loads((PACKAGE / "model.json").read_text())
    change(heads, meta)
    raw = json.dumps(heads).encode()
    meta["heads_sha256"] = hashlib.sha256(raw).hexdigest()
    (dst / "heads.json").write_bytes(raw)
    (dst / "model.json").write_text(json.dumps(meta))
    return dst


def test_retrained_heads_change_the_cache_namespace(tmp_path, backend):
    def bump(heads, meta):
        heads["intercept"][0] += 1.0

    other = LocalBackend(model_dir=_copy_model(tmp_path / "m", bump))
    assert other.cache_namespace != backend.cache_namespace
    assert backend.cache_namespace.startswith("local/")
    first = other.info["categories"]
    assert first["harassment"]["status"] == "trained"
    a = _results(backend, ["hello"])[0].category_scores["harassment"]
    b = _results(other, ["hello"])[0].category_scores["harassment"]
    # the first head's logit moved by exactly +1
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert logit(b) - logit(a) == pytest.approx(1.0, abs=1e-6)


def test_heads_file_not_matching_metadata_is_rejected(tmp_path):
    d = tmp_path / "m"
    shutil.copytree(PACKAGE, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    heads = json.loads((d / "heads.json").read_text())
    heads["intercept"][0] = 5.0
    (d / "heads.json").write_text(json.dumps(heads))
    with pytest.raises(BackendError, match="expected sha256"):
        LocalBackend(model_dir=d)


def test_derived_rules_follow_their_sources(backend):
    for res in _results(backend, ["I will hunt you down and hurt you", "I want to die"]):
        s = res.category_scores
        assert s["harassment/threatening"] == min(s["harassment"], s["violence"])
        assert s["self-harm/instructions"] == s["self-harm/intent"]


def test_make_backend_and_default_of_moderate(tmp_path):
    b = modkit.make_backend("local")
    assert isinstance(b, LocalBackend) and b.name == "local"
    frame = modkit.moderate(["hello world"], cache=str(tmp_path / "c.sqlite"), progress=False)
    assert frame.loc[0, "model"] == MODEL_NAME
    assert list(frame.columns[1:14]) == list(CATEGORIES)
    assert np.isfinite(frame.loc[0, list(CATEGORIES)].astype(float)).all()


def test_embedding_does_not_depend_on_threads():
    texts = ["short one", "a somewhat longer sentence about the weather today", "x " * 200]
    one, owner = Encoder(threads=1).embed(texts)
    four, owner4 = Encoder(threads=4).embed(texts)
    np.testing.assert_array_equal(one, four)
    np.testing.assert_array_equal(owner, owner4)
