"""Granite Guardian 3.3 (hybrid thinking: ``<think>`` ... ``</think>`` then ``<score>``).

Source: https://huggingface.co/ibm-granite/granite-guardian-3.3-8b and IBM's evaluation code
(github.com/ibm-granite/granite-guardian, ``evaluation/models/granite_guardian_3_3.py``): the
chat template takes ``guardian_config={"criteria_id": ...}`` and ``think=True | False``; the
model answers ``<score> yes </score>`` or ``<score> no </score>``, after a ``<think>`` block
in thinking mode; P(yes) comes from the logprobs of the yes / no token.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import BackendError, InputError
from .._result import ItemError, ModerationResult
from ._chat import ChatModelBackend, chat_turns
from ._guard import GRANITE_RISKS
from ._provider_http import check_mode
from ._verdict import label_probabilities, token_at

__all__ = ["GraniteGuardian33Backend", "parse_granite_score"]

_SCORE = re.compile(r"<score>\s*(yes|no)\s*</score>", re.I)


def parse_granite_score(text: object) -> tuple[bool, int] | None:
    """The label of a Granite Guardian 3.3 answer and where it starts, or None.

    Parameters
    ----------
    text : object
        The answer (``message.content``; a ``<think>`` block before the score is
        allowed).

    Returns
    -------
    (bool, int) or None
        ``(True, i)`` for ``<score> yes </score>`` (``False`` for ``no``), ``i`` the
        offset of the word in ``text``; the last ``<score>`` block counts. None without
        one (the caller reports a parse error, never a score). Never raises.

    Examples
    --------
    >>> from modkit.backends import parse_granite_score
    >>> parse_granite_score("<think>risky</think>\\n<score> yes </score>")
    (True, 29)
    >>> parse_granite_score("yes") is None
    True
    """
    if not isinstance(text, str):
        return None
    found = list(_SCORE.finditer(text))
    if not found:
        return None
    m = found[-1]
    return m.group(1).lower() == "yes", m.start(1)


def _yes_no(token: str) -> str | None:
    word = token.strip().lower()
    return word if word in ("yes", "no") else None


class GraniteGuardian33Backend(ChatModelBackend):
    """Granite Guardian 3.3 behind an OpenAI-compatible ``/v1/chat/completions``.

    Parameters
    ----------
    model : str
        The served model (``ibm-granite/granite-guardian-3.3-8b``).
    base_url : str
        The endpoint, e.g. ``http://127.0.0.1:8000/v1`` (vLLM).
    categories : sequence of str, optional
        Criteria (``criteria_id``) of :data:`modkit.backends._guard.GRANITE_RISKS`
        (``harm``, ``social_bias``, ``jailbreak``, ``violence``, ``profanity``,
        ``sexual_content``, ``unethical_behavior``); default ``["harm"]``. One request
        per text and criterion.
    think : bool, default False
        Thinking mode (``chat_template_kwargs.think``): a reasoning trace before the
        score.
    mode : {"prompt", "response"}, default "prompt"
        Classify each text as the user's message, or the assistant's answer after
        ``context``.
    context : str, optional
        The user message before an assistant answer.
    top_logprobs : int, default 20
        Alternatives per position (1-20).
    max_tokens : int, default 2048
        Room for the thinking trace and the score.
    api_key, api_key_env, timeout
        As for :class:`modkit.backends.GuardBackend`.

    Raises
    ------
    InputError
        With no model or endpoint, an unknown criterion or mode, or ``top_logprobs``
        outside [1, 20].

    Notes
    -----
    Score per criterion: P(yes) / (P(yes) + P(no)) at the yes / no token inside the
    answer's last ``<score>`` block (alternatives compared after stripping and
    lower-casing), the same quantity as Granite Guardian 3.1's first-token score. An
    answer without a ``<score>`` block is a per-row error (code ``parse_error``); an
    endpoint without logprobs is an error that says so. The results' provider is
    ``granite-guardian`` (same criteria names as 3.1).

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import GraniteGuardianThinkFake
    >>> with GraniteGuardianThinkFake() as fake:
    ...     with modkit.backends.GraniteGuardian33Backend(
    ...         "ibm-granite/granite-guardian-3.3-8b", base_url=fake.url, think=True
    ...     ) as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> bool(0 <= df["harm"].iloc[0] <= 1)
    True
    """

    name = "granite-guardian-3.3"
    max_batch_size = 8

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        categories: Sequence[str] | None = None,
        think: bool = False,
        mode: str = "prompt",
        context: str | None = None,
        top_logprobs: int = 20,
        max_tokens: int = 2048,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        if not model:
            raise InputError("the granite-guardian-3.3 backend needs the model's name: --model")
        if not base_url:
            raise InputError("the granite-guardian-3.3 backend needs the endpoint: --base-url")
        cats = list(categories) if categories else ["harm"]
        unknown = [c for c in cats if c not in GRANITE_RISKS]
        if unknown:
            raise InputError(
                f"unknown Granite Guardian criteria {unknown}; choose from {list(GRANITE_RISKS)}"
            )
        if not 1 <= int(top_logprobs) <= 20:
            raise InputError(f"top_logprobs must be in [1, 20], got {top_logprobs!r}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.categories = cats
        self.think = bool(think)
        self.mode = check_mode(mode)
        self.context = context or ""
        self.top_logprobs = int(top_logprobs)
        self.max_tokens = int(max_tokens)
        self._init_client(api_key, api_key_env, timeout)

    @property
    def cache_namespace(self) -> str:
        return (
            f"granite33:{self.base_url}:{self.think}:{self.mode}:{self.context}:"
            f"{','.join(self.categories)}"
        )

    def __repr__(self) -> str:
        return (
            f"GraniteGuardian33Backend(model={self.model!r}, think={self.think!r}, "
            f"categories={self.categories!r}, base_url={self.base_url!r})"
        )

    def messages(self, text: str) -> list[dict[str, str]]:
        """The conversation sent for ``text``.

        Parameters
        ----------
        text : str
            The text classified.

        Returns
        -------
        list of dict
            ``[user]``, or ``[user context, assistant text]`` with ``mode="response"``.
        """
        return chat_turns(text, self.mode, self.context)

    async def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError("granite-guardian-3.3: empty text", code="empty_text")
        answers = await asyncio.gather(*(self._complete(text, c) for c in self.categories))
        scores: dict[str, float] = {}
        flags: dict[str, bool] = {}
        for criterion, (content, tokens, _, _) in zip(self.categories, answers, strict=True):
            outcome = self.score_of(content, tokens)
            if isinstance(outcome, ItemError):
                return ItemError(f"criterion {criterion!r}: {outcome.message}", outcome.code)
            scores[criterion], flags[criterion] = outcome
        return ModerationResult(
            flagged=any(flags.values()),
            categories=flags,
            category_scores=scores,
            category_applied_input_types={"think": [str(self.think).lower()]},
            model=answers[0][2],
            id=answers[0][3],
        )

    @staticmethod
    def score_of(
        content: object, tokens: Sequence[Mapping[str, Any]] | None
    ) -> tuple[float, bool] | ItemError:
        """P(yes) and the greedy label of one answer, or a parse error (never raises).

        Parameters
        ----------
        content : str
            The answer text.
        tokens : sequence of dict or None
            ``logprobs.content``.

        Returns
        -------
        (float, bool) or ItemError
            The score in [0, 1] and whether the answer says yes; an :class:`ItemError`
            (code ``parse_error``) without a ``<score>`` block or when the tokens do not
            spell the answer.
        """
        parsed = parse_granite_score(content)
        shown = " ".join(str(content).split())[-60:]
        if parsed is None:
            return ItemError(
                f"granite-guardian-3.3: no <score> yes|no </score> in {shown!r}",
                code="parse_error",
            )
        label, at = parsed
        i = token_at(tokens or [], str(content), at)
        probs = (
            label_probabilities(tokens[i], _yes_no, labels=("yes", "no"))
            if tokens and i is not None
            else None
        )
        if probs is None:
            return ItemError(
                f"granite-guardian-3.3: the logprobs do not cover the score of {shown!r}",
                code="parse_error",
            )
        return probs.get("yes", 0.0), label

    async def _complete(
        self, text: str, criterion: str
    ) -> tuple[str, list[dict[str, Any]], str, str]:
        resp = await self._chat_completion(
            model=self.model,
            messages=self.messages(text),
            temperature=0,
            max_tokens=self.max_tokens,
            logprobs=True,
            top_logprobs=self.top_logprobs,
            extra_body={
                "chat_template_kwargs": {
                    "guardian_config": {"criteria_id": criterion},
                    "think": self.think,
                }
            },
        )
        choice = resp.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.content:
            raise BackendError(
                "granite-guardian-3.3: the endpoint returned no logprobs; it must support "
                "logprobs=true and top_logprobs (vLLM, llama.cpp server and Ollama do)"
            )
        tokens = self._tokens(lp.content)
        return (
            choice.message.content or "",
            tokens,
            str(resp.model or self.model),
            str(resp.id or ""),
        )
