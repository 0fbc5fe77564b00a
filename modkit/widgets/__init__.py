"""Interactive notebook views (ipywidgets).

Needs the ``notebook`` extra: ``pip install 'modkit[notebook]'`` (ipywidgets and
plotly; ``anywidget`` makes the heatmap clickable).
"""

try:
    import ipywidgets as _ipywidgets  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "modkit.widgets needs ipywidgets: pip install 'modkit[notebook]' (or pip install "
        "ipywidgets plotly)"
    ) from _exc

from ._explorer import TemplateExplorer
from ._review import ReviewQueue
from ._threshold_slider import ThresholdExplorer

__all__ = ["ReviewQueue", "TemplateExplorer", "ThresholdExplorer"]
