"""The notebooks, executed once per content: shared by the docs build and the test suite.

``executed(path)`` runs ``notebooks/NAME.ipynb`` top to bottom (``modkit._notebooks.run_notebook``,
as ``make demo`` does) into ``.cache/notebooks/NAME-KEY/`` and returns the executed notebook
and its offline HTML export. KEY hashes what the outputs depend on: the notebook, modkit's
source, the repository's ``data/`` folder, the data-set folder ``$MODKIT_DATA_DIR`` and the
Python version. The docs build (``docs/_hooks.py``) renders the executed copy into the site;
``tests/project/test_notebooks.py`` checks the same copy, so ``make test`` (docs, then the suite)
executes each notebook once. A failing notebook leaves no cache entry: the next caller
executes it again and sees the error.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "notebooks"
NOTEBOOKS = ROOT / "notebooks"


def notebooks() -> list[Path]:
    """The committed notebooks, in file-name order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def content_key(path: Path) -> str:
    """A hash of everything the executed outputs of ``path`` depend on."""
    digest = hashlib.sha256()
    sources = [path, ROOT / "pyproject.toml"]
    sources += sorted((ROOT / "modkit").rglob("*.py"))
    sources += sorted(p for p in (ROOT / "data").rglob("*") if p.is_file())
    for source in sources:
        digest.update(str(source.relative_to(ROOT)).encode())
        digest.update(source.read_bytes())
    digest.update(os.environ.get("MODKIT_DATA_DIR", "").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def executed(path: Path) -> dict[str, Path]:
    """The executed copy of a notebook and its HTML export, running it if not cached.

    Returns
    -------
    dict
        ``{"ipynb": Path, "html": Path}`` in the cache folder.

    Raises
    ------
    modkit.NotebookError
        A cell failed (nothing is cached).
    """
    from modkit._notebooks import run_notebook

    entry = CACHE / f"{path.stem}-{content_key(path)}"
    paths = {"ipynb": entry / path.name, "html": entry / f"{path.stem}.html"}
    if all(p.is_file() for p in paths.values()):
        return paths
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"{path.stem}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=CACHE))
    try:
        reports = work / "reports"
        run_notebook(path, work / "out", parameters={"reports_dir": str(reports)})
        (work / "out").rename(entry)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return paths
