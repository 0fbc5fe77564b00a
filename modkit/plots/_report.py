"""One self-contained, offline HTML report of a results frame (``modkit report``)."""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._bias import bias_metrics, counterfactual_gap
from .._crosstab import crosstab
from .._errors import InputError
from .._frame import check_columns, check_frame, scored_rows
from .._taxonomy import CATEGORIES
from .._validation import PROB, SequenceOf, validate_params
from ..thresholds import ThresholdSet
from ._figures import (
    DEFAULT_HEIGHT,
    SCORE_FMT,
    bias_chart,
    counterfactual_gap_chart,
    heatmap,
    load_plotly,
)

__all__ = ["html_report"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:1.5em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd}
h3{margin-top:1.5em}.meta{color:#555}.note{color:#555;font-size:.92em;max-width:60em}
table.tbl{border-collapse:collapse;font-size:.85em;margin:.6em 0}
table.tbl th,table.tbl td{border:1px solid #ddd;padding:3px 7px;text-align:right;
white-space:nowrap}.tblwrap{overflow-x:auto;max-width:100%}
table.tbl th{background:#f4f4f4}table.tbl td:first-child,table.tbl th:first-child{text-align:left}
nav a{margin-right:1em}
#prompts td.txt,#prompts th:nth-child(2){white-space:normal;text-align:left;min-width:24em;
max-width:48em}
#prompt-search{width:min(40em,100%);padding:4px 6px;font-size:1em}
#prompt-dialog{max-width:min(60em,95vw);max-height:85vh;overflow:auto}
#prompt-dialog pre{white-space:pre-wrap;word-break:break-word;font-size:.85em}
"""

#: Rows the prompt table holds at most (the page stays a few MB).
MAX_PROMPTS = 5000

#: The prompt table's script: filter rows by a search box, open a row's JSON in a dialog.
_PROMPT_JS = """
(function(){
var data=JSON.parse(document.getElementById("prompt-data").textContent);
var box=document.getElementById("prompt-search"),count=document.getElementById("prompt-count");
var rows=document.querySelectorAll("#prompts tbody tr");
var dlg=document.getElementById("prompt-dialog"),pre=document.getElementById("prompt-json");
box.addEventListener("input",function(){
 var q=box.value.toLowerCase(),n=0;
 rows.forEach(function(tr){var hit=!q||tr.textContent.toLowerCase().indexOf(q)>=0;
  tr.style.display=hit?"":"none";if(hit){n++;}});
 count.textContent=n+" of "+rows.length+" prompts";
});
document.getElementById("prompts").addEventListener("click",function(ev){
 var b=ev.target.closest("button[data-row]");if(!b){return;}
 pre.textContent=JSON.stringify(data[+b.dataset.row],null,2);
 document.getElementById("prompt-title").textContent="prompt "+b.dataset.row;dlg.showModal();
});
document.getElementById("prompt-close").addEventListener("click",function(){dlg.close();});
})();
"""


def _row_objects(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Each row as a JSON-able dict, ``result_json`` decoded into ``result``."""
    rows = json.loads(frame.to_json(orient="records", default_handler=str, double_precision=15))
    for row in rows:
        raw = row.pop("result_json", None)
        if isinstance(raw, str):
            try:
                row["result"] = json.loads(raw)
            except json.JSONDecodeError:
                row["result"] = raw
    return rows


def _prompt_section(frame: pd.DataFrame, slots: list[str], categories: list[str]) -> str:
    """A searchable table of every prompt; a row's button opens its full JSON."""
    shown = frame.head(MAX_PROMPTS)
    text_col = "text" if "text" in shown.columns else None
    extra = [c for c in (*slots, "template_id") if c in shown.columns and c != text_col]
    cats = [c for c in categories if c in shown.columns]
    scores = shown[cats].apply(pd.to_numeric, errors="coerce") if cats else None
    head = ["#", "text", *extra, "top category", "top score", "flagged", "error", ""]
    out = [
        '<h2 id="prompts-section">Prompts</h2>',
        '<p class="note">Every prompt with its slot values and highest-scoring shown '
        "category; type to filter (any cell), and open a prompt's full JSON (its row and "
        "the endpoint's whole result) with its button.</p>",
        '<input id="prompt-search" type="search" placeholder="filter prompts" '
        'aria-label="filter prompts"> <span id="prompt-count" class="note">'
        f"{len(shown)} of {len(shown)} prompts</span>",
        '<div class="tblwrap"><table class="tbl" id="prompts"><thead><tr>'
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>",
    ]
    for i, (idx, row) in enumerate(shown.iterrows()):
        top_cat, top = "–", "–"
        if scores is not None and scores.loc[idx].notna().any():
            top_cat = str(scores.loc[idx].idxmax())
            top = _fmt(float(scores.loc[idx].max()))
        flagged = row.get("flagged", "")
        cells = [
            str(i),
            f'<td class="txt">{_fmt(row[text_col]) if text_col else "–"}</td>',
            *(f"<td>{_fmt(row[c])}</td>" for c in extra),
            f"<td>{html.escape(top_cat)}</td><td>{top}</td>",
            f"<td>{_fmt(flagged) if flagged is not None else '–'}</td>",
            f"<td>{_fmt(row.get('error', '') or '')}</td>",
            f'<td><button type="button" data-row="{i}">JSON</button></td>',
        ]
        out.append(f"<tr><td>{cells[0]}</td>{''.join(cells[1:])}</tr>")
    out.append("</tbody></table></div>")
    if len(frame) > MAX_PROMPTS:
        out.append(f'<p class="note">{len(frame) - MAX_PROMPTS} more prompts not shown.</p>')
    data = json.dumps(_row_objects(shown), ensure_ascii=False).replace("</", "<\\/")
    out += [
        '<dialog id="prompt-dialog"><p><b id="prompt-title"></b> '
        '<button type="button" id="prompt-close">close</button></p>'
        '<pre id="prompt-json"></pre></dialog>',
        f'<script type="application/json" id="prompt-data">{data}</script>',
        f"<script>{_PROMPT_JS}</script>",
    ]
    return "\n".join(out)


def _fmt(x: Any) -> str:
    if isinstance(x, float | np.floating):
        return "–" if np.isnan(x) else f"{x:{SCORE_FMT}}"
    return html.escape(str(x))


#: Readable names of bias_metrics' ``attrs["overall"]`` entries, in the order shown.
_OVERALL_LABELS = {
    "n": "rows",
    "n_pos": "positives",
    "auc": "AUC",
    "auc_ci": "AUC interval",
    "fpr": "FPR",
    "fnr": "FNR",
    "fped": "FPED",
    "fned": "FNED",
    "power_means": "power means",
    "final_metric": "final metric",
    "final_metric_ci": "final metric interval",
    "n_excluded": "rows excluded",
}
_POWER_LABELS = {"subgroup_auc": "subgroup AUC", "bpsn_auc": "BPSN AUC", "bnsp_auc": "BNSP AUC"}


def _overall_text(overall: dict[str, Any]) -> str:
    """The whole-set bias numbers as one escaped line: readable names, 3 decimals."""
    parts = []
    for key, label in _OVERALL_LABELS.items():
        value = overall.get(key)
        if value is None or (key == "n_excluded" and not value):
            continue
        if isinstance(value, dict):
            inner = ", ".join(f"{_POWER_LABELS.get(k, k)} {_fmt(v)}" for k, v in value.items())
            text = f"{label} ({inner})"
        elif isinstance(value, list | tuple):
            text = f"{label} [{', '.join(_fmt(float(v)) for v in value)}]"
        else:
            text = f"{html.escape(label)} {_fmt(value)}"
        parts.append(text)
    if overall.get("bootstrap"):
        level = float(overall.get("ci_level", 0.9))
        parts.append(f"intervals at {level:.0%} from {int(overall['bootstrap'])} resamples")
    if overall.get("note"):
        parts.append(html.escape(str(overall["note"])))
    return ", ".join(parts)


def _table(frame: pd.DataFrame, *, index: bool = True, max_rows: int = 60) -> str:
    shown = frame.head(max_rows).map(lambda v: np.nan if v is None else v)
    body = shown.to_html(
        classes="tbl",
        index=index,
        na_rep="–",
        float_format=lambda v: f"{v:{SCORE_FMT}}",
        escape=True,
        border=0,
    )
    more = (
        f'<p class="note">{len(frame) - max_rows} more rows not shown.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f'<div class="tblwrap">{body}</div>{more}'


def _figure(fig: Any) -> str:
    pio = load_plotly().io
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_width="100%",
        default_height=f"{fig.layout.height or DEFAULT_HEIGHT}px",
        config={"responsive": True, "displaylogo": False},
    )


def _threshold_histogram(results: pd.DataFrame, ts: ThresholdSet, category: str) -> Any:
    go = load_plotly().graph_objects
    scores = pd.to_numeric(results[category], errors="coerce").dropna()
    fig = go.Figure(
        go.Histogram(
            x=scores.tolist(),
            xbins={"start": 0.0, "end": 1.0, "size": 0.02},
            name=category,
            marker_color="#4c78a8",
            hovertemplate="score %{x}<br>%{y} texts<extra></extra>",
        )
    )
    ct = ts[category]
    for name, value, dash in (("review", ct.review, "dot"), ("block", ct.block, "dash")):
        if value is not None:
            fig.add_vline(
                x=float(value),
                line_dash=dash,
                annotation_text=f"{name} {float(value):{SCORE_FMT}}",
                annotation_position="top left" if name == "review" else "top right",
            )
    fig.update_layout(
        title={"text": f"{category}: scores and the file's thresholds ({len(scores)} texts)"},
        xaxis={"title": {"text": f"{category} score"}, "range": [0, 1]},
        yaxis={"title": {"text": "texts"}, "type": "log"},
        height=360,
        showlegend=False,
        bargap=0.05,
    )
    return fig


@validate_params(
    {
        "results": [pd.DataFrame],
        "by": [str, SequenceOf(str)],
        "labels": [None, pd.DataFrame],
        "label_column": [str],
        "thresholds": [None, ThresholdSet],
        "categories": [None, SequenceOf(str)],
        "bias_categories": [None, SequenceOf(str)],
        "bias_threshold": [None, PROB],
        "stat": [str],
        "title": [None, str],
        "source": [None, str],
    }
)
def html_report(
    results: pd.DataFrame,
    by: str | Sequence[str],
    *,
    labels: pd.DataFrame | None = None,
    label_column: str = "label",
    thresholds: ThresholdSet | None = None,
    categories: Sequence[str] | None = None,
    bias_categories: Sequence[str] | None = None,
    bias_threshold: float | None = None,
    stat: str = "p95",
    title: str | None = None,
    source: str | None = None,
) -> str:
    """A self-contained HTML report: cross-tabs, gaps, bias metrics, thresholds, prompts.

    Everything a notebook would show for one results frame, on one page that opens
    offline: plotly.js is embedded once (no CDN, no network), tables are plain HTML.

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame (:func:`modkit.moderate`), e.g. of expanded templates.
    by : str or list of str
        Slot column(s): one section each with a cross-tab heatmap (``stat`` per value
        and category), the counterfactual gaps per template (``template_id``; without
        it all rows are one template) and, with labels, per-value bias metrics. Rows
        without a value for the slot (templates that lack it) are left out of its
        section, which says how many.
    labels : pandas.DataFrame, optional
        Aligned with ``results`` by index: a ``label_column`` (0/1: is the text
        harmful?) for the bias metrics, and/or 0/1/NaN columns named by category keys.
    label_column : str, default "label"
        The label for bias metrics, looked up in ``labels`` then ``results``.
    thresholds : ThresholdSet, optional
        Adds the file's table, the flag rate at its block thresholds per slot value,
        and a histogram of each category's scores with its review/block lines.
    categories : list of str, optional
        Category keys shown (default: those of ``thresholds``, else every category
        column of ``results``).
    bias_categories : list of str, optional
        Categories whose score is the classifier for the bias metrics (default:
        ``hate`` if present, else the first shown category).
    bias_threshold : float, optional
        "Flag when score >= threshold" for FPR/FNR (default: the file's block threshold
        of the category, else 0.5).
    stat : str, default "p95"
        The cross-tab statistic of the heatmaps.
    title, source : str, optional
        The page title, and what the scores were read from.

    Returns
    -------
    str
        A complete HTML document. Its last section lists the prompts (the first
        :data:`MAX_PROMPTS` rows) in a table a search box filters; each row's button
        opens the row's full JSON (every column, ``result_json`` decoded as
        ``result``), embedded in the page (a small inline script, no network). Wide
        tables scroll sideways.

    Raises
    ------
    InputError
        A slot, category or label column is missing, or ``labels`` is not aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.plots import html_report
    >>> results = pd.DataFrame(
    ...     {"group": ["women", "women", "men", "men"], "violence": [0.9, 0.6, 0.8, 0.1]}
    ... )
    >>> page = html_report(results, "group", title="violence by group")
    >>> page.startswith("<!DOCTYPE html>"), '<script src="http' in page  # offline: no CDN
    (True, False)
    """
    frame = check_frame(results)
    slots = [by] if isinstance(by, str) else list(by)
    check_columns(frame, slots, "by")
    if categories is None:
        pool = list(thresholds.categories) if thresholds is not None else list(CATEGORIES)
        categories = [c for c in pool if c in frame.columns]
    else:
        check_columns(frame, list(categories), "categories")
    categories = list(categories)
    if not categories:
        raise InputError("the results have no category score columns to report")
    if labels is not None and not labels.index.equals(frame.index):
        raise InputError("labels must be aligned with the results (same index)")
    label = None
    if labels is not None and label_column in labels.columns:
        label = labels[label_column]
    elif label_column in frame.columns:
        label = frame[label_column]
    if bias_categories is None:
        bias_categories = ["hate"] if "hate" in categories else categories[:1]
    scored, n_excluded = scored_rows(frame)
    plotlyjs = load_plotly().offline.get_plotlyjs()
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    models = (
        ", ".join(sorted(map(str, frame["model"].dropna().unique())))
        if "model" in frame.columns
        else "not recorded"
    )
    title = title or f"modkit report: {', '.join(slots)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        f'<script type="text/javascript">{plotlyjs}</script>',
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{len(frame)} rows ({n_excluded} not scored, left out)'
        f"{' from ' + html.escape(source) if source else ''}; model {html.escape(models)}; "
        f"categories {html.escape(', '.join(categories))}; generated {now}. "
        "Scores: flag when score &gt;= threshold. Offline: no script is loaded from the "
        "network.</p>",
        "<nav>"
        + "".join(f'<a href="#slot-{i}">{html.escape(s)}</a>' for i, s in enumerate(slots))
        + ('<a href="#thresholds">thresholds</a>' if thresholds is not None else "")
        + '<a href="#prompts-section">prompts</a>'
        + "</nav>",
    ]
    for i, slot in enumerate(slots):
        parts.append(f'<h2 id="slot-{i}">By {html.escape(slot)}</h2>')
        parts.append(f"<h3>Cross-tab: {html.escape(stat)} score by {html.escape(slot)}</h3>")
        table = crosstab(scored, slot, stat, categories=categories)
        lacking = int(table.attrs.get("n_missing_by", 0))
        if lacking:
            parts.append(
                f'<p class="note">{lacking} scored rows have no {html.escape(slot)} value '
                "(their templates lack the slot): left out of this section, as "
                "<code>groupby(dropna=True)</code> does.</p>"
            )
        parts.append(_figure(heatmap(table, title=f"{stat} score by {slot}")))
        stats = crosstab(scored, slot, ["mean", "p95", "max", "count"], categories=categories)
        parts.append(_table(stats))
        if thresholds is not None:
            blocks = {c: thresholds[c].block for c in categories if c in thresholds.categories}
            block = {c: float(t) for c, t in blocks.items() if t is not None}
            if block:
                rates = crosstab(scored, slot, "flag_rate", thresholds=block)
                parts.append(f"<h3>Block rate at the file's thresholds by {html.escape(slot)}</h3>")
                parts.append(_figure(heatmap(rates, title=f"block rate by {slot}")))
        parts.append(f"<h3>Counterfactual gaps over {html.escape(slot)}</h3>")
        gap_by = "template_id" if "template_id" in frame.columns else None
        try:
            gap = counterfactual_gap(scored, slot, by=gap_by, categories=categories)
        except InputError as exc:
            parts.append(f'<p class="note">No gaps: {html.escape(str(exc))}</p>')
        else:
            parts.append(
                '<p class="note">Per template and category: the mean score of each value of '
                "the slot; the gap is the highest minus the lowest.</p>"
            )
            parts.append(_figure(counterfactual_gap_chart(gap, top=20)))
            parts.append(_table(gap.reset_index(drop=True), index=False, max_rows=30))
        if label is None:
            parts.append(
                f'<p class="note">No bias metrics: no {html.escape(label_column)!s} column '
                "(pass labels).</p>"
            )
            continue
        with_label = frame.assign(**{"__label__": label})
        for cat in bias_categories:
            thr = bias_threshold
            if thr is None:
                has = thresholds is not None and cat in thresholds.categories
                blk = thresholds[cat].block if has else None  # type: ignore[index]
                thr = float(blk) if blk is not None else 0.5
            parts.append(
                f"<h3>Bias metrics: {html.escape(cat)} by {html.escape(slot)} "
                f"(threshold {thr:{SCORE_FMT}})</h3>"
            )
            try:
                bias = bias_metrics(with_label, slot, "__label__", cat, threshold=thr)
            except InputError as exc:
                parts.append(f'<p class="note">{html.escape(str(exc))}</p>')
                continue
            bias = bias.sort_values("fpr", ascending=False, na_position="last", kind="stable")
            overall = _overall_text(bias.attrs.get("overall", {}))
            parts.append(
                '<p class="note">Subgroup / BPSN / BNSP AUC (Borkan et al. 2019); FPR and FNR at '
                "the threshold and their difference from the whole set (Dixon et al. 2018). "
                f"Overall: {overall}. Columns ending _lo/_hi are interval bounds where "
                "computed.</p>"
            )
            parts.append(_table(bias.reset_index(drop=True), index=False))
            parts.append(_figure(bias_chart(bias, metrics=("fpr", "fnr"))))
            parts.append(_figure(bias_chart(bias)))
    if thresholds is not None:
        parts.append('<h2 id="thresholds">Thresholds</h2>')
        summary = thresholds.summary()
        wanted = ("review", "block", "objective", "status", "n_pos", "n_neg", "oof_precision")
        keep = [c for c in (*wanted, "oof_recall", "oof_fpr") if c in summary.columns]
        parts.append(_table(summary[keep]))
        for cat in categories:
            if cat in thresholds.categories:
                parts.append(_figure(_threshold_histogram(scored, thresholds, cat)))
    parts.append(_prompt_section(frame, slots, categories))
    parts.append("</body></html>")
    return "\n".join(parts)
