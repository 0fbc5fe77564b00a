"""Notebooks are committed without outputs, and git's filter (`make hooks`) keeps it so."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_exactly_what_the_filter_would_commit():
    assert NOTEBOOKS
    out = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--keep-id", "--verify", *map(str, NOTEBOOKS)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"outputs or metadata committed ({out.stdout}): run 'make hooks'"


def test_gitattributes_sends_notebooks_through_the_filter():
    lines = (ROOT / ".gitattributes").read_text(encoding="utf-8").splitlines()
    assert any(ln.split()[:2] == ["*.ipynb", "filter=nbstripout"] for ln in lines)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="no make")
def test_make_hooks_strips_outputs_on_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "hooks",
            f"GIT=git -C {repo}",
            f"NBPYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
    shutil.copy(ROOT / ".gitattributes", repo)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('hi')")
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells = [cell]
    nbformat.write(nb, repo / "x.ipynb")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "x")
    committed = json.loads(_git(repo, "show", "HEAD:x.ipynb"))
    assert committed["cells"][0]["outputs"] == []
    assert committed["cells"][0]["execution_count"] is None
    assert committed["cells"][0]["id"] == cell.id  # ids are kept: no churn
    on_disk = nbformat.read(repo / "x.ipynb", as_version=4)
    assert on_disk.cells[0].outputs  # the working copy keeps its outputs
