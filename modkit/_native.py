"""Providers' own categories and scales, and the crosswalk onto the 13 API keys.

Every backend keeps its provider's category names and values (Azure's ``SelfHarm``
severity 0-7, Perspective's ``TOXICITY`` probability, Llama Guard's ``S11``). This module
says, per provider, which categories exist, on what scale their values are, and how
each of the 13 OpenAI API keys relates to them:

* ``exact``: a native category covers the same harm as the API key (the scale may differ);
* ``partial``: a native category overlaps the key (broader, narrower, or differently cut);
* ``absent``: nothing of the provider's measures the key.

The crosswalk is a reading of each provider's published category definitions (the
sources are listed in :data:`PROVIDERS`); it is a starting point for threshold work,
never a substitute for checking decisions on your own data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import InputError
from ._taxonomy import CATEGORIES
from ._validation import KeysOf, SequenceOf, validate_params

__all__ = [
    "PROVIDERS",
    "ProviderTaxonomy",
    "Scale",
    "crosswalk",
    "detect_provider",
    "is_known_category",
    "native_categories",
    "provider_scale",
    "register_provider",
    "result_keys",
]

ScaleKind = Literal["score", "probability", "ordinal"]


@dataclass(frozen=True)
class Scale:
    """The scale of a category's values.

    Attributes
    ----------
    kind : {"score", "probability", "ordinal"}
        ``"score"``: a number in [low, high] that orders texts but is not a probability
        (OpenAI's ``category_scores``); ``"probability"``: a probability in [0, 1];
        ``"ordinal"``: one of :attr:`levels` (Azure's severities).
    levels : tuple of float, optional
        The values an ordinal scale takes, ascending.
    low, high : float
        The range of the values (for an ordinal scale, its first and last level).

    Raises
    ------
    InputError
        For an unknown ``kind``, or an ordinal scale whose levels are missing, repeated
        or not ascending.

    Examples
    --------
    >>> from modkit.providers import Scale
    >>> severity = Scale("ordinal", (0, 2, 4, 6))
    >>> severity.low, severity.high
    (0.0, 6.0)
    >>> severity.check_threshold(4)
    4.0
    >>> severity.check_threshold(3)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: threshold: 3 is not a level of the scale (0.0, 2.0, 4.0, 6.0)
    """

    kind: ScaleKind = "score"
    levels: tuple[float, ...] | None = None
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("score", "probability", "ordinal"):
            raise InputError(f"scale kind must be score, probability or ordinal: {self.kind!r}")
        if self.kind == "ordinal":
            if not self.levels:
                raise InputError("an ordinal scale needs its levels")
            levels = tuple(float(v) for v in self.levels)
            if list(levels) != sorted(set(levels)):
                raise InputError(f"ordinal levels must be distinct and ascending: {levels}")
            object.__setattr__(self, "levels", levels)
            object.__setattr__(self, "low", levels[0])
            object.__setattr__(self, "high", levels[-1])

    def check_threshold(self, value: float, where: str = "threshold") -> float:
        """Return ``value`` if it is a valid threshold on this scale, else raise.

        On an ordinal scale a threshold must be one of the levels; otherwise it must lie
        in [low, high].

        Parameters
        ----------
        value : float
            The threshold, in the scale's units.
        where : str, default "threshold"
            What the error message calls the value (e.g. ``"threshold of 'Hate'"``).

        Returns
        -------
        float
            ``value`` as a float.

        Raises
        ------
        InputError
            Naming ``where``, the value and the scale.
        """
        v = float(value)
        if self.kind == "ordinal":
            if v not in (self.levels or ()):
                raise InputError(f"{where}: {value!r} is not a level of the scale {self.levels}")
            return v
        if not self.low <= v <= self.high:
            raise InputError(f"{where}: {value!r} is outside [{self.low:g}, {self.high:g}]")
        return v

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the scale.

        Returns
        -------
        dict
            ``{"kind": ..., "low": ..., "high": ...}``, with ``"levels": [...]`` for an
            ordinal scale.
        """
        out: dict[str, Any] = {"kind": self.kind, "low": self.low, "high": self.high}
        if self.levels is not None:
            out["levels"] = list(self.levels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "scale") -> Scale:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            ``{"kind": ..., "low": ..., "high": ..., "levels": [...]}``; ``low`` /
            ``high`` default to 0 and 1, ``levels`` to none.
        where : str, default "scale"
            What the error message calls ``data`` (e.g. a field of a threshold file).

        Returns
        -------
        Scale

        Raises
        ------
        InputError
            Naming ``where``, when ``data`` is not a mapping with a ``kind``, or (raised
            by :class:`Scale`) its kind or levels are invalid.
        """
        if not isinstance(data, Mapping) or "kind" not in data:
            raise InputError(f"{where}: expected an object with a 'kind'")
        levels = data.get("levels")
        return cls(
            kind=data["kind"],
            levels=tuple(levels) if levels is not None else None,
            low=float(data.get("low", 0.0)),
            high=float(data.get("high", 1.0)),
        )


SCORE = Scale("score")
PROBABILITY = Scale("probability")
AZURE_FOUR = Scale("ordinal", (0, 2, 4, 6))
AZURE_EIGHT = Scale("ordinal", tuple(range(8)))

Relation = Literal["exact", "partial", "absent"]


@dataclass(frozen=True)
class ProviderTaxonomy:
    """One provider's categories, their scale, and the crosswalk to the API keys.

    Attributes
    ----------
    name : str
        The backend name (``"azure"``, ``"perspective"``, ``"mistral"``, ...).
    categories : dict of str to str
        Native category name -> its short definition.
    scale : Scale
        The scale of every category's value.
    crosswalk : dict of str to tuple of (str, str)
        API key -> ``(native category, "exact" | "partial")`` pairs; a key not listed
        is ``absent``.
    sources : tuple of str
        Where the categories and definitions come from.
    model_scales : tuple of (str, Scale)
        ``(marker, scale)`` pairs: a recorded ``model`` containing ``marker`` has that
        scale instead of :attr:`scale` (Azure's ``...:FourSeverityLevels``).
    extra_keys : tuple of str
        Other score keys the provider's results hold besides its categories (Azure's
        ``blocklistsMatch``).

    Examples
    --------
    >>> import modkit
    >>> azure = modkit.providers.PROVIDERS["azure"]
    >>> list(azure.categories), azure.scale.kind
    (['Hate', 'SelfHarm', 'Sexual', 'Violence'], 'ordinal')
    """

    name: str
    categories: dict[str, str]
    scale: Scale
    crosswalk: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    model_scales: tuple[tuple[str, Scale], ...] = ()
    extra_keys: tuple[str, ...] = ()

    def scale_for(self, model: str | None = None) -> Scale:
        """The scale of the values a backend recorded under ``model``.

        Parameters
        ----------
        model : str, optional
            The recorded ``model``; the first of :attr:`model_scales` whose marker it
            contains wins, else :attr:`scale`.

        Returns
        -------
        Scale
        """
        for marker, scale in self.model_scales:
            if model and marker in model:
                return scale
        return self.scale


def _x(spec: str) -> tuple[tuple[str, str], ...]:
    """``"Hate=partial;Violence=partial"`` -> ``(("Hate", "partial"), ...)``."""
    return tuple(tuple(p.split("=")) for p in spec.split(";") if p)  # type: ignore[misc]


_LLAMA_GUARD_CODES = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}

PROVIDERS: dict[str, ProviderTaxonomy] = {
    "openai": ProviderTaxonomy(
        "openai",
        {c: "OpenAI moderation category" for c in CATEGORIES},
        SCORE,
        {c: ((c, "exact"),) for c in CATEGORIES},
        ("https://platform.openai.com/docs/guides/moderation",),
    ),
    "azure": ProviderTaxonomy(
        "azure",
        {
            "Hate": "attacks or discriminatory language about a person or identity group",
            "SelfHarm": "actions meant to hurt, injure or kill oneself",
            "Sexual": "anatomy, romantic or sexual acts, including abuse",
            "Violence": "physical actions meant to hurt or kill, weapons",
        },
        AZURE_EIGHT,
        {
            "harassment": _x("Hate=partial"),
            "harassment/threatening": _x("Violence=partial"),
            "hate": _x("Hate=partial"),
            "hate/threatening": _x("Hate=partial;Violence=partial"),
            "illicit/violent": _x("Violence=partial"),
            "self-harm": _x("SelfHarm=exact"),
            "self-harm/intent": _x("SelfHarm=partial"),
            "self-harm/instructions": _x("SelfHarm=partial"),
            "sexual": _x("Sexual=exact"),
            "sexual/minors": _x("Sexual=partial"),
            "violence": _x("Violence=exact"),
            "violence/graphic": _x("Violence=partial"),
        },
        (
            "https://learn.microsoft.com/azure/ai-services/content-safety/concepts/harm-categories",
            "azure-ai-contentsafety 1.0.0 (AnalyzeTextOptions, AnalyzeTextResult)",
        ),
        model_scales=(("FourSeverityLevels", AZURE_FOUR),),
        extra_keys=("blocklistsMatch",),
    ),
    "perspective": ProviderTaxonomy(
        "perspective",
        {
            "TOXICITY": "rude, disrespectful or unreasonable",
            "SEVERE_TOXICITY": "very hateful, aggressive, disrespectful",
            "IDENTITY_ATTACK": "negative or hateful about identity",
            "INSULT": "insulting, inflammatory or negative towards a person or group",
            "PROFANITY": "swear words, curse words, obscene language",
            "THREAT": "intention to inflict pain, injury or violence",
            "SEXUALLY_EXPLICIT": "sexual acts or body parts (experimental)",
            "FLIRTATION": "pickup lines, compliments on appearance (experimental)",
        },
        PROBABILITY,
        {
            "harassment": _x("INSULT=partial;TOXICITY=partial"),
            "harassment/threatening": _x("THREAT=partial"),
            "hate": _x("IDENTITY_ATTACK=partial"),
            "hate/threatening": _x("IDENTITY_ATTACK=partial;THREAT=partial"),
            "sexual": _x("SEXUALLY_EXPLICIT=partial"),
            "violence": _x("THREAT=partial"),
        },
        ("https://developers.perspectiveapi.com/s/about-the-api-attributes-and-languages",),
    ),
    "mistral": ProviderTaxonomy(
        "mistral",
        {
            "sexual": "explicitly depicts, describes or promotes sexual activity",
            "hate_and_discrimination": "prejudice or hostility on protected characteristics",
            "violence_and_threats": "describes, glorifies, incites or threatens violence",
            "dangerous_and_criminal_content": "promotes illegal or hazardous activity (2411)",
            "dangerous": "promotes extremely hazardous behaviour (2603)",
            "criminal": "promotes illegal activities (2603)",
            "selfharm": "promotes self-injury, suicide or eating disorders",
            "health": "detailed or tailored medical advice",
            "financial": "detailed or tailored financial advice",
            "law": "detailed or tailored legal advice",
            "pii": "requests or shares personal identifying information",
            "jailbreaking": "attempts to bypass a model's safeguards (2603; no API key)",
        },
        SCORE,
        {
            "harassment/threatening": _x("violence_and_threats=partial"),
            "hate": _x("hate_and_discrimination=exact"),
            "hate/threatening": _x("hate_and_discrimination=partial;violence_and_threats=partial"),
            "illicit": _x("dangerous_and_criminal_content=partial;criminal=partial"),
            "illicit/violent": _x(
                "dangerous_and_criminal_content=partial;dangerous=partial;criminal=partial"
            ),
            "self-harm": _x("selfharm=exact"),
            "self-harm/intent": _x("selfharm=partial"),
            "self-harm/instructions": _x("selfharm=partial"),
            "sexual": _x("sexual=exact"),
            "sexual/minors": _x("sexual=partial"),
            "violence": _x("violence_and_threats=partial"),
            "violence/graphic": _x("violence_and_threats=partial"),
        },
        (
            "https://docs.mistral.ai/capabilities/guardrailing/ (mistral-moderation-2411)",
            "https://docs.mistral.ai/resources/deprecated/guardrailing/mistral-moderation-2411 "
            "(2603: dangerous, criminal, jailbreaking; jailbreaking maps to no API key)",
        ),
    ),
    "llama-guard": ProviderTaxonomy(
        "llama-guard",
        {"unsafe": "the verdict 'unsafe'", **_LLAMA_GUARD_CODES},
        PROBABILITY,
        {
            "harassment/threatening": _x("S1=partial"),
            "hate": _x("S10=exact"),
            "hate/threatening": _x("S10=partial"),
            "illicit": _x("S2=partial"),
            "illicit/violent": _x("S1=partial;S9=partial"),
            "self-harm": _x("S11=exact"),
            "self-harm/intent": _x("S11=partial"),
            "self-harm/instructions": _x("S11=partial"),
            "sexual": _x("S12=partial"),
            "sexual/minors": _x("S4=exact"),
            "violence": _x("S1=partial"),
        },
        (
            "https://huggingface.co/meta-llama/Llama-Guard-3-8B (model card, MLCommons hazards)",
            "https://huggingface.co/meta-llama/Llama-Guard-4-12B (model card)",
        ),
    ),
    "shieldgemma": ProviderTaxonomy(
        "shieldgemma",
        {
            "Dangerous Content": "harming oneself and/or others",
            "Harassment": "malicious, intimidating, bullying or abusive content",
            "Hate Speech": "targets identity or protected attributes",
            "Sexually Explicit Information": "sexual acts or lewd content",
        },
        PROBABILITY,
        {
            "harassment": _x("Harassment=exact"),
            "harassment/threatening": _x("Harassment=partial"),
            "hate": _x("Hate Speech=exact"),
            "hate/threatening": _x("Hate Speech=partial"),
            "illicit": _x("Dangerous Content=partial"),
            "illicit/violent": _x("Dangerous Content=partial"),
            "self-harm": _x("Dangerous Content=partial"),
            "self-harm/intent": _x("Dangerous Content=partial"),
            "self-harm/instructions": _x("Dangerous Content=partial"),
            "sexual": _x("Sexually Explicit Information=exact"),
            "sexual/minors": _x("Sexually Explicit Information=partial"),
            "violence": _x("Dangerous Content=partial;Harassment=partial"),
        },
        ("https://huggingface.co/google/shieldgemma-2b (model card, harm types)",),
    ),
    "shieldgemma-2": ProviderTaxonomy(
        "shieldgemma-2",
        {
            "Sexually Explicit": "images of explicit or graphic sexual acts",
            "Dangerous Content": "images that facilitate real-world harm",
            "Violence/Gore": "images of shocking or gratuitous violence, gore",
        },
        PROBABILITY,
        {
            "illicit/violent": _x("Dangerous Content=partial"),
            "self-harm/instructions": _x("Dangerous Content=partial"),
            "sexual": _x("Sexually Explicit=partial"),
            "violence": _x("Violence/Gore=partial"),
            "violence/graphic": _x("Violence/Gore=exact"),
        },
        ("https://huggingface.co/google/shieldgemma-2-4b-it (model card, image policies)",),
    ),
    "granite-guardian": ProviderTaxonomy(
        "granite-guardian",
        {
            "harm": "umbrella: content generally considered harmful",
            "social_bias": "prejudice based on identity or characteristics",
            "jailbreak": "manipulating an AI into generating harmful content",
            "violence": "promoting physical, mental or sexual harm",
            "profanity": "offensive language or insults",
            "sexual_content": "sexual nature",
            "unethical_behavior": "actions that violate moral or legal standards",
        },
        PROBABILITY,
        {
            "harassment": _x("harm=partial;profanity=partial"),
            "harassment/threatening": _x("violence=partial"),
            "hate": _x("social_bias=partial"),
            "hate/threatening": _x("social_bias=partial;violence=partial"),
            "illicit": _x("unethical_behavior=partial"),
            "illicit/violent": _x("violence=partial"),
            "self-harm": _x("harm=partial"),
            "self-harm/intent": _x("harm=partial"),
            "self-harm/instructions": _x("harm=partial"),
            "sexual": _x("sexual_content=exact"),
            "sexual/minors": _x("sexual_content=partial"),
            "violence": _x("violence=exact"),
            "violence/graphic": _x("violence=partial"),
        },
        ("https://huggingface.co/ibm-granite/granite-guardian-3.1-2b (model card, risks)",),
    ),
    "qwen3guard": ProviderTaxonomy(
        "qwen3guard",
        {
            "Safe": "the tier 'Safe' (probability)",
            "Controversial": "the tier 'Controversial' (probability)",
            "Unsafe": "the tier 'Unsafe' (probability; the loose reading's score)",
            "unsafe_strict": "Unsafe + Controversial (the strict reading's score)",
            "Violent": "violence, weapons, threats",
            "Non-violent Illegal Acts": "hacking, drugs, theft and other non-violent crime",
            "Sexual Content or Sexual Acts": "sexual content",
            "PII": "personal identifying information",
            "Suicide & Self-Harm": "suicide and self-harm",
            "Unethical Acts": "bias, discrimination, hate, harassment and other unethical acts",
            "Politically Sensitive Topics": "politically sensitive topics (no API key)",
            "Copyright Violation": "copyright violation (no API key)",
            "Jailbreak": "attempts to override the system prompt (prompts only; no API key)",
        },
        PROBABILITY,
        {
            "harassment": _x("Unethical Acts=partial"),
            "harassment/threatening": _x("Violent=partial;Unethical Acts=partial"),
            "hate": _x("Unethical Acts=partial"),
            "hate/threatening": _x("Unethical Acts=partial;Violent=partial"),
            "illicit": _x("Non-violent Illegal Acts=partial"),
            "illicit/violent": _x("Violent=partial"),
            "self-harm": _x("Suicide & Self-Harm=exact"),
            "self-harm/intent": _x("Suicide & Self-Harm=partial"),
            "self-harm/instructions": _x("Suicide & Self-Harm=partial"),
            "sexual": _x("Sexual Content or Sexual Acts=exact"),
            "sexual/minors": _x("Sexual Content or Sexual Acts=partial"),
            "violence": _x("Violent=partial"),
            "violence/graphic": _x("Violent=partial"),
        },
        ("https://huggingface.co/Qwen/Qwen3Guard-Gen-4B (model card: tiers and categories)",),
    ),
    "nemotron-safety-guard": ProviderTaxonomy(
        "nemotron-safety-guard",
        {
            "unsafe": "the safety rating 'unsafe' (probability)",
            "Violence": "violence",
            "Sexual": "sexual content",
            "Criminal Planning/Confessions": "planning or confessing crimes",
            "Guns and Illegal Weapons": "guns and illegal weapons",
            "Controlled/Regulated Substances": "drugs and other regulated substances",
            "Suicide and Self Harm": "suicide and self-harm",
            "Sexual (minor)": "sexual content involving minors",
            "Hate/Identity Hate": "hate against identity groups",
            "PII/Privacy": "personal information and privacy (no API key)",
            "Harassment": "harassment",
            "Threat": "threats",
            "Profanity": "profanity",
            "Needs Caution": "borderline content (no API key)",
            "Other": "other unsafe content (no API key)",
            "Manipulation": "manipulation (no API key)",
            "Fraud/Deception": "fraud and deception",
            "Malware": "malware",
            "High Risk Gov Decision Making": "high-risk government decisions (no API key)",
            "Political/Misinformation/Conspiracy": "political misinformation (no API key)",
            "Copyright/Trademark/Plagiarism": "intellectual property (no API key)",
            "Unauthorized Advice": "unqualified professional advice (no API key)",
            "Illegal Activity": "other illegal activity",
            "Immoral/Unethical": "immoral or unethical content (no API key)",
        },
        PROBABILITY,
        {
            "harassment": _x("Harassment=exact;Profanity=partial"),
            "harassment/threatening": _x("Threat=partial;Harassment=partial"),
            "hate": _x("Hate/Identity Hate=exact"),
            "hate/threatening": _x("Hate/Identity Hate=partial;Threat=partial"),
            "illicit": _x(
                "Criminal Planning/Confessions=partial;Controlled/Regulated Substances=partial;"
                "Fraud/Deception=partial;Malware=partial;Illegal Activity=partial"
            ),
            "illicit/violent": _x("Guns and Illegal Weapons=partial;Violence=partial"),
            "self-harm": _x("Suicide and Self Harm=exact"),
            "self-harm/intent": _x("Suicide and Self Harm=partial"),
            "self-harm/instructions": _x("Suicide and Self Harm=partial"),
            "sexual": _x("Sexual=exact"),
            "sexual/minors": _x("Sexual (minor)=exact"),
            "violence": _x("Violence=exact"),
            "violence/graphic": _x("Violence=partial"),
        },
        (
            "https://huggingface.co/nvidia/Llama-3.1-Nemotron-Safety-Guard-8B-v3 (model card: "
            "output keys and the Aegis 2.0 categories)",
        ),
    ),
}


@validate_params({"taxonomy": [ProviderTaxonomy]})
def register_provider(taxonomy: ProviderTaxonomy) -> None:
    """Add a provider's taxonomy to :data:`PROVIDERS` (replacing one of the same name).

    A backend registered with :func:`modkit.backends.register_backend` whose spec
    carries a ``taxonomy`` is registered here too, so its categories, scale and
    crosswalk reach :func:`crosswalk`, :func:`provider_scale`, :func:`detect_provider`
    and native-scale threshold fitting.

    Parameters
    ----------
    taxonomy : ProviderTaxonomy
        Registered under ``taxonomy.name`` (the registry is process-wide).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    InputError
        When a crosswalk entry names an unknown API key or a category the taxonomy does
        not list, or a relation other than ``exact`` / ``partial``.

    Examples
    --------
    >>> from modkit.providers import PROVIDERS, register_provider
    >>> register_provider(PROVIDERS["perspective"])  # registering again replaces it
    >>> PROVIDERS["perspective"].scale.kind
    'probability'
    """
    for key, pairs in taxonomy.crosswalk.items():
        if key not in CATEGORIES:
            raise InputError(f"provider {taxonomy.name!r}: crosswalk key {key!r} is no API key")
        for native, relation in pairs:
            if native not in taxonomy.categories or relation not in ("exact", "partial"):
                raise InputError(
                    f"provider {taxonomy.name!r}: crosswalk[{key!r}] has ({native!r}, "
                    f"{relation!r}): expected a listed category and exact or partial"
                )
    PROVIDERS[taxonomy.name] = taxonomy


def _taxonomy(provider: str) -> ProviderTaxonomy:
    try:
        return PROVIDERS[provider]
    except KeyError:
        raise InputError(
            f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}"
        ) from None


def native_categories(provider: str) -> list[str]:
    """The provider's own category names, in its documented order.

    Raises
    ------
    InputError
        For an unknown provider.
    """
    return list(_taxonomy(provider).categories)


@validate_params({"provider": [KeysOf(PROVIDERS)], "model": [None, str]})
def provider_scale(provider: str, model: str | None = None) -> Scale:
    """The scale of a provider's category values.

    Parameters
    ----------
    provider : str
        A key of :data:`PROVIDERS`.
    model : str, optional
        The ``model`` a backend recorded. For Azure it names the output type
        (``...:FourSeverityLevels`` gives levels 0, 2, 4, 6; otherwise 0-7).

    Returns
    -------
    Scale
        ``PROVIDERS[provider].scale`` (``"probability"`` in [0, 1] for Perspective and
        the guard models, ``"score"`` in [0, 1] for OpenAI and Mistral, ``"ordinal"``
        severities for Azure), Azure's four levels for a ``FourSeverityLevels`` model.

    Raises
    ------
    InputError
        For an unknown provider.

    Examples
    --------
    >>> import modkit
    >>> scale = modkit.providers.provider_scale("azure")
    >>> scale.kind, scale.low, scale.high
    ('ordinal', 0.0, 7.0)
    """
    return _taxonomy(provider).scale_for(model)


@validate_params({"provider": [None, KeysOf(PROVIDERS), SequenceOf(KeysOf(PROVIDERS))]})
def crosswalk(provider: str | Sequence[str] | None = None) -> Any:
    """The crosswalk as a table: one row per (provider, API key).

    Parameters
    ----------
    provider : str or sequence of str, optional
        Which providers (default: all but ``openai``).

    Returns
    -------
    pandas.DataFrame, shape (n_providers * 13, 4)
        One row per provider and API key (:data:`modkit.CATEGORIES`), columns
        ``provider``, ``api_key``, ``relation`` (exact / partial / absent), ``native``
        (the native categories, joined by ``" + "``; empty when absent).

    Raises
    ------
    InputError
        For an unknown provider.

    Examples
    --------
    >>> import modkit
    >>> table = modkit.providers.crosswalk("azure")
    >>> table.loc[table["api_key"] == "hate", ["native", "relation"]].values.tolist()
    [['Hate', 'partial']]
    """
    import pandas as pd

    if provider is None:
        names = [p for p in PROVIDERS if p != "openai"]
    elif isinstance(provider, str):
        names = [provider]
    else:
        names = list(provider)
    rows = []
    for name in names:
        tax = _taxonomy(name)
        for key in CATEGORIES:
            pairs = tax.crosswalk.get(key, ())
            relation: Relation = "absent"
            if pairs:
                relation = "exact" if any(r == "exact" for _, r in pairs) else "partial"
            rows.append(
                {
                    "provider": name,
                    "api_key": key,
                    "relation": relation,
                    "native": " + ".join(n for n, _ in pairs),
                }
            )
    return pd.DataFrame(rows, columns=["provider", "api_key", "relation", "native"])


def detect_provider(columns: Iterable[str]) -> str | None:
    """The provider whose native categories a frame's columns are, if one fits.

    The provider with the most columns among its categories wins; ties are resolved in
    :data:`PROVIDERS` order (so the 13 API keys are ``openai``). None if no column is a
    known category.

    Parameters
    ----------
    columns : iterable of str
        Column names (e.g. ``frame.columns``); other columns are ignored.

    Returns
    -------
    str or None
        A key of :data:`PROVIDERS`, or None.

    Examples
    --------
    >>> import modkit
    >>> modkit.providers.detect_provider(["text", "Hate", "Violence", "SelfHarm", "Sexual"])
    'azure'
    >>> modkit.providers.detect_provider(["text", "violence", "self-harm/intent"])
    'openai'
    """
    cols = set(columns)
    best, best_n = None, 0
    for name, tax in PROVIDERS.items():
        n = len(cols.intersection(tax.categories))
        if n > best_n:
            best, best_n = name, n
    return best


def result_keys(provider: str) -> list[str]:
    """Every score key a provider's results may hold: its categories and its
    :attr:`ProviderTaxonomy.extra_keys` (Azure's ``blocklistsMatch`` column).

    Raises
    ------
    InputError
        For an unknown provider.
    """
    tax = _taxonomy(provider)
    return [*tax.categories, *tax.extra_keys]


def is_known_category(key: str) -> bool:
    """True for an API key, any provider's native category name, or another score key a
    provider's results hold (Azure's ``blocklistsMatch``)."""
    return any(key in tax.categories or key in tax.extra_keys for tax in PROVIDERS.values())
