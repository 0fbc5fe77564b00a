"""Reviewing an audit sample: a durable verdict store, agreement, and interchange.

:class:`ReviewStore` keeps every reviewer's verdict on an audit sample
(:func:`modkit.audit.draw`'s frame) in an append-only SQLite file and gives back the
labelled sample (``label_<category>`` columns) that :func:`modkit.audit.estimate` and
:func:`modkit.fit_thresholds` read. :func:`export_sample` writes the sample for Label
Studio, Argilla or a spreadsheet; :func:`read_verdicts` (and
:meth:`ReviewStore.import_verdicts`) reads the reviewers' verdicts back, validated.
The labelling widget is :class:`modkit.widgets.ReviewQueue`.
"""

from ._agreement import agreement_table, krippendorff_alpha
from ._interchange import (
    CHOICES,
    EXPORT_FORMATS,
    export_sample,
    label_studio_config,
    question_name,
    read_verdicts,
)
from ._labels import LABEL_PREFIX, label_value, sample_categories
from ._store import RESOLUTIONS, ReviewStore

__all__ = [
    "CHOICES",
    "EXPORT_FORMATS",
    "LABEL_PREFIX",
    "RESOLUTIONS",
    "ReviewStore",
    "agreement_table",
    "export_sample",
    "krippendorff_alpha",
    "label_studio_config",
    "label_value",
    "question_name",
    "read_verdicts",
    "sample_categories",
]
