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
  (``_mistral.py``), :class:`PolicyBackend` (``_policy.py``: policy-prompt models such as
  gpt-oss-safeguard), :class:`Qwen3GuardBackend` (``_qwen3guard.py``: three tiers),
  :class:`GraniteGuardian33Backend` (``_granite33.py``: Granite Guardian 3.3's think /
  score answers), :class:`NemotronSafetyGuardBackend` (``_nemotron.py``: Nemotron Safety
  Guard's JSON ratings from a user-supplied prompt template);
  ``_provider_http.py`` holds what they share, ``_verdict.py`` reads a label token's
  probability.

Backends never import the analysis layer (cross-tabs, bias, thresholds, plots) or the CLI.
"""

from ._azure import AzureContentSafetyBackend
from ._base import Backend, BatchOutcome, SyncBackend, refusal, refuse_parts
from ._granite33 import GraniteGuardian33Backend, parse_granite_score
from ._guard import GuardBackend
from ._mistral import (
    MISTRAL_DEFAULT_MODEL,
    MISTRAL_MODELS,
    MistralBackend,
    MistralModel,
    deprecated_model_message,
)
from ._nemotron import (
    NEMOTRON_SAFETY_CATEGORIES,
    NemotronSafetyAnswer,
    NemotronSafetyGuardBackend,
    parse_nemotron_safety,
    read_prompt_template,
)
from ._openai import OpenAIBackend
from ._perspective import PERSPECTIVE_END_DATE, PerspectiveBackend, perspective_end_message
from ._policy import PolicyBackend, PolicyVerdict, parse_policy_answer, read_policies
from ._qwen3guard import (
    QWEN3GUARD_CATEGORIES,
    QWEN3GUARD_TIERS,
    Qwen3GuardAnswer,
    Qwen3GuardBackend,
    parse_qwen3guard,
)
from ._registry import (
    BACKEND_NAMES,
    BackendSpec,
    backend_names,
    backend_spec,
    backend_specs,
    make_backend,
    register_backend,
)
from ._replay import ReplayBackend
from ._snapshot import PROBE_TEXT, is_alias, resolve_snapshot
from .local import LocalBackend

__all__ = [
    "BACKEND_NAMES",
    "MISTRAL_DEFAULT_MODEL",
    "MISTRAL_MODELS",
    "NEMOTRON_SAFETY_CATEGORIES",
    "PERSPECTIVE_END_DATE",
    "PROBE_TEXT",
    "QWEN3GUARD_CATEGORIES",
    "QWEN3GUARD_TIERS",
    "AzureContentSafetyBackend",
    "Backend",
    "BackendSpec",
    "BatchOutcome",
    "GraniteGuardian33Backend",
    "GuardBackend",
    "LocalBackend",
    "MistralBackend",
    "MistralModel",
    "NemotronSafetyAnswer",
    "NemotronSafetyGuardBackend",
    "OpenAIBackend",
    "PerspectiveBackend",
    "PolicyBackend",
    "PolicyVerdict",
    "Qwen3GuardAnswer",
    "Qwen3GuardBackend",
    "ReplayBackend",
    "SyncBackend",
    "backend_names",
    "backend_spec",
    "backend_specs",
    "deprecated_model_message",
    "is_alias",
    "make_backend",
    "parse_granite_score",
    "parse_nemotron_safety",
    "parse_policy_answer",
    "parse_qwen3guard",
    "perspective_end_message",
    "read_policies",
    "read_prompt_template",
    "refusal",
    "refuse_parts",
    "register_backend",
    "resolve_snapshot",
]
