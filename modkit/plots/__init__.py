"""Plotly figures of cross-tabs, scores and bias metrics.

Every function returns a :class:`plotly.graph_objects.Figure` and never shows it.
plotly is an optional dependency (``pip install 'modkit[notebook]'``); it is imported
when a function is called.
"""

from ._figures import bias_chart, counterfactual_gap_chart, heatmap, score_strip
from ._monitor import monitor_html
from ._render import OFFLINE_RENDERER, use_offline_renderer
from ._report import html_report
from ._thresholds import pr_curve, roc_curve, score_distribution

__all__ = [
    "OFFLINE_RENDERER",
    "bias_chart",
    "counterfactual_gap_chart",
    "heatmap",
    "html_report",
    "monitor_html",
    "pr_curve",
    "roc_curve",
    "score_distribution",
    "score_strip",
    "use_offline_renderer",
]
