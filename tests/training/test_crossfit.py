"""LocalBackend.cross_fitted_scores: shipped beside the heads or cached on disk, keyed by the
sha256 of the model and the data, with progress."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _training import FAST, _fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from modkit.backends import LocalBackend
from modkit.cli import main
from modkit.training import cross_fitted_results, train
from modkit.training._crossfit import (
    SHIPPED_FILE,
    cached_frame,
    crossfit_key,
    read_shipped,
    rows_sha256,
    shipped_meta,
    write_shipped,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crossfit-model")
    train(out, data=_fixture(), **FAST)
    return out


def _entries() -> list[Path]:
    folder = Path(os.environ["MODKIT_CACHE_DIR"]) / "crossfit"
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def unshipped_dir(model_dir, tmp_path_factory) -> Path:
    """The same heads without their shipped scores: the cache and the computation serve."""
    out = tmp_path_factory.mktemp("crossfit-unshipped") / "model"
    shutil.copytree(model_dir, out)
    (out / SHIPPED_FILE).unlink()
    return out


def test_second_call_reads_the_cache_and_equals_the_first(unshipped_dir, capsys):
    backend = LocalBackend(model_dir=unshipped_dir)
    before = set(_entries())
    t0 = time.perf_counter()
    first = backend.cross_fitted_scores(data=_fixture(), n_splits=3)
    cold = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert "cross-fitting: embedding texts" in err  # the tqdm bar
    (entry,) = set(_entries()) - before
    t0 = time.perf_counter()
    second = backend.cross_fitted_scores(data=_fixture(), n_splits=3)
    warm = time.perf_counter() - t0
    assert "embedding texts" not in capsys.readouterr().err  # nothing was embedded
    pd.testing.assert_frame_equal(first, second)
    assert set(_entries()) - before == {entry}
    assert warm < cold
    # another fold assignment, or other data, is another entry
    backend.cross_fitted_scores(data=_fixture(), n_splits=3, seed=1, progress=False)
    changed = _fixture()
    changed.oai.loc[0, "text"] = "a different first text"
    backend.cross_fitted_scores(data=changed, n_splits=3, progress=False)
    assert len(set(_entries()) - before) == 3


def test_key_depends_on_every_input():
    base = {
        "heads_sha256": "a" * 64,
        "encoder_sha256": "b" * 64,
        "data_sha256": "c" * 64,
        "n_splits": 5,
        "seed": 0,
    }
    keys = {crossfit_key(**base)}
    for name, other in (
        ("heads_sha256", "d" * 64),
        ("encoder_sha256", "d" * 64),
        ("data_sha256", "d" * 64),
        ("n_splits", 4),
        ("seed", 1),
    ):
        keys.add(crossfit_key(**{**base, name: other}))
    assert len(keys) == 6 and crossfit_key(**base) in keys


def test_a_damaged_entry_is_recomputed(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"text": ["a"], "hate": [0.5]})

    cached_frame("k", compute, folder=tmp_path)
    (tmp_path / "k.parquet").write_bytes(b"not parquet")
    got = cached_frame("k", compute, folder=tmp_path)
    assert len(calls) == 2 and got["hate"].tolist() == [0.5]
    cached_frame("k", compute, folder=tmp_path)
    assert len(calls) == 2


def test_train_ships_scores_that_equal_the_computed_frame(model_dir, capsys):
    """The scores `train` wrote beside the heads, joined to the texts, are the frame
    `cross_fitted_results` computes, bit for bit; nothing is embedded to get them."""
    assert (model_dir / SHIPPED_FILE).is_file()
    backend = LocalBackend(model_dir=model_dir)
    capsys.readouterr()
    shipped = backend.cross_fitted_scores(data=_fixture(), n_splits=3, cache=False)
    assert "embedding texts" not in capsys.readouterr().err
    computed = cross_fitted_results(data=_fixture(), model_dir=model_dir, n_splits=3)
    pd.testing.assert_frame_equal(shipped, computed)
    assert shipped["model"].str.contains("cross-fitted, 3 folds").all()


def test_other_data_folds_or_heads_never_get_the_shipped_scores(model_dir, tmp_path, capsys):
    backend = LocalBackend(model_dir=model_dir)
    changed = _fixture()
    changed.oai.loc[3, "text"] = "a different fourth text"
    for data, n_splits, seed in ((changed, 3, 0), (_fixture(), 3, 1), (_fixture(), 4, 0)):
        capsys.readouterr()
        got = backend.cross_fitted_scores(data=data, n_splits=n_splits, seed=seed, cache=False)
        assert "embedding texts" in capsys.readouterr().err  # computed, not shipped
        want = cross_fitted_results(data=data, model_dir=model_dir, n_splits=n_splits, seed=seed)
        pd.testing.assert_frame_equal(got, want)
    # heads retrained (another recipe) beside the old file: the stale file is not used
    stale = tmp_path / "stale"
    shutil.copytree(model_dir, stale)
    train(stale, data=_fixture(), n_splits=3, c_grid=(0.5,))
    (stale / SHIPPED_FILE).write_bytes((model_dir / SHIPPED_FILE).read_bytes())
    capsys.readouterr()
    got = LocalBackend(model_dir=stale).cross_fitted_scores(
        data=_fixture(), n_splits=3, cache=False
    )
    assert "embedding texts" in capsys.readouterr().err
    pd.testing.assert_frame_equal(
        got, cross_fitted_results(data=_fixture(), model_dir=stale, n_splits=3)
    )


def test_shipped_file_is_the_same_bytes_for_the_same_inputs(model_dir, tmp_path):
    again = tmp_path / "again"
    train(again, data=_fixture(), **FAST)
    assert (again / SHIPPED_FILE).read_bytes() == (model_dir / SHIPPED_FILE).read_bytes()
    meta = shipped_meta(again)
    assert meta is not None and meta["n_rows"] == len(_fixture().oai)
    with np.load(again / SHIPPED_FILE, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["meta", "row", "scores"]  # no text


_SCORES = st.integers(1, 12).flatmap(
    lambda n: st.lists(
        st.lists(st.floats(0.0, 1.0), min_size=13, max_size=13), min_size=n, max_size=n
    )
)


@settings(max_examples=40, deadline=None)
@given(scores=_SCORES, texts_seed=st.integers(0, 10**6), seed=st.integers(0, 5))
def test_shipped_scores_read_back_only_under_their_own_key_and_rows(scores, texts_seed, seed):
    arr = np.array(scores, dtype=np.float64)
    texts = [f"text {texts_seed} {i}" for i in range(len(arr))]
    key = {
        "heads_sha256": "a" * 64,
        "encoder_sha256": "b" * 64,
        "data_sha256": "c" * 64,
        "n_splits": 5,
        "seed": seed,
    }
    with tempfile.TemporaryDirectory() as tmp:
        write_shipped(tmp, key=key, scores=arr, rows=rows_sha256(texts))
        got = read_shipped(tmp, crossfit_key(**key), rows_sha256(texts))
        assert got is not None and np.array_equal(got, arr)  # exact, float64
        other = crossfit_key(**{**key, "seed": seed + 1})
        assert read_shipped(tmp, other, rows_sha256(texts)) is None
        assert read_shipped(tmp, crossfit_key(**key), rows_sha256([*texts[::-1], "x"])) is None
        (Path(tmp) / SHIPPED_FILE).write_bytes(b"PK\x03\x04 truncated")
        assert read_shipped(tmp, crossfit_key(**key), rows_sha256(texts)) is None


def test_crossfit_only_without_heads_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--crossfit-only", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "Traceback" not in "".join(err)
    assert err[-1].startswith("modkit train: error: local model file not found")
