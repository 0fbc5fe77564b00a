"""The cross-fitted scores shipped beside the local scorer's heads (``crossfit.npz``).

They stand for the heads they were computed from: a test here fails as soon as someone
retrains the heads (or changes the encoder or the training data) without regenerating
them, and says how to.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import modkit
from modkit.backends import LocalBackend
from modkit.training._crossfit import SHIPPED_FILE, crossfit_key, shipped_meta

LOCAL = Path(modkit.__file__).parent / "backends" / "local"
REGENERATE = "modkit train --crossfit-only {folder}  (with MODKIT_DATA_DIR set, a few minutes)"


def _folders() -> list[Path]:
    """The default model always ships its scores; another shipped model if it has them."""
    return [LOCAL] + [
        p.parent for p in LOCAL.glob("*/model.json") if (p.parent / SHIPPED_FILE).is_file()
    ]


@pytest.mark.parametrize("folder", _folders(), ids=lambda p: p.name)
def test_shipped_scores_are_keyed_to_the_shipped_heads(folder):
    command = REGENERATE.format(
        folder=f"modkit/backends/local{folder.as_posix()[len(LOCAL.as_posix()) :]}"
    )
    meta = shipped_meta(folder)
    assert meta is not None, f"{folder / SHIPPED_FILE} is missing or unreadable: run {command}"
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    expected = {
        "heads_sha256": hashlib.sha256((folder / "heads.json").read_bytes()).hexdigest(),
        "encoder_sha256": model["encoder"]["sha256"],
        "data_sha256": model["training_data"]["inputs_sha256"],
        "n_splits": 5,  # LocalBackend.cross_fitted_scores' defaults
        "seed": 0,
    }
    stale = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    assert not stale, (
        f"{folder / SHIPPED_FILE} was computed for other heads, encoder or data "
        f"(file, now: {stale}): regenerate it with {command}"
    )
    assert meta["key"] == crossfit_key(**expected)
    assert (folder / SHIPPED_FILE).stat().st_size < 400_000


def test_the_registry_data_gets_the_shipped_scores_without_embedding(capsys):
    """End to end through the public API, on the registry's own copy of the data."""
    frame = LocalBackend().cross_fitted_scores()
    assert "embedding texts" not in capsys.readouterr().err  # nothing was computed
    data = modkit.datasets.load_dataset("openai-moderation-1680")
    assert len(frame) == len(data) == 1680
    assert frame["text"].tolist() == data["text"].astype(str).tolist()
    assert frame["model"].str.endswith("(cross-fitted, 5 folds)").all()
    assert frame["hate"].between(0, 1).all() and frame["flagged"].any()
