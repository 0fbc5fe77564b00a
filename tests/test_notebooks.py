"""Every notebook runs top to bottom on the local scorer, as `make demo` runs it."""

import re
from pathlib import Path

import nbformat
import pytest

from modkit._notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count")]
    assert any("parameters" in c.metadata.get("tags", []) for c in code)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_offline(path, tmp_path):
    paths = run_notebook(path, tmp_path, parameters={"reports_dir": str(tmp_path)})
    html = paths["html"].read_text(encoding="utf-8")
    srcs = re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html)
    assert not [s for s in srcs if s.startswith(("http", "//"))], srcs
    nb = nbformat.read(paths["ipynb"], as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
