"""Moderation backends: the interface, the registry by name, and the built-in backends.

* :class:`Backend` / :class:`SyncBackend` (``_base.py``): what a backend implements;
* :func:`make_backend` (``_registry.py``): backends by name with typed options;
* ``_http.py``: retry-after, rate-limit headers and HTTP status -> modkit error, shared
  by HTTP backends;
* :class:`OpenAIBackend` (``_openai.py``), :class:`ReplayBackend` (``_replay.py``) and
  :class:`LocalBackend` (``local/``, with the local scorer's training code);
* :func:`resolve_snapshot` (``_snapshot.py``): which snapshot an alias answers with now;
* other providers, keeping their native categories and scales: :class:`GuardBackend`
  (``_guard.py``: Llama Guard, ShieldGemma, Granite Guardian on OpenAI-compatible chat
  endpoints, scored by logprobs), :class:`AzureContentSafetyBackend` (``_azure.py``),
  :class:`PerspectiveBackend` (``_perspective.py``), :class:`MistralBackend`
  (``_mistral.py``); ``_provider_http.py`` holds what they share.

Backends never import the analysis layer (cross-tabs, bias, thresholds, plots) or the CLI.
"""

from ._azure import AzureContentSafetyBackend
from ._base import Backend, BatchOutcome, SyncBackend, refusal, refuse_parts
from ._guard import GuardBackend
from ._mistral import MistralBackend
from ._openai import OpenAIBackend
from ._perspective import PerspectiveBackend
from ._registry import BACKEND_NAMES, BackendSpec, backend_spec, make_backend, register_backend
from ._replay import ReplayBackend
from ._snapshot import PROBE_TEXT, is_alias, resolve_snapshot
from .local import LocalBackend

__all__ = [
    "BACKEND_NAMES",
    "PROBE_TEXT",
    "AzureContentSafetyBackend",
    "Backend",
    "BackendSpec",
    "BatchOutcome",
    "GuardBackend",
    "LocalBackend",
    "MistralBackend",
    "OpenAIBackend",
    "PerspectiveBackend",
    "ReplayBackend",
    "SyncBackend",
    "backend_spec",
    "is_alias",
    "make_backend",
    "refusal",
    "refuse_parts",
    "register_backend",
    "resolve_snapshot",
]
