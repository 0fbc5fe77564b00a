"""Calibrate on your own traffic: which rows to label, and what the labels say.

Contract with the review tools (branch h21-review): unchanged from the issue.

- :func:`draw` returns one row per item to label: ``id``, the input columns, the score
  columns, ``stratum``, ``inclusion_probability`` and ``decision/<category>``.
- A labelled sample is that frame plus ``label_<category>`` columns (1 / 0 / blank).
- :func:`estimate` returns an :class:`AuditEstimate` (``.frame``, ``.labels_needed``).
- ``modkit audit draw`` and ``modkit audit estimate`` on the command line.

Additions (compatible): :func:`draw` takes ``metrics``, ``labelled`` (the adaptive
method's earlier sample), ``prior`` and ``min_per_stratum``; :func:`estimate` takes
``profile`` and ``min_labels``; ``fit_thresholds(sample, objective=..., confidence=...,
design=sample)`` certifies for the traffic from a labelled sample (its ``label_<category>``
columns are the labels).

Examples
--------
>>> from modkit import audit
>>> sample = audit.draw("traffic.csv", "thresholds.json", 400, seed=0)  # doctest: +SKIP
>>> sample.to_csv("to_label.csv", index=False)  # doctest: +SKIP
>>> est = audit.estimate("labelled.csv", "thresholds.json")  # doctest: +SKIP
>>> est.labels_needed(0.1)  # doctest: +SKIP
"""

from ._draw import DRAW_METHODS, METRICS, allocate, draw, load_traffic, strata
from ._estimate import AUDIT_METRICS, INTERVAL_METHOD, AuditEstimate, estimate

__all__ = [
    "AUDIT_METRICS",
    "DRAW_METHODS",
    "INTERVAL_METHOD",
    "METRICS",
    "AuditEstimate",
    "allocate",
    "draw",
    "estimate",
    "load_traffic",
    "strata",
]
