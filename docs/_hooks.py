"""MkDocs hooks: the changelog page is ``CHANGELOG.md``.

The home page, tutorials, how-to guides and explanations are hand-written pages under
``docs/`` (README.md is the repository's landing page, not a source of pages); only the
changelog is generated, so that ``CHANGELOG.md`` stays the one file to edit.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Files, config, **kwargs) -> Files:
    """Add ``changelog.md``, generated from ``CHANGELOG.md``."""
    content = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "changelog.md", content=content))
    return files
