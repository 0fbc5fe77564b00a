"""Qwen3Guard-Gen (three tiers: Safe, Controversial, Unsafe) on OpenAI-compatible endpoints.

Source (model card): https://huggingface.co/Qwen/Qwen3Guard-Gen-4B (the same format for
0.6B and 8B): the server's chat template writes the moderation prompt; the model answers
``Safety: Safe|Unsafe|Controversial`` then ``Categories: <name>[, <name>...]`` (``None``
when safe), and for a response also ``Refusal: Yes|No``. Category names: Violent,
Non-violent Illegal Acts, Sexual Content or Sexual Acts, PII, Suicide & Self-Harm,
Unethical Acts, Politically Sensitive Topics, Copyright Violation, Jailbreak (prompts only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import BackendError, InputError
from .._result import ItemError, ModerationResult
from ._chat import ChatModelBackend, chat_turns
from ._provider_http import check_mode
from ._verdict import label_probabilities, token_at

__all__ = [
    "QWEN3GUARD_CATEGORIES",
    "QWEN3GUARD_READINGS",
    "QWEN3GUARD_TIERS",
    "Qwen3GuardAnswer",
    "Qwen3GuardBackend",
    "parse_qwen3guard",
]

#: The three severity tiers, as the model writes them.
QWEN3GUARD_TIERS = ("Safe", "Controversial", "Unsafe")
#: The categories, as the model writes them (``Jailbreak`` for prompts only).
QWEN3GUARD_CATEGORIES = (
    "Violent",
    "Non-violent Illegal Acts",
    "Sexual Content or Sexual Acts",
    "PII",
    "Suicide & Self-Harm",
    "Unethical Acts",
    "Politically Sensitive Topics",
    "Copyright Violation",
    "Jailbreak",
)
#: strict: Controversial counts as unsafe; loose: as safe.
QWEN3GUARD_READINGS = ("strict", "loose")

_SAFETY = re.compile(r"Safety:\s*(Safe|Unsafe|Controversial)\b")
_CATEGORIES = re.compile(r"Categories:\s*([^\n]*)")
_REFUSAL = re.compile(r"Refusal:\s*(Yes|No)\b")
_NAMES = {c.lower(): c for c in QWEN3GUARD_CATEGORIES}


@dataclass(frozen=True)
class Qwen3GuardAnswer:
    """What a Qwen3Guard-Gen answer says.

    Attributes
    ----------
    tier : {"Safe", "Controversial", "Unsafe"}
        The ``Safety:`` label.
    tier_at : int
        Where the tier word starts in the answer text.
    categories : tuple of str
        The listed categories (``Categories: None`` gives none), in the order listed.
    category_at : int or None
        Where the first listed category starts in the answer text.
    refusal : bool or None
        The ``Refusal:`` label of a response moderation, if any.

    Examples
    --------
    >>> from modkit.backends import parse_qwen3guard
    >>> answer = parse_qwen3guard("Safety: Unsafe\\nCategories: Violent, PII")
    >>> answer.tier, answer.categories
    ('Unsafe', ('Violent', 'PII'))
    """

    tier: str
    tier_at: int
    categories: tuple[str, ...] = field(default=())
    category_at: int | None = None
    refusal: bool | None = None


def parse_qwen3guard(text: object) -> Qwen3GuardAnswer | None:
    """Read a Qwen3Guard-Gen answer; None when it has no ``Safety:`` label.

    Parameters
    ----------
    text : object
        The answer (``message.content``).

    Returns
    -------
    Qwen3GuardAnswer or None
        The first ``Safety: <tier>``; the known category names on the first
        ``Categories:`` line after it (unknown names are ignored, ``None`` lists
        none); the ``Refusal:`` label if present. None for anything without a tier (the
        caller reports a parse error, never a score). Never raises.

    Examples
    --------
    >>> from modkit.backends import parse_qwen3guard
    >>> parse_qwen3guard("Safety: Controversial\\nCategories: Politically Sensitive Topics").tier
    'Controversial'
    >>> parse_qwen3guard("I am not sure.") is None
    True
    """
    if not isinstance(text, str):
        return None
    m = _SAFETY.search(text)
    if m is None:
        return None
    cats: list[str] = []
    first_at: int | None = None
    c = _CATEGORIES.search(text, m.end())
    if c is not None:
        pos = c.start(1)
        for part in c.group(1).split(","):
            name = _NAMES.get(part.strip().lower())
            lead = len(part) - len(part.lstrip())
            if name is not None and name not in cats:
                if first_at is None:
                    first_at = pos + lead
                cats.append(name)
            pos += len(part) + 1
    r = _REFUSAL.search(text, m.end())
    refusal = None if r is None else r.group(1) == "Yes"
    return Qwen3GuardAnswer(m.group(1), m.start(1), tuple(cats), first_at, refusal)


def _prefix_label(names: Sequence[str]) -> Any:
    """``token -> name`` when the token (stripped, lower-cased) starts exactly one name."""
    lowered = [(n.lower(), n) for n in names]

    def label_of(token: str) -> str | None:
        word = token.strip().lower()
        if not word:
            return None
        hits = [n for low, n in lowered if low.startswith(word)]
        return hits[0] if len(hits) == 1 else None

    return label_of


_TIER_OF = _prefix_label(QWEN3GUARD_TIERS)


class Qwen3GuardBackend(ChatModelBackend):
    """Qwen3Guard-Gen behind an OpenAI-compatible ``/v1/chat/completions``, with logprobs.

    Parameters
    ----------
    model : str
        The served model (``Qwen/Qwen3Guard-Gen-0.6B``, ``-4B``, ``-8B``).
    base_url : str
        The endpoint, e.g. ``http://127.0.0.1:8000/v1`` (vLLM).
    mode : {"prompt", "response"}, default "prompt"
        Classify each text as the user's message, or as the assistant's answer (after
        ``context`` as the user's message).
    context : str, optional
        The user message before an assistant answer (``mode="response"``).
    reading : {"strict", "loose"}, default "strict"
        How ``flagged`` and the category flags read ``Controversial``: as unsafe
        (strict) or as safe (loose). Scores do not depend on it.
    top_logprobs : int, default 20
        Alternatives per position (1-20).
    api_key : str, optional
        Default ``$api_key_env``; a local endpoint may need none.
    api_key_env : str, default "OPENAI_API_KEY"
        The variable the key is read from.
    timeout : float, default 60
        Seconds per request.

    Raises
    ------
    InputError
        With no model or endpoint, an unknown mode or reading, or ``top_logprobs``
        outside [1, 20].

    Notes
    -----
    One request per text (``temperature=0``, ``logprobs=true``), the conversation
    rendered by the server's chat template (the model card's). Columns, probabilities in
    [0, 1]:

    * ``Safe``, ``Controversial``, ``Unsafe``: each tier's share at the tier token (the
      alternatives whose stripped, lower-cased text begins exactly one tier word; the
      three sum to 1).
    * ``unsafe_strict`` = ``Unsafe`` + ``Controversial`` = 1 - ``Safe``: the score of
      the strict reading; the loose reading's score is ``Unsafe`` itself.
    * one column per category: ``unsafe_strict`` x P(first listed category | not safe),
      from the alternatives at the first category's token (renormalised over those that
      begin exactly one category name; ``None`` and ambiguous prefixes are left out);
      categories listed later get at least their token's probability times
      ``unsafe_strict``. When the greedy tier is ``Safe`` no category is written and the
      category columns are 0: a lower bound, as for Llama Guard's codes.

    Three tiers map onto allow / review / block with two threshold-file categories: a
    ``review`` threshold on ``unsafe_strict`` and a ``block`` threshold on ``Unsafe``
    (an item is blocked when any category blocks, else reviewed when any reviews).

    An answer without a ``Safety:`` label is a per-row error (code ``parse_error``),
    never a score; an endpoint that returns no logprobs is an error that says so.

    Examples
    --------
    Offline, against a local fake of Qwen3Guard-Gen:

    >>> import modkit
    >>> from modkit.testing import Qwen3GuardFake
    >>> from modkit.backends import Qwen3GuardBackend
    >>> with Qwen3GuardFake() as fake:
    ...     with Qwen3GuardBackend("Qwen/Qwen3Guard-Gen-4B", base_url=fake.url) as b:
    ...         df = modkit.moderate(["a text"], backend=b, cache=None, progress=False)
    >>> round(float(df[["Safe", "Controversial", "Unsafe"]].sum(axis=1).iloc[0]), 9)
    1.0
    """

    name = "qwen3guard"
    max_batch_size = 8

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        mode: str = "prompt",
        context: str | None = None,
        reading: str = "strict",
        top_logprobs: int = 20,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        if not model:
            raise InputError("the qwen3guard backend needs the served model's name: --model NAME")
        if not base_url:
            raise InputError("the qwen3guard backend needs the endpoint: --base-url URL")
        if reading not in QWEN3GUARD_READINGS:
            raise InputError(f"reading must be one of {QWEN3GUARD_READINGS}, got {reading!r}")
        if not 1 <= int(top_logprobs) <= 20:
            raise InputError(f"top_logprobs must be in [1, 20], got {top_logprobs!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.mode = check_mode(mode)
        self.context = context or ""
        self.reading = reading
        self.top_logprobs = int(top_logprobs)
        self._init_client(api_key, api_key_env, timeout)
        names = [c for c in QWEN3GUARD_CATEGORIES if mode == "prompt" or c != "Jailbreak"]
        self.categories = names
        self._category_of = _prefix_label([*names, "None"])

    @property
    def cache_namespace(self) -> str:
        return f"qwen3guard:{self.base_url}:{self.mode}:{self.context}:{self.reading}"

    def __repr__(self) -> str:
        return (
            f"Qwen3GuardBackend(model={self.model!r}, mode={self.mode!r}, "
            f"reading={self.reading!r}, base_url={self.base_url!r})"
        )

    def messages(self, text: str) -> list[dict[str, str]]:
        """The conversation sent for ``text`` (the server's chat template renders it).

        Parameters
        ----------
        text : str
            The text classified.

        Returns
        -------
        list of dict
            ``[user]`` with ``mode="prompt"``; ``[user context, assistant text]`` with
            ``mode="response"``.
        """
        return chat_turns(text, self.mode, self.context)

    async def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError("qwen3guard: empty text: nothing to classify", code="empty_text")
        content, tokens, model, rid = await self._complete(text)
        return self.result_of(content, tokens, model=model, id=rid)

    def _category_scores(
        self,
        cats: dict[str, float],
        answer: Qwen3GuardAnswer,
        text: str,
        tokens: Sequence[Mapping[str, Any]],
        not_safe: float,
    ) -> None:
        """Fill ``cats``: P(not safe) shared out by the first category label's token
        probabilities, and each further listed category at least its own token's."""
        assert answer.category_at is not None
        j = token_at(tokens, text, answer.category_at)
        q = label_probabilities(tokens[j], self._category_of) if j is not None else None
        q = {c: p for c, p in (q or {}).items() if c in cats}
        total = sum(q.values())
        for c, p in q.items():
            cats[c] = not_safe * p / total
        for c in answer.categories[1:]:
            at = text.find(c, answer.category_at)
            k = token_at(tokens, text, at) if at >= 0 else None
            if k is not None and c in cats:
                own = label_probabilities(tokens[k], self._category_of) or {}
                cats[c] = max(cats[c], not_safe * own.get(c, 0.0))

    def result_of(
        self,
        content: object,
        tokens: Sequence[Mapping[str, Any]] | None,
        *,
        model: str = "",
        id: str = "",
    ) -> ModerationResult | ItemError:
        """The result for one answer and its logprob tokens (never raises).

        Parameters
        ----------
        content : str
            The answer text.
        tokens : sequence of dict or None
            ``logprobs.content`` (``token``, ``logprob``, ``top_logprobs``).
        model, id : str
            The response's model and id.

        Returns
        -------
        ModerationResult or ItemError
            The scores of the class Notes; an :class:`ItemError` (code
            ``parse_error``) when the answer has no tier or the tokens do not spell it.
        """
        answer = parse_qwen3guard(content)
        shown = " ".join(str(content).split())[:60]
        if answer is None:
            return ItemError(
                f"qwen3guard: the answer holds no 'Safety:' label: {shown!r}", code="parse_error"
            )
        text = str(content)
        i = token_at(tokens or [], text, answer.tier_at)
        tiers = (
            label_probabilities(tokens[i], _TIER_OF, labels=QWEN3GUARD_TIERS)
            if tokens and i is not None
            else None
        )
        if tiers is None:
            return ItemError(
                f"qwen3guard: the logprobs do not cover the tier label of {shown!r}",
                code="parse_error",
            )
        probs = {t: tiers.get(t, 0.0) for t in QWEN3GUARD_TIERS}
        not_safe = probs["Unsafe"] + probs["Controversial"]
        cats = dict.fromkeys(self.categories, 0.0)
        if answer.tier != "Safe" and answer.category_at is not None and tokens:
            self._category_scores(cats, answer, text, tokens, not_safe)
        flag_tiers = ("Unsafe", "Controversial") if self.reading == "strict" else ("Unsafe",)
        flagged = answer.tier in flag_tiers
        flags = {
            "Safe": answer.tier == "Safe",
            "Controversial": answer.tier == "Controversial",
            "Unsafe": answer.tier == "Unsafe",
            "unsafe_strict": answer.tier != "Safe",
        }
        flags.update({c: flagged and c in answer.categories for c in cats})
        applied: dict[str, list[str]] = {"reading": [self.reading], "tier": [answer.tier]}
        if answer.refusal is not None:
            applied["refusal"] = ["Yes" if answer.refusal else "No"]
        return ModerationResult(
            flagged=flagged,
            categories=flags,
            category_scores={**probs, "unsafe_strict": not_safe, **cats},
            category_applied_input_types=applied,
            model=model or self.model,
            id=id,
        )

    async def _complete(self, text: str) -> tuple[str, list[dict[str, Any]] | None, str, str]:
        resp = await self._chat_completion(
            model=self.model,
            messages=self.messages(text),
            temperature=0,
            max_tokens=64,
            logprobs=True,
            top_logprobs=self.top_logprobs,
        )
        choice = resp.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.content:
            raise BackendError(
                "qwen3guard: the endpoint returned no logprobs; it must support logprobs=true "
                "and top_logprobs (vLLM, SGLang, llama.cpp server and Ollama do)"
            )
        tokens = self._tokens(lp.content)
        return (
            choice.message.content or "",
            tokens,
            str(resp.model or self.model),
            str(resp.id or ""),
        )
