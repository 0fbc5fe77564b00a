"""modkit: a threshold exploration kit for content-moderation endpoints."""

from ._batch import BatchAPI
from ._bias import bias_metrics, counterfactual_gap
from ._cache import Cache
from ._compare import agreement, compare_providers, provider_decisions, provider_gaps
from ._conversation import CONVERSATION_STRATEGIES, check_conversation
from ._crosstab import Statistic, crosstab, register_statistic
from ._decision_log import DecisionLog, read_decision_log
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
    ServiceEndWarning,
    TransientBackendError,
)
from ._frame import category_columns
from ._gate import CheckResult, GateReport, check_thresholds
from ._images import (
    IMAGE_CATEGORIES,
    applied_input_types,
    image_part,
    images_in_folder,
    multimodal_input,
    with_images,
)
from ._io import find_file, read_table, write_table
from ._labels import LABEL_PREFIX, label_column, label_values, labels_beside_texts, parse_labels
from ._migrate import Migration, default_mapping, fit_migration
from ._monitor import MonitorReport, monitor
from ._native import PROVIDERS, ProviderTaxonomy, Scale, crosswalk, detect_provider, provider_scale
from ._result import ItemError, ModerationResult
from ._runner import amoderate, moderate
from ._taxonomy import CATEGORIES, LEGACY_CATEGORIES, OPENAI_1680_CODES
from ._version import __version__
from .backends import (
    AzureContentSafetyBackend,
    Backend,
    BatchOutcome,
    GraniteGuardian33Backend,
    GuardBackend,
    LocalBackend,
    MistralBackend,
    OpenAIBackend,
    PerspectiveBackend,
    PolicyBackend,
    Qwen3GuardBackend,
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
    "CONVERSATION_STRATEGIES",
    "IMAGE_CATEGORIES",
    "LABEL_PREFIX",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "PROVIDERS",
    "AuthenticationError",
    "AzureContentSafetyBackend",
    "Backend",
    "BackendError",
    "BatchAPI",
    "BatchOutcome",
    "BatchRejectedError",
    "Cache",
    "CategoryThreshold",
    "CheckResult",
    "DatasetError",
    "DatasetInfo",
    "Decision",
    "DecisionLog",
    "DriftReport",
    "GateReport",
    "GraniteGuardian33Backend",
    "GuardBackend",
    "InputError",
    "ItemError",
    "ItemErrorsRaised",
    "LocalBackend",
    "Migration",
    "MistralBackend",
    "ModerationResult",
    "ModkitError",
    "MonitorReport",
    "Objective",
    "OpenAIBackend",
    "PerspectiveBackend",
    "PolicyBackend",
    "ProviderTaxonomy",
    "QuotaExceededError",
    "Qwen3GuardBackend",
    "ReplayBackend",
    "Scale",
    "ServiceEndWarning",
    "Statistic",
    "SyncBackend",
    "TemplateError",
    "ThresholdFile",
    "ThresholdFileError",
    "ThresholdSet",
    "TransientBackendError",
    "__version__",
    "agreement",
    "amoderate",
    "applied_input_types",
    "bias_metrics",
    "category_columns",
    "check_conversation",
    "check_thresholds",
    "compare_providers",
    "count_prompts",
    "counterfactual_gap",
    "crosstab",
    "crosswalk",
    "dataset_info",
    "dataset_path",
    "decision_drift",
    "default_mapping",
    "detect_provider",
    "expand",
    "find_file",
    "fit_migration",
    "fit_thresholds",
    "image_part",
    "images_in_folder",
    "label_column",
    "label_values",
    "labels_beside_texts",
    "list_datasets",
    "load_dataset",
    "load_templates",
    "load_threshold_file",
    "load_thresholds",
    "make_backend",
    "moderate",
    "monitor",
    "multimodal_input",
    "parse_labels",
    "parse_objective",
    "provider_decisions",
    "provider_gaps",
    "provider_scale",
    "read_decision_log",
    "read_table",
    "register_statistic",
    "validate_threshold_file",
    "with_images",
    "write_table",
]
