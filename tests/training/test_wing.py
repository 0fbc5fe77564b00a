"""The training recipe lives in ``modkit.training``; ``modkit.backends.local`` is the runtime.

Old import paths of the moved names still work, with a FutureWarning that names the new
path and the removal version; scoring with the shipped model imports neither the
training wing nor scikit-learn.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import modkit.training
from modkit.backends import local

MOVED = [
    "CONTRAST_DIR",
    "contrast_sha256",
    "cross_fitted_results",
    "is_heldout",
    "load_contrast",
    "train",
]


@pytest.mark.parametrize("name", MOVED)
def test_old_path_warns_and_gives_the_same_object(name):
    message = (
        rf"modkit\.backends\.local\.{name} is deprecated and will be removed in modkit "
        rf"0\.3\.0: use modkit\.training\.{name}"
    )
    with pytest.warns(FutureWarning, match=message):
        old = getattr(local, name)
    assert old is getattr(modkit.training, name)


def test_old_from_import_warns():
    with pytest.warns(FutureWarning, match="use modkit.training.train"):
        from modkit.backends.local import train  # noqa: F401


def test_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        local.trian  # noqa: B018


def test_moved_names_are_not_in_the_runtime_all():
    assert local.__all__ == ["LocalBackend"]
    assert set(MOVED) <= set(modkit.training.__all__)


def test_scoring_imports_neither_training_nor_sklearn():
    code = (
        "import sys\n"
        "from modkit.backends.local import LocalBackend\n"
        "r = LocalBackend().score(['How do I bake sourdough bread at home?'])\n"
        "assert r[0].category_scores\n"
        "heavy = ('sklearn', 'torch', 'modkit.training')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
