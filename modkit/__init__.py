"""modkit: a threshold exploration kit for content-moderation endpoints."""

from ._backend import Backend, BatchOutcome, SyncBackend
from ._backends import make_backend
from ._cache import Cache
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
from ._io import read_table, write_table
from ._openai import OpenAIBackend
from ._replay import ReplayBackend
from ._result import ItemError, ModerationResult
from ._runner import amoderate, category_columns, moderate
from ._taxonomy import CATEGORIES, LEGACY_CATEGORIES, OPENAI_1680_CODES
from .datasets import DatasetInfo, dataset_info, dataset_path, list_datasets, load_dataset
from .templates import TemplateError, count_prompts, expand, load_templates

__version__ = "0.1.0"

__all__ = [
    "CATEGORIES",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "AuthenticationError",
    "Backend",
    "BackendError",
    "BatchOutcome",
    "BatchRejectedError",
    "Cache",
    "DatasetError",
    "DatasetInfo",
    "InputError",
    "ItemError",
    "ItemErrorsRaised",
    "ModerationResult",
    "ModkitError",
    "OpenAIBackend",
    "QuotaExceededError",
    "ReplayBackend",
    "SyncBackend",
    "TemplateError",
    "TransientBackendError",
    "__version__",
    "amoderate",
    "category_columns",
    "count_prompts",
    "dataset_info",
    "dataset_path",
    "expand",
    "list_datasets",
    "load_dataset",
    "load_templates",
    "make_backend",
    "moderate",
    "read_table",
    "write_table",
]
