"""Per-category thresholds: fitting against labels, the versioned file, decisions.

Decision rule: flag when ``score >= threshold`` (scikit-learn's convention). A category
at or above ``block`` blocks; at or above ``review`` (and below ``block``) goes to a
person. A category without a threshold is decided by the file's ``unthresholded``
policy: by default the backend's own flag (review when there is none); ``never_flag``
is an explicit opt-out.

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

from ._coerce import as_threshold_set
from ._export import (
    EXPORT_FORMATS,
    ExportFormat,
    env_name,
    export_format,
    export_formats,
    export_thresholds,
    register_export_format,
)
from ._fit import FitWarning, fit_thresholds, strictest_certified
from ._labels import labels_sha256
from ._metrics import METHODS, binary_curve, min_trials, select_threshold
from ._objectives import (
    OBJECTIVE_GRAMMAR,
    OBJECTIVE_KINDS,
    Constraint,
    Objective,
    ObjectiveKind,
    constrained_kind,
    parse_objective,
    register_objective,
)
from ._rates import Counts, rates
from ._report import report, summary
from ._schema import (
    DECISION_RULE,
    SCHEMA_ID,
    SCHEMA_VERSION,
    SUPPORTED_VERSIONS,
    UNTHRESHOLDED,
    UNTHRESHOLDED_DEFAULT,
    ThresholdFileError,
    threshold_file_schema,
    validate_threshold_file,
)
from ._serve import threshold_postprocess
from ._set import (
    ACTIONS,
    PROFILES,
    RULES,
    CategoryThreshold,
    Decision,
    ThresholdFile,
    ThresholdPolicyWarning,
    ThresholdSet,
    load_threshold_file,
    load_thresholds,
)

__all__ = [
    "ACTIONS",
    "DECISION_RULE",
    "EXPORT_FORMATS",
    "METHODS",
    "OBJECTIVE_GRAMMAR",
    "OBJECTIVE_KINDS",
    "PROFILES",
    "RULES",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "SUPPORTED_VERSIONS",
    "UNTHRESHOLDED",
    "UNTHRESHOLDED_DEFAULT",
    "CategoryThreshold",
    "Constraint",
    "Counts",
    "Decision",
    "ExportFormat",
    "FitWarning",
    "Objective",
    "ObjectiveKind",
    "ThresholdFile",
    "ThresholdFileError",
    "ThresholdPolicyWarning",
    "ThresholdSet",
    "as_threshold_set",
    "binary_curve",
    "constrained_kind",
    "env_name",
    "export_format",
    "export_formats",
    "export_thresholds",
    "fit_thresholds",
    "labels_sha256",
    "load_threshold_file",
    "load_thresholds",
    "min_trials",
    "parse_objective",
    "rates",
    "register_export_format",
    "register_objective",
    "report",
    "select_threshold",
    "strictest_certified",
    "summary",
    "threshold_file_schema",
    "threshold_postprocess",
    "validate_threshold_file",
]
