"""Run modkit's notebooks headless with parameters, and export them as offline HTML."""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._errors import InputError, ModkitError
from ._io import atomic_path

__all__ = [
    "NotebookError",
    "inject_parameters",
    "run_notebook",
    "static_widgets",
    "strip_remote_scripts",
]

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_NOTE = (
    '<p style="color:#666;font-style:italic;border-left:3px solid #ccc;padding-left:.6em">'
    "Interactive widget ({name}): it needs a live kernel. Open the notebook in JupyterLab "
    "(<code>make lab</code>) to use it; the figures and tables above are its static "
    "view.</p>"
)

#: Script sources nbconvert's HTML would fetch from the internet; modkit's reports are offline.
_OFFLINE_HTML_URLS = {
    "require_js_url": "",
    "mathjax_url": "",
    "jquery_url": "",
    "mermaid_js_url": "",
    "mermaid_layout_elk_js_url": "",
    "jupyter_widgets_base_url": "",
    "widget_renderer_url": "",
}


class NotebookError(ModkitError):
    """A notebook cell failed; the message names the notebook, the cell and the error."""


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """Insert a cell after the one tagged ``parameters`` that overrides its values.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook, changed in place and returned.
    parameters : mapping
        Names to Python literals (anything whose ``repr`` evaluates back to it).

    Raises
    ------
    InputError
        If parameters are given but no cell is tagged ``parameters``, or a name is not
        an identifier.
    """
    import nbformat

    if not parameters:
        return nb
    index = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if "parameters" in c.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:
        raise InputError("the notebook has no cell tagged 'parameters' to override")
    lines = ["# Parameters injected by modkit"]
    for name, value in parameters.items():
        if not str(name).isidentifier():
            raise InputError(f"parameter name {name!r} is not a Python identifier")
        lines.append(f"{name} = {value!r}")
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def run_notebook(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: int = 900,
    html: bool = True,
    on_cell: Callable[[int, str, float, float], None] | None = None,
) -> dict[str, Path]:
    """Execute a notebook top to bottom and write the executed copy (and HTML).

    The kernel runs in the notebook's own folder, as Jupyter would, with this
    interpreter's environment. Plotly figures are embedded with plotly.js and the HTML
    loads no script from a CDN, so the report opens offline.

    Parameters
    ----------
    path : path
        The ``.ipynb`` file.
    out_dir : path
        Where ``NAME.ipynb`` (executed) and ``NAME.html`` go.
    parameters : mapping, optional
        Overrides for the cell tagged ``parameters``.
    timeout : int, default 900
        Seconds one cell may run.
    html : bool, default True
        Also export HTML.
    on_cell : callable, optional
        Called after each code cell ran as ``on_cell(index, source, started, finished)``
        (the cell's index in the notebook, its code, and ``time.monotonic()`` at its start
        and end): ``modkit demo`` prints the slow ones, and the first start tells how
        long the kernel took to come up.

    Returns
    -------
    dict
        ``{"ipynb": Path, "html": Path}`` (``html`` only if exported).

    Raises
    ------
    NotebookError
        A cell raised; the executed notebook up to the failure is still written.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: notebook not found")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise InputError(f"{path}: not a readable notebook ({exc})") from None
    inject_parameters(nb, parameters or {})
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        # the kernel listens on loopback only; keep its "TCP without encryption" notice quiet
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        resources={"metadata": {"path": str(path.parent.resolve())}},
        **_cell_hooks(on_cell),
    )
    written: dict[str, Path] = {"ipynb": out / path.name}
    failure: str | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        failure = _first_line_of_error(str(exc))
    finally:
        nbformat.write(nb, written["ipynb"])
    if html:
        written["html"] = _export_html(nb, out / f"{path.stem}.html")
    if failure is not None:
        raise NotebookError(f"{path}: a cell failed: {failure} (see {written['ipynb']})")
    return written


def _cell_hooks(on_cell: Callable[[int, str, float, float], None] | None) -> dict[str, Any]:
    """nbclient's ``on_cell_start`` / ``on_cell_executed`` hooks timing each code cell."""
    if on_cell is None:
        return {}
    started: dict[int, float] = {}

    def start(cell: Any, cell_index: int, **_: Any) -> None:
        started[cell_index] = time.monotonic()

    def executed(cell: Any, cell_index: int, **_: Any) -> None:
        now = time.monotonic()
        on_cell(cell_index, str(cell.source), started.get(cell_index, now), now)

    return {"on_cell_start": start, "on_cell_executed": executed}


def static_widgets(nb: Any) -> Any:
    """A copy of an executed notebook for a static page: widgets replaced by a note.

    An offline page cannot load the widget manager's JavaScript, so a widget output would
    be blank while its saved state (megabytes for the explorers) rides along unused. A
    progress bar (``tqdm.auto``) is rendered from its saved state as text (its final
    description, bar and counts); any other widget view is replaced by a short note
    naming the widget. The notebook's widget state is dropped. The notebook itself is
    not changed.

    Parameters
    ----------
    nb : nbformat.NotebookNode

    Returns
    -------
    nbformat.NotebookNode
        The copy.
    """
    import copy

    out = copy.deepcopy(nb)
    saved = out.metadata.pop("widgets", None) or {}
    state = saved.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in out.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data or _WIDGET_VIEW not in data:
                continue
            plain = str(data.get("text/plain", "")).strip()
            model_id = (data[_WIDGET_VIEW] or {}).get("model_id")
            bar = _progress_text(state, model_id)
            if bar is not None:  # a progress bar: its final text is its static view
                output["data"] = {"text/html": f"<pre>{html.escape(bar)}</pre>", "text/plain": bar}
                continue
            cls = re.match(r"([A-Za-z_]\w*)\(", plain)  # the Python class, e.g. TemplateExplorer
            model = state.get(model_id, {}).get("model_name", "").removesuffix("Model")
            name = (cls.group(1) if cls else model) or "widget"
            note = _WIDGET_NOTE.format(name=html.escape(name))
            output["data"] = {"text/html": note, "text/plain": f"[{name}: interactive widget]"}
    return out


def _progress_text(state: Mapping[str, Any], model_id: str | None) -> str | None:
    """The text of a saved progress bar (a box holding a progress model), else None."""
    model = state.get(model_id or "", {})
    kids = [
        state.get(str(ref).removeprefix("IPY_MODEL_"), {})
        for ref in model.get("state", {}).get("children", [])
    ]
    if not any(k.get("model_name", "").endswith("ProgressModel") for k in kids):
        return None
    parts = []
    for kid in kids:
        st = kid.get("state", {})
        if kid.get("model_name", "").endswith("ProgressModel"):
            done, total = st.get("value", 0), st.get("max", 0) or 1
            filled = round(10 * min(max(done / total, 0.0), 1.0))
            parts.append("|" + "#" * filled + " " * (10 - filled) + "|")
        else:
            text = re.sub(r"<[^>]+>", "", html.unescape(str(st.get("value", ""))))
            parts.append(re.sub(r"\s+", " ", text))  # tqdm pads with figure spaces
    return " ".join(p.strip() for p in parts if p.strip())


def _export_html(nb: Any, target: Path) -> Path:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", **_OFFLINE_HTML_URLS)
    body, _ = exporter.from_notebook_node(static_widgets(nb))
    with atomic_path(target) as tmp:
        tmp.write_text(strip_remote_scripts(body), encoding="utf-8")
    return target


_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc=\"(?:(?:https?:)?//[^\"]*)?\"[^>]*>\s*</script>", re.IGNORECASE
)


def strip_remote_scripts(html: str) -> str:
    """Remove ``<script src=...>`` tags that load from the network (or from nowhere)."""
    return _REMOTE_SCRIPT.sub("", html)


def _first_line_of_error(text: str) -> str:
    clean = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [ln for ln in clean.splitlines() if ln.strip()]
    errs = [ln for ln in lines if re.match(r"^\w*(Error|Exception)\b", ln)]
    return (errs[-1] if errs else lines[-1] if lines else "unknown error").strip()
