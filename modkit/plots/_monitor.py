"""The offline HTML view of a :class:`modkit.MonitorReport` (``modkit monitor --html``)."""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

import pandas as pd

from .._monitor import MonitorReport
from .._validation import validate_params
from ._figures import load_plotly

__all__ = ["monitor_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:1.5em;color:#222}h2{margin-top:2em;border-bottom:1px solid #ddd}
.meta,.note{color:#555}.fail{color:#b00020;font-weight:600}.ok{color:#1b5e20;font-weight:600}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:right;white-space:nowrap}th{background:#f4f4f4}td:first-child{text-align:left}
"""


def _fig(fig: Any) -> str:
    return str(
        load_plotly().io.to_html(
            fig,
            include_plotlyjs=False,
            include_mathjax=False,
            full_html=False,
            default_width="100%",
            config={"responsive": True, "displaylogo": False},
        )
    )


def _band(
    fig: Any, x: list[Any], frame: pd.DataFrame, col: str, stem: str, name: str, color: str
) -> None:
    """A line of ``frame[col]`` with its interval ``<stem>_lo`` .. ``<stem>_hi`` shaded."""
    go = load_plotly().graph_objects
    y, lo, hi = frame[col], frame[f"{stem}_lo"], frame[f"{stem}_hi"]
    fig.add_trace(go.Scatter(x=x, y=list(y), mode="lines+markers", name=name, line_color=color))
    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=list(hi) + list(lo)[::-1],
            fill="toself",
            fillcolor=color,
            opacity=0.15,
            line={"width": 0},
            name=f"{name} interval",
            showlegend=False,
            hoverinfo="skip",
        )
    )


def _category_section(go: Any, report: MonitorReport, cat: str, rates: pd.DataFrame) -> list[str]:
    """One category's section: its rates per period, its PSI, and the table of both."""
    parts: list[str] = []
    meta = report.meta
    parts.append(f"<h2>{html.escape(str(cat))}</h2>")
    rx = [t.isoformat() for t in rates["period"]]
    fig = go.Figure()
    _band(fig, rx, rates, "flag_rate", "flag", "flag", "#c62828")
    _band(fig, rx, rates, "review_rate", "review", "review", "#ef6c00")
    fig.add_trace(
        go.Scatter(
            x=rx,
            y=list(rates["baseline_flag_rate"]),
            name="baseline flag rate",
            line={"dash": "dash", "color": "#555"},
        )
    )
    fig.update_layout(title=f"{cat}: rates per period", yaxis_title="share", height=340)
    parts.append(_fig(fig))
    drift = report.drift[report.drift["category"] == cat]
    fig = go.Figure(go.Bar(x=rx, y=list(drift["psi"]), name="PSI", marker_color="#6a1b9a"))
    limit = meta.get("limits", {}).get("max_psi")
    if limit is not None:
        fig.add_hline(y=limit, line_dash="dot", annotation_text=f"max PSI {limit:g}")
    fig.update_layout(title=f"{cat}: PSI against the baseline", height=300)
    parts.append(_fig(fig))
    table = pd.merge(rates, drift, on=["period", "category", "n"], how="left")
    parts.append(table.assign(period=rx).round(5).to_html(index=False, na_rep="–", border=0))
    return parts


@validate_params({"report": [MonitorReport], "title": [None, str]})
def monitor_html(report: MonitorReport, *, title: str | None = None) -> str:
    """One self-contained HTML page of a monitoring report (plotly embedded, no CDN).

    Parameters
    ----------
    report : MonitorReport
        From :func:`modkit.monitor`.
    title : str, optional
        The page title (default ``"modkit monitor"``).

    Returns
    -------
    str
        The page: the limits crossed, then per category the flag and review rates over
        the periods with their Clopper-Pearson intervals and the baseline flag rate, the
        PSI per period, and the shadow comparison (would-block against did-block).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    ImportError
        plotly is not installed (``pip install 'modkit[notebook]'``).

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> from modkit.plots import monitor_html
    >>> log = pd.DataFrame({
    ...     "time": pd.to_datetime(["2026-12-01T10:00Z", "2026-12-02T10:00Z"] * 20),
    ...     "violence": [0.1, 0.8] * 20, "decision": ["allow", "block"] * 20,
    ...     "decision/violence": ["allow", "block"] * 20})
    >>> page = monitor_html(modkit.monitor(log))
    >>> page.startswith("<!DOCTYPE html>"), '<script src="http' in page
    (True, False)
    """
    plotly = load_plotly()
    go = plotly.graph_objects
    title = title or "modkit monitor"
    meta = report.meta
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{meta.get("records")} records, {len(report.overall)} '
        f"{html.escape(str(meta.get('period')))} period(s); baseline "
        f"{html.escape(str(meta.get('baseline')))}; intervals: Clopper-Pearson at "
        f"{meta.get('level')}; drift: PSI (baseline quantile bins) and two-sample KS; "
        f"generated {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')}.</p>",
    ]
    if report.breaches:
        parts.append(f'<p class="fail">{len(report.breaches)} limit(s) crossed:</p><ul>')
        parts += [f"<li>{html.escape(b['message'])}</li>" for b in report.breaches]
        parts.append("</ul>")
    else:
        parts.append('<p class="ok">No limit crossed.</p>')
    o = report.overall
    x = [t.isoformat() for t in o["period"]]
    parts.append("<h2>Would block (logged file) and did block (enforced)</h2>")
    fig = go.Figure()
    _band(fig, x, o, "would_block", "would_block", "would block", "#c62828")
    if o["did_block"].notna().any():
        _band(fig, x, o, "did_block", "did_block", "did block", "#1565c0")
    fig.add_trace(go.Scatter(x=x, y=list(o["review_rate"]), name="review", line_color="#ef6c00"))
    fig.update_layout(yaxis_title="share of inputs", height=360)
    parts.append(_fig(fig))
    shown = o.assign(period=x).round(5)
    parts.append(shown.to_html(index=False, na_rep="–", border=0))
    for cat, rates in report.rates.groupby("category", sort=False):
        parts += _category_section(go, report, str(cat), rates)
    parts.append("</body></html>")
    return "\n".join(parts)
