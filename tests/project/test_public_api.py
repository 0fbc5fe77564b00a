"""The public API: the names of each public package, the moves and their warnings.

``tests/fixtures/public_names.json`` is the committed list of every public package's
``__all__``: adding, moving or removing a public name is a deliberate edit of that file
(and a CHANGELOG line); a moved name keeps working with a FutureWarning.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import modkit
from modkit._deprecation import moved_names, renamed_parameter

SNAPSHOT = Path(__file__).parents[1] / "fixtures" / "public_names.json"
PUBLIC = json.loads(SNAPSHOT.read_text(encoding="utf-8"))


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_match_the_committed_list(package):
    module = importlib.import_module(package)
    names = sorted(module.__all__)
    assert len(names) == len(set(names)), f"{package}.__all__ lists a name twice"
    added, removed = (
        sorted(set(names) - set(PUBLIC[package])),
        sorted(set(PUBLIC[package]) - set(names)),
    )
    assert (added, removed) == ([], []), (
        f"{package}.__all__ changed (added {added}, removed {removed}): if deliberate, "
        f"edit {SNAPSHOT.name}, add a CHANGELOG line, and keep a moved name working "
        "through modkit._deprecation"
    )
    for name in names:  # every listed name exists
        assert hasattr(module, name), f"{package}.{name}"


def test_every_public_package_is_in_the_snapshot():
    root = Path(modkit.__file__).parent
    packages = {
        f"modkit.{p.parent.name}"
        for p in root.glob("*/__init__.py")
        if not p.parent.name.startswith("_") and p.parent.name != "cli"
    }
    assert packages | {"modkit"} == set(PUBLIC)


def test_the_top_level_holds_the_pipeline_not_the_families():
    # backend classes, provider taxonomies and image helpers live in their submodule
    for name in modkit.__all__:
        obj = getattr(modkit, name)
        assert not (isinstance(obj, type) and issubclass(obj, modkit.backends.Backend)), name
    assert not set(modkit.__all__) & set(PUBLIC["modkit.providers"])
    assert not set(modkit.__all__) & set(PUBLIC["modkit.images"])


@pytest.mark.parametrize("name", sorted(modkit.MOVED))
def test_a_moved_name_still_works_with_a_future_warning(name):
    new_module = modkit.MOVED[name]
    assert name not in modkit.__all__
    assert name in PUBLIC[new_module]
    with pytest.warns(FutureWarning) as caught:
        old = getattr(modkit, name)
    assert old is getattr(importlib.import_module(new_module), name)
    message = str(caught[0].message)
    assert message == (
        f"modkit.{name} is deprecated and will be removed in modkit 0.3.0: use {new_module}.{name}"
    )
    assert caught[0].filename == __file__  # points at the caller's line


def test_from_import_of_a_moved_name_warns_at_the_import_line(tmp_path):
    script = tmp_path / "old_code.py"
    script.write_text(
        "from modkit import ReplayBackend, crosswalk\n"
        "print(ReplayBackend.__module__, crosswalk('azure').shape)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["modkit.backends._replay", "(13,", "4)"]
    assert (
        re.findall(r"old_code\.py:1: FutureWarning", done.stderr)
        == ["old_code.py:1: FutureWarning"] * 2
    )


def test_an_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'modkit' has no attribute 'Nope'"):
        modkit.Nope  # noqa: B018
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(modkit, "OpenAIBackendd")


def test_moved_names_of_another_module():
    getattr_ = moved_names("pkg.old", {"Scale": "modkit.providers"}, removal="9.9")
    with pytest.warns(FutureWarning, match=r"pkg\.old\.Scale .* modkit 9\.9: use "):
        assert getattr_("Scale") is modkit.providers.Scale
    with pytest.raises(AttributeError):
        getattr_("scale")


def test_renamed_parameter_passes_the_old_keyword_on_with_a_warning():
    @renamed_parameter("ci_level", "confidence_level", removal="0.3")
    def fit(data, *, confidence_level=0.95):
        """Doc kept."""
        return data, confidence_level

    assert fit.__doc__ == "Doc kept." and fit.__name__ == "fit"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit(1, confidence_level=0.8) == (1, 0.8)  # the new name: no warning
        assert fit(1) == (1, 0.95)
    with pytest.warns(FutureWarning, match=r"fit\(ci_level=\.\.\.\) is deprecated .* 0\.3"):
        assert fit(2, ci_level=0.9) == (2, 0.9)
    with pytest.raises(modkit.InputError, match="give confidence_level only"):
        fit(3, ci_level=0.9, confidence_level=0.8)
