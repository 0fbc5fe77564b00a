"""The docs site's generated page: the changelog (docs/_hooks.py)."""

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

from mkdocs.structure.files import Files

ROOT = Path(__file__).resolve().parents[2]


def _hooks():
    spec = importlib.util.spec_from_file_location("modkit_docs_hooks", ROOT / "docs" / "_hooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_changelog_page_is_the_changelog(tmp_path):
    plugins = SimpleNamespace(_current_plugin=None)
    config = SimpleNamespace(site_dir=str(tmp_path), use_directory_urls=True, plugins=plugins)
    files = _hooks().on_files(Files([]), config)
    page = files.get_file_from_path("changelog.md")
    assert page is not None
    assert page.content_string == (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_no_page_is_generated_from_the_readme():
    text = (ROOT / "docs" / "_hooks.py").read_text(encoding="utf-8")
    assert "README" not in text.split('"""', 2)[2]  # the docstring may name it; the code may not
