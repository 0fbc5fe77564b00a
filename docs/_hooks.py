"""MkDocs hooks: the navigation's generated sections, the notebooks, the changelog.

- **Sections**: the nav entries ``Tutorials``, ``How-to guides`` and ``Explanation`` list
  their pages in ``mkdocs.yml``; one left empty (``[]``) lists ``docs/tutorials``,
  ``docs/how-to`` or ``docs/explanation`` in file-name order instead (an ``index.md`` first,
  as the section's own page), and a folder with no page gets a generated placeholder, so the
  site's shape holds while pages are written.
- **Notebooks**: each ``notebooks/*.ipynb`` is executed (``docs/_notebooks.py``, cached by
  content and shared with the test suite) and rendered as ``notebooks/NAME.md`` with its
  outputs. Widgets become their static view; plotly.js is written once as
  ``assets/plotly.min.js`` and the pages load it from there (no CDN).
- **Changelog**: ``CHANGELOG.md`` becomes ``changelog.md``, so that it stays the one file to
  edit.

The home page, tutorials, how-to guides and explanations are hand-written pages under
``docs/``; no page is generated from the README (the repository's landing page).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: nav title -> the folder under docs/ whose pages fill it
SECTIONS = {
    "Tutorials": "tutorials",
    "How-to guides": "how-to",
    "Explanation": "explanation",
}
PLOTLY_ASSET = "assets/plotly.min.js"
_MARKER = "<!-- modkit-notebook:{stem} -->"


def _load_notebooks_module() -> Any:
    name = "modkit_docs_notebooks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_notebooks.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# --- sections from folders ---------------------------------------------------------------


def section_pages(folder: str) -> list[str]:
    """The pages of ``docs/<folder>``, ``index.md`` first, then in file-name order."""
    pages = sorted((DOCS / folder).glob("*.md")) if (DOCS / folder).is_dir() else []
    pages.sort(key=lambda p: (p.name != "index.md", p.name))
    return [f"{folder}/{p.name}" for p in pages]


def _placeholder(title: str) -> str:
    return (
        f"# {title}\n\n"
        f"The {title.lower()} pages are being written. Until they land, the "
        "[reference](../api/modkit.md) documents every public function and the "
        "[notebooks](../notebooks/index.md) walk through the main workflows.\n"
    )


# --- notebooks -----------------------------------------------------------------------------


def notebook_title(path: Path) -> str:
    """The notebook's first Markdown heading, else its file name."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", []))
            match = re.search(r"^#\s+(.+)$", source, re.MULTILINE)
            if match:
                return re.sub(r"[`*_]", "", match.group(1)).strip()
    return path.stem


def _notebook_stub(path: Path) -> str:
    return (
        f"{_MARKER.format(stem=path.stem)}\n\n"
        "---\n\n"
        f"*This page is `notebooks/{path.name}`, executed when the site was built. "
        "Open it in JupyterLab (`make lab`) to change its parameters and use its widgets.*\n"
    )


def _notebooks_index(paths: list[Path]) -> str:
    lines = [
        "# Notebooks",
        "",
        "The notebooks in `notebooks/`, executed top to bottom when this site was built "
        "(on the local scorer, offline). `make lab` opens them in JupyterLab.",
        "",
    ]
    lines += [f"- [{notebook_title(p)}]({p.stem}.md)" for p in paths]
    return "\n".join(lines) + "\n"


def render_notebook(ipynb: Path) -> str:
    """The HTML body of an executed notebook, for a page of the site.

    Widget outputs become their static view, the cell of parameters injected by the runner
    is left out, no script loads from the network and the embedded copy of plotly.js
    becomes a ``<script src>`` to the site's one copy.
    """
    import nbformat
    from nbconvert import HTMLExporter

    from modkit._notebooks import static_widgets, strip_remote_scripts

    nb = static_widgets(nbformat.read(ipynb, as_version=4))
    # the cell the runner inserted (its reports_dir is a path of the build machine)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    exporter = HTMLExporter(template_name="basic", exclude_input_prompt=False)
    body, _ = exporter.from_notebook_node(nb)
    body = strip_remote_scripts(body)
    return _PLOTLY_INLINE.sub(_plotly_src, body)


#: an inline <script> that holds a copy of plotly.js (its licence banner comes first)
_PLOTLY_INLINE = re.compile(
    r"<script(?: type=\"text/javascript\")?>\s*/\*\*?\s*\* plotly\.js v.*?</script>",
    re.DOTALL,
)


def _plotly_src(match: re.Match[str]) -> str:
    return f'<script src="{{base}}/{PLOTLY_ASSET}"></script>'


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


# --- mkdocs events -------------------------------------------------------------------------


def on_config(config: Any, **kwargs: Any) -> Any:
    """Fill the generated nav sections (see the module docstring)."""
    nb = _load_notebooks_module()
    generated = {
        title: section_pages(folder) or [f"{folder}/index.md"] for title, folder in SECTIONS.items()
    }
    generated["Notebooks"] = ["notebooks/index.md"] + [
        {notebook_title(p): f"notebooks/{p.stem}.md"} for p in nb.notebooks()
    ]
    missing = set(generated)
    for entry in config["nav"]:
        if isinstance(entry, dict):
            for title in entry:
                if title in generated:
                    # an empty entry is filled; pages listed by hand in mkdocs.yml are kept
                    entry[title] = entry[title] or generated[title]
                    missing.discard(title)
    if missing:
        raise ValueError(f"mkdocs.yml: the nav needs the entries {sorted(missing)}")
    return config


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add the generated pages: placeholders, notebooks, changelog."""
    nb = _load_notebooks_module()
    pages: dict[str, str] = {"changelog.md": (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")}
    for title, folder in SECTIONS.items():
        if not section_pages(folder):
            pages[f"{folder}/index.md"] = _placeholder(title)
    paths = nb.notebooks()
    pages["notebooks/index.md"] = _notebooks_index(paths)
    for path in paths:
        pages[f"notebooks/{path.stem}.md"] = _notebook_stub(path)
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    files.append(File.generated(config, PLOTLY_ASSET, content=_plotly_js()))
    return files


def on_page_content(html_text: str, page: Any, config: Any, files: Files, **kwargs: Any) -> str:
    """Put each notebook's executed HTML where its page's marker is."""
    match = re.search(r"<!-- modkit-notebook:([\w.-]+) -->", html_text)
    if not match:
        return html_text
    nb = _load_notebooks_module()
    path = nb.NOTEBOOKS / f"{match.group(1)}.ipynb"
    body = render_notebook(nb.executed(path)["ipynb"])
    base = "/".join([".."] * page.file.url.count("/")) or "."
    body = body.replace(f'src="{{base}}/{PLOTLY_ASSET}"', f'src="{base}/{PLOTLY_ASSET}"')
    wrapped = f'<div class="modkit-notebook">\n{body}\n</div>'
    return html_text.replace(match.group(0), wrapped)
