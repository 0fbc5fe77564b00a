"""An offline plotly renderer for notebooks and their exported HTML."""

from __future__ import annotations

from typing import Any

from ._figures import load_plotly

__all__ = ["OFFLINE_RENDERER", "use_offline_renderer"]

#: The name under which :func:`use_offline_renderer` registers its HTML renderer.
OFFLINE_RENDERER = "modkit_offline"


def _renderer_class() -> Any:
    load_plotly()
    from plotly.io import to_html
    from plotly.io._base_renderers import HtmlRenderer

    class OfflineHtmlRenderer(HtmlRenderer):
        """Like plotly's ``notebook`` renderer, but with no CDN reference at all.

        plotly.js is embedded once, when the renderer is activated; each figure is a
        ``<div>`` with an inline script, and MathJax is not loaded.
        """

        def __init__(self) -> None:
            super().__init__(connected=False, full_html=False, global_init=True)

        def to_mimebundle(self, fig_dict: Any) -> dict[str, str]:
            html = to_html(
                fig_dict,
                config=self.config,
                include_plotlyjs=False,
                include_mathjax=False,
                full_html=False,
                default_width="100%",
                default_height=525,
                validate=False,
            )
            return {"text/html": html}

    return OfflineHtmlRenderer


def use_offline_renderer() -> str:
    """Make plotly figures render with no network, in JupyterLab and exported HTML.

    Sets ``plotly.io.renderers.default`` to ``"plotly_mimetype+modkit_offline"``:
    JupyterLab draws the plotly mime bundle with its bundled extension, and the
    ``text/html`` fallback (what ``jupyter nbconvert --to html`` keeps) uses a copy of
    plotly.js embedded once in the output of the cell that calls this function. No
    ``<script src=...>`` points to a CDN. Call it once, near the top of a notebook.

    Returns
    -------
    str
        The renderer string now in force.

    Examples
    --------
    >>> import plotly.io as pio
    >>> from modkit.plots import use_offline_renderer
    >>> before = pio.renderers.default
    >>> use_offline_renderer()
    'plotly_mimetype+modkit_offline'
    >>> pio.renderers.default = before  # this example leaves the process as it was
    """
    pio = load_plotly().io
    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = _renderer_class()()
    name = f"plotly_mimetype+{OFFLINE_RENDERER}"
    pio.renderers.default = name
    return name
