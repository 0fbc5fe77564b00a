"""Per-category thresholds: fitting against labels, the versioned file, decisions.

Decision rule: flag when ``score >= threshold`` (scikit-learn's convention). A category
at or above ``block`` blocks; at or above ``review`` (and below ``block``) goes to a
person; ``None`` thresholds never fire.

Examples
--------
>>> import modkit
>>> ts = modkit.fit_thresholds(results, labels, "precision>=0.9",  # doctest: +SKIP
...                            review="recall>=0.95", daily_volume=50_000)
>>> print(ts.report())  # doctest: +SKIP
>>> ts.save("thresholds.json")  # doctest: +SKIP
>>> ts = modkit.load_thresholds("thresholds.json", profile="input")  # doctest: +SKIP
>>> ts.decide({"violence": 0.93, "hate": 0.01}).action  # doctest: +SKIP
'block'
>>> decisions = ts.apply(results)  # action, blocked_categories, ...  # doctest: +SKIP
"""

from ._export import EXPORT_FORMATS, env_name, export_thresholds
from ._fit import fit_thresholds
from ._labels import labels_sha256
from ._metrics import binary_curve, select_threshold
from ._objectives import OBJECTIVE_GRAMMAR, Objective, parse_objective
from ._schema import (
    DECISION_RULE,
    SCHEMA_ID,
    SCHEMA_VERSION,
    ThresholdFileError,
    threshold_file_schema,
    validate_threshold_file,
)
from ._serve import threshold_postprocess
from ._set import (
    ACTIONS,
    PROFILES,
    CategoryThreshold,
    Decision,
    ThresholdFile,
    ThresholdSet,
    load_threshold_file,
    load_thresholds,
)

__all__ = [
    "ACTIONS",
    "DECISION_RULE",
    "EXPORT_FORMATS",
    "OBJECTIVE_GRAMMAR",
    "PROFILES",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "CategoryThreshold",
    "Decision",
    "Objective",
    "ThresholdFile",
    "ThresholdFileError",
    "ThresholdSet",
    "binary_curve",
    "env_name",
    "export_thresholds",
    "fit_thresholds",
    "labels_sha256",
    "load_threshold_file",
    "load_thresholds",
    "parse_objective",
    "select_threshold",
    "threshold_file_schema",
    "threshold_postprocess",
    "validate_threshold_file",
]
