"""modkit: a threshold exploration kit for content-moderation endpoints."""

from ._batch import BatchAPI
from ._bias import bias_metrics, counterfactual_gap
from ._cache import Cache
from ._crosstab import Statistic, crosstab, register_statistic
from ._drift import DriftReport, decision_drift
from ._errors import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    DatasetError,
    InputError,
    ItemErrorsRaised,
    ModkitError,
    QuotaExceededError,
    TransientBackendError,
)
from ._frame import category_columns
from ._io import read_table, write_table
from ._result import ItemError, ModerationResult
from ._runner import amoderate, moderate
from ._taxonomy import CATEGORIES, LEGACY_CATEGORIES, OPENAI_1680_CODES
from ._version import __version__
from .backends import (
    Backend,
    BatchOutcome,
    LocalBackend,
    OpenAIBackend,
    ReplayBackend,
    SyncBackend,
    make_backend,
)
from .datasets import DatasetInfo, dataset_info, dataset_path, list_datasets, load_dataset
from .templates import TemplateError, count_prompts, expand, load_templates
from .thresholds import (
    CategoryThreshold,
    Decision,
    Objective,
    ThresholdFile,
    ThresholdFileError,
    ThresholdSet,
    fit_thresholds,
    load_threshold_file,
    load_thresholds,
    parse_objective,
    validate_threshold_file,
)

__all__ = [
    "CATEGORIES",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "AuthenticationError",
    "Backend",
    "BackendError",
    "BatchAPI",
    "BatchOutcome",
    "BatchRejectedError",
    "Cache",
    "CategoryThreshold",
    "DatasetError",
    "DatasetInfo",
    "Decision",
    "DriftReport",
    "InputError",
    "ItemError",
    "ItemErrorsRaised",
    "LocalBackend",
    "ModerationResult",
    "ModkitError",
    "Objective",
    "OpenAIBackend",
    "QuotaExceededError",
    "ReplayBackend",
    "Statistic",
    "SyncBackend",
    "TemplateError",
    "ThresholdFile",
    "ThresholdFileError",
    "ThresholdSet",
    "TransientBackendError",
    "__version__",
    "amoderate",
    "bias_metrics",
    "category_columns",
    "count_prompts",
    "counterfactual_gap",
    "crosstab",
    "dataset_info",
    "dataset_path",
    "decision_drift",
    "expand",
    "fit_thresholds",
    "list_datasets",
    "load_dataset",
    "load_templates",
    "load_threshold_file",
    "load_thresholds",
    "make_backend",
    "moderate",
    "parse_objective",
    "read_table",
    "register_statistic",
    "validate_threshold_file",
    "write_table",
]
