"""LocalBackend.cross_fitted_scores: cached on disk by model and data sha256, with progress."""

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from _training import FAST, _fixture

from modkit.backends import LocalBackend
from modkit.training import train
from modkit.training._crossfit import cached_frame, crossfit_key


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crossfit-model")
    train(out, data=_fixture(), **FAST)
    return out


def _entries() -> list[Path]:
    folder = Path(os.environ["MODKIT_CACHE_DIR"]) / "crossfit"
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def test_second_call_reads_the_cache_and_equals_the_first(model_dir, capsys):
    backend = LocalBackend(model_dir=model_dir)
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
