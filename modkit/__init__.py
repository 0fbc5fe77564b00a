"""modkit: a threshold exploration kit for content-moderation endpoints.

Public API policy
-----------------
* **The top level holds the pipeline**: the verbs a user runs in order (``expand``,
  ``moderate`` / ``amoderate``, ``crosstab``, ``bias_metrics``, ``fit_thresholds``,
  ``check_thresholds``, ``monitor``, ``make_backend``, ...), the objects they take and
  return (``ThresholdSet``, ``ThresholdFile``, ``Objective``, ``Cache``, reports) and
  every modkit exception.
* **Families live in their submodule**: backend classes and their registry in
  :mod:`modkit.backends`, provider taxonomies, scales and the crosswalk in
  :mod:`modkit.providers`, image-input helpers in :mod:`modkit.images`, threshold
  internals in :mod:`modkit.thresholds`, test servers in :mod:`modkit.testing` (and
  ``datasets``, ``templates``, ``plots``, ``widgets``, ``server``, ``review``,
  ``audit``, ``ray``).
* A name is public when it is in the ``__all__`` of ``modkit`` or of a public
  submodule; ``tests/project/test_public_api.py`` compares them with a committed list, so
  adding, moving or removing one is a deliberate edit of that list.
* A moved or renamed name keeps working for two minor versions with a
  ``FutureWarning`` naming its new spelling and the removal version
  (``modkit/_deprecation.py``); the changelog lists each move.
"""

from . import backends as backends
from . import images as images
from . import providers as providers
from ._batch import BatchAPI
from ._bias import bias_metrics, counterfactual_gap
from ._cache import Cache
from ._compare import agreement, compare_providers, provider_decisions, provider_gaps
from ._conversation import CONVERSATION_STRATEGIES, check_conversation
from ._crosstab import Statistic, crosstab, register_statistic
from ._decision_log import DecisionLog, read_decision_log
from ._deprecation import moved_names
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
from ._io import find_file, read_table, write_table
from ._labels import LABEL_PREFIX, label_column, label_values, labels_beside_texts, parse_labels
from ._migrate import Migration, default_mapping, fit_migration
from ._monitor import MonitorReport, monitor
from ._result import ItemError, ModerationResult
from ._runner import amoderate, moderate
from ._taxonomy import CATEGORIES, LEGACY_CATEGORIES, OPENAI_1680_CODES
from ._version import __version__
from .backends import make_backend
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
    "LABEL_PREFIX",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "AuthenticationError",
    "BackendError",
    "BatchAPI",
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
    "InputError",
    "ItemError",
    "ItemErrorsRaised",
    "Migration",
    "ModerationResult",
    "ModkitError",
    "MonitorReport",
    "Objective",
    "QuotaExceededError",
    "ServiceEndWarning",
    "Statistic",
    "TemplateError",
    "ThresholdFile",
    "ThresholdFileError",
    "ThresholdSet",
    "TransientBackendError",
    "__version__",
    "agreement",
    "amoderate",
    "bias_metrics",
    "category_columns",
    "check_conversation",
    "check_thresholds",
    "compare_providers",
    "count_prompts",
    "counterfactual_gap",
    "crosstab",
    "dataset_info",
    "dataset_path",
    "decision_drift",
    "default_mapping",
    "expand",
    "find_file",
    "fit_migration",
    "fit_thresholds",
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
    "parse_labels",
    "parse_objective",
    "provider_decisions",
    "provider_gaps",
    "read_decision_log",
    "read_table",
    "register_statistic",
    "validate_threshold_file",
    "write_table",
]

#: Names that moved out of the top level (old name -> its module now), served with a
#: FutureWarning until modkit 0.3.0.
MOVED = {
    "AzureContentSafetyBackend": "modkit.backends",
    "Backend": "modkit.backends",
    "BatchOutcome": "modkit.backends",
    "GraniteGuardian33Backend": "modkit.backends",
    "GuardBackend": "modkit.backends",
    "LocalBackend": "modkit.backends",
    "MistralBackend": "modkit.backends",
    "NemotronSafetyGuardBackend": "modkit.backends",
    "OpenAIBackend": "modkit.backends",
    "PerspectiveBackend": "modkit.backends",
    "PolicyBackend": "modkit.backends",
    "Qwen3GuardBackend": "modkit.backends",
    "ReplayBackend": "modkit.backends",
    "SyncBackend": "modkit.backends",
    "PROVIDERS": "modkit.providers",
    "ProviderTaxonomy": "modkit.providers",
    "Scale": "modkit.providers",
    "crosswalk": "modkit.providers",
    "detect_provider": "modkit.providers",
    "provider_scale": "modkit.providers",
    "IMAGE_CATEGORIES": "modkit.images",
    "applied_input_types": "modkit.images",
    "image_part": "modkit.images",
    "images_in_folder": "modkit.images",
    "multimodal_input": "modkit.images",
    "with_images": "modkit.images",
}
__getattr__ = moved_names("modkit", MOVED, removal="0.3.0")
