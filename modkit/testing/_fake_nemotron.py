"""A fake Llama-3.1-Nemotron-Safety-Guard behind an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from ._fake_chat import ChatCompletionsFake
from ._fake_http import Reply, fake_score, unit_score

__all__ = ["NemotronSafetyGuardFake"]

_KINDS: dict[str, set[str]] = {
    "Violence": {"violence"},
    "Sexual": {"sexual"},
    "Suicide and Self Harm": {"selfharm"},
    "Hate/Identity Hate": {"hate"},
    "Harassment": {"insult"},
}
_NAMES = (
    "Violence",
    "Sexual",
    "Criminal Planning/Confessions",
    "Suicide and Self Harm",
    "Hate/Identity Hate",
    "Harassment",
    "Profanity",
    "Needs Caution",
)
_RESPONSE = re.compile(r"response: agent: (\S.*)", re.DOTALL)
_MASS = 0.97


def _tok(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


class NemotronSafetyGuardFake(ChatCompletionsFake):
    """An OpenAI-compatible chat endpoint that answers as Nemotron Safety Guard would.

    The request is one user message (the filled prompt template); the answer is the JSON
    object ``{"User Safety": "<r>", "Response Safety": "<r>", "Safety Categories":
    "<names>"}``, tokenised so that each rating word is a token of its own with ``safe``
    / ``unsafe`` alternatives (97 % of the position's mass; a filler the rest).
    ``"Response Safety"`` is written when the message holds ``response: agent: `` and
    text after it (the card's conversation layout); the categories when a rating is
    unsafe. ``logprobs`` must be true and ``top_logprobs`` in [0, 20] (400 otherwise).

    Probabilities: ``"User Safety"`` from the whole message, ``"Response Safety"`` from
    the text after ``response: agent: `` (:meth:`unsafe_probability`).

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    garbage : float, default 0
        Share of messages answered with prose without a rating (deterministic).
    latency, bias
        As for :class:`ProviderFake`.

    Examples
    --------
    >>> from modkit.testing import NemotronSafetyGuardFake
    >>> 0.0 < NemotronSafetyGuardFake().unsafe_probability("hello") < 1.0
    True
    """

    url_suffix = "/v1"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        garbage: float = 0.0,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.garbage = float(garbage)
        self._ids = itertools.count(1)

    def unsafe_probability(self, text: str) -> float:
        """P(unsafe) the fake gives ``text``, in (0, 1).

        Parameters
        ----------
        text : str
            The rated text.

        Returns
        -------
        float
        """
        return 0.01 + 0.98 * fake_score(text, "nemotron", self.bias)

    def listed_categories(self, text: str) -> list[str]:
        """The categories the fake lists for ``text`` when it rates it unsafe.

        Parameters
        ----------
        text : str
            The rated text.

        Returns
        -------
        list of str
            The strongest category and any other with weight >= 0.25.
        """
        w = {
            c: 0.02 + 0.05 * unit_score(text, c) + fake_score(text, c, None, _KINDS.get(c, set()))
            for c in _NAMES
        }
        ranked = sorted(w, key=lambda c: -w[c])
        return [ranked[0]] + [c for c in ranked[1:] if w[c] >= 0.25]

    @staticmethod
    def _position(chosen: str, alts: dict[str, float], top: int) -> dict[str, Any]:
        ranked = sorted(alts.items(), key=lambda kv: -kv[1])[:top]
        out = _tok(chosen, alts[chosen])
        out["top_logprobs"] = [_tok(t, p) for t, p in ranked]
        return out

    def _rating(self, key: str, p_unsafe: float, top: int) -> list[dict[str, Any]]:
        rating = "unsafe" if p_unsafe >= 0.5 else "safe"
        alts = {"unsafe": p_unsafe * _MASS, "safe": (1 - p_unsafe) * _MASS, " ": 1 - _MASS}
        return [
            self._position(f'"{key}', {f'"{key}': 0.99}, top),
            self._position('": "', {'": "': 0.99}, top),
            self._position(rating, alts, top),
            self._position('"', {'"': 0.99}, top),
        ]

    def _complete(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self.error_reply(400, "the body is not a JSON object")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or len(messages) != 1
            or not isinstance(messages[0], dict)
            or messages[0].get("role") != "user"
            or not isinstance(messages[0].get("content"), str)
        ):
            return self.error_reply(400, "messages must be one user message (the filled prompt)")
        top = body.get("top_logprobs")
        if body.get("logprobs") is not True or not isinstance(top, int) or not 0 <= top <= 20:
            return self.error_reply(400, "logprobs must be true and top_logprobs in [0, 20]")
        prompt = messages[0]["content"]
        if unit_score(prompt, "nemotron-garbage") < self.garbage:
            tokens = [self._position(w, {w: 0.9}, top) for w in ("I", " cannot", " rate")]
        else:
            tokens = self._answer_tokens(prompt, top)
        content = "".join(t["token"] for t in tokens)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": {"content": tokens},
            "finish_reason": "stop",
        }
        return self._completion(body, "nemotron", choice, len(tokens))

    def _answer_tokens(self, prompt: str, top: int) -> list[dict[str, Any]]:
        tokens = [self._position("{", {"{": 0.99}, top)]
        p_user = self.unsafe_probability(prompt)
        tokens += self._rating("User Safety", p_user, top)
        unsafe_text = prompt if p_user >= 0.5 else None
        m = _RESPONSE.search(prompt)
        if m is not None:
            p_resp = self.unsafe_probability(m.group(1))
            tokens.append(self._position(", ", {", ": 0.99}, top))
            tokens += self._rating("Response Safety", p_resp, top)
            if p_resp >= 0.5:
                unsafe_text = m.group(1)
        if unsafe_text is not None:
            names = ", ".join(self.listed_categories(unsafe_text))
            lead = ', "Safety Categories": "'
            tokens.append(self._position(lead, {lead: 0.99}, top))
            tokens.append(self._position(names, {names: 0.9}, top))
            tokens.append(self._position('"', {'"': 0.99}, top))
        tokens.append(self._position("}", {"}": 0.99}, top))
        return tokens
