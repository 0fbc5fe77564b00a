"""The tests mirror the package: a room's tests are found by its path.

- ``tests/<pkg>/...`` holds the tests of the package ``modkit/<pkg>/...`` (same folders);
- ``tests/test_<module>[_<aspect>].py`` holds those of the top-level module ``modkit/_<module>.py``;
- ``tests/project/`` holds what is about the repository as a whole (README, docs, layout,
  notebooks, cross-cutting boundaries);
- every ``tests/...py`` path that the docs, the data READMEs, benchmarks or docstrings name exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PACKAGE = ROOT / "modkit"
NOT_MIRRORS = {"fixtures", "project", "__pycache__"}
MENTION = re.compile(r"\btests/[\w/]+\.py\b")


def _test_dirs() -> list[Path]:
    return sorted(
        p
        for p in TESTS.rglob("*")
        if p.is_dir()
        and p.relative_to(TESTS).parts[0] not in NOT_MIRRORS
        and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
    )


@pytest.mark.parametrize("folder", _test_dirs(), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_test_folder_mirrors_a_package(folder):
    package = PACKAGE / folder.relative_to(TESTS)
    assert (package / "__init__.py").is_file(), (
        f"tests/{folder.relative_to(TESTS)}/ has no package modkit/{folder.relative_to(TESTS)}/ "
        "to mirror: put its tests beside the package they test, or in tests/project/"
    )


def _module_names() -> set[str]:
    return {p.stem.lstrip("_") for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_every_top_level_test_file_names_its_module(path):
    words = path.stem.removeprefix("test_").split("_")
    prefixes = {"_".join(words[:n]) for n in range(1, len(words) + 1)}
    assert prefixes & _module_names(), (
        f"tests/{path.name} names no top-level module of modkit/ (its name must start with one, "
        f"as tests/test_runner_http.py tests modkit/_runner.py): move it into the folder of the "
        "package it tests, or into tests/project/"
    )


def _documents() -> list[Path]:
    docs = [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("data/**/*.md")]
    code = [*PACKAGE.rglob("*.py"), *ROOT.glob("benchmarks/*.py"), *TESTS.rglob("*.py")]
    return [p for p in docs + code if "incoming" not in p.parts]


def test_every_named_test_file_exists():
    missing = [
        f"{doc.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for doc in _documents()
        for text in [doc.read_text(encoding="utf-8")]
        for m in MENTION.finditer(text)
        if not (ROOT / m.group(0)).is_file()
    ]
    assert not missing, "test files named but not there:\n" + "\n".join(missing)
