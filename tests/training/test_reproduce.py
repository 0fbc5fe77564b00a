"""``modkit train`` rebuilds the shipped local model byte for byte.

A full training embeds about 4,800 texts and fits 11 heads with their contrast-weight
search (15 to 40 minutes on 2 shared cores), too long for every CI run: it runs when
``MODKIT_TRAIN_REPRODUCE=1`` is set. What it depends on is checked on every run instead
(``test_train.py``: the registry files, the contrast set's sha256 and the digest of every
training text, task row and label match ``model.json``; training the fixture twice gives
the same bytes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modkit
import modkit.cli

PACKAGE = Path(modkit.__file__).parent / "backends" / "local"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),  # the suite's 300 s is for ordinary tests
    pytest.mark.skipif(
        os.environ.get("MODKIT_TRAIN_REPRODUCE") != "1",
        reason="a full training run: set MODKIT_TRAIN_REPRODUCE=1",
    ),
]


def test_modkit_train_reproduces_the_shipped_model(tmp_path, capsys):
    assert modkit.cli.main(["train", str(tmp_path)]) == 0
    for name in ("heads.json", "model.json", "crossfit.npz"):
        assert (tmp_path / name).read_bytes() == (PACKAGE / name).read_bytes(), name
    assert "wrote heads.json, model.json and crossfit.npz" in capsys.readouterr().err
