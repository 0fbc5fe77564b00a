"""A fake Qwen3Guard-Gen behind an OpenAI-compatible ``POST /v1/chat/completions``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from ._fake_chat import ChatCompletionsFake
from ._fake_http import Reply, fake_score, unit_score

__all__ = ["Qwen3GuardFake"]

_CATEGORIES = (
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
_KINDS: dict[str, set[str]] = {
    "Violent": {"violence"},
    "Sexual Content or Sexual Acts": {"sexual"},
    "Suicide & Self-Harm": {"selfharm"},
    "Unethical Acts": {"hate", "insult"},
}
_MASS = 0.97


def _tok(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


class Qwen3GuardFake(ChatCompletionsFake):
    """An OpenAI-compatible chat endpoint that answers as Qwen3Guard-Gen would, with logprobs.

    The answer is ``Safety: <tier>\\nCategories: <names or None>`` (and ``\\nRefusal:
    No`` when the last message is the assistant's), tokenised so that the tier word and
    each category's first word are tokens of their own. ``logprobs`` must be true and
    ``top_logprobs`` in [0, 20] (400 otherwise, in the OpenAI error shape).

    Probabilities for the classified text (the last message): the tiers by
    :meth:`tier_probabilities` (split over ``Unsafe`` 90 % / `` Unsafe`` 10 %, and so on
    for each tier), the first category by :meth:`category_weights`. Tier alternatives
    share 97 % of the position's mass; a filler token has the rest.

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    garbage : float, default 0
        Share of texts answered with prose without a ``Safety:`` label (deterministic).
    latency, bias
        As for :class:`ProviderFake`.

    Examples
    --------
    >>> from modkit.testing import Qwen3GuardFake
    >>> probs = Qwen3GuardFake().tier_probabilities("hello")
    >>> round(sum(probs.values()), 9)
    1.0
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

    def tier_probabilities(self, text: str) -> dict[str, float]:
        """P(Safe), P(Controversial), P(Unsafe) for ``text``.

        Parameters
        ----------
        text : str
            The classified text.

        Returns
        -------
        dict of str to float
            Sums to 1; ``Unsafe`` grows with the harm signal, ``Controversial`` peaks
            in between.
        """
        h = 0.01 + 0.98 * fake_score(text, "qwen3guard", self.bias)
        unsafe = h**2
        controversial = 2 * h * (1 - h) * 0.8
        return {
            "Safe": 1 - unsafe - controversial,
            "Controversial": controversial,
            "Unsafe": unsafe,
        }

    def category_weights(self, text: str, names: tuple[str, ...]) -> dict[str, float]:
        """P(first category = name | not safe), over ``names``; sums to 1.

        Parameters
        ----------
        text : str
            The classified text.
        names : tuple of str
            The categories the mode allows.

        Returns
        -------
        dict of str to float
        """
        w = {
            c: 0.02 + 0.05 * unit_score(text, c) + fake_score(text, c, None, _KINDS.get(c, set()))
            for c in names
        }
        total = sum(w.values())
        return {c: v / total for c, v in w.items()}

    @staticmethod
    def _position(chosen: str, alts: dict[str, float], top: int) -> dict[str, Any]:
        ranked = sorted(alts.items(), key=lambda kv: -kv[1])[:top]
        out = _tok(chosen, alts[chosen])
        out["top_logprobs"] = [_tok(t, p) for t, p in ranked]
        return out

    def _complete(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self.error_reply(400, "the body is not a JSON object")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(
                isinstance(m, dict)
                and m.get("role") in ("user", "assistant")
                and isinstance(m.get("content"), str)
                for m in messages
            )
            or messages[0]["role"] != "user"
        ):
            return self.error_reply(400, "messages must be user/assistant turns, user first")
        top = body.get("top_logprobs")
        if body.get("logprobs") is not True or not isinstance(top, int) or not 0 <= top <= 20:
            return self.error_reply(400, "logprobs must be true and top_logprobs in [0, 20]")
        text = messages[-1]["content"]
        response = messages[-1]["role"] == "assistant"
        if unit_score(text, "qwen3guard-garbage") < self.garbage:
            tokens = [self._position(w, {w: 0.9}, top) for w in ("I", " am", " not", " sure")]
        else:
            tokens = self._answer_tokens(text, response, top)
        content = "".join(t["token"] for t in tokens)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": {"content": tokens},
            "finish_reason": "stop",
        }
        return self._completion(body, "qwen3guard", choice, len(tokens))

    def _answer_tokens(self, text: str, response: bool, top: int) -> list[dict[str, Any]]:
        tiers = self.tier_probabilities(text)
        tier = max(tiers, key=lambda t: tiers[t])
        alts: dict[str, float] = {}
        for t, p in tiers.items():
            alts[f" {t}"] = 0.9 * p * _MASS
            alts[t] = 0.1 * p * _MASS
        alts[" ("] = 1 - _MASS
        tokens = [
            self._position("Safety", {"Safety": 0.99}, top),
            self._position(":", {":": 0.99}, top),
            self._position(f" {tier}", alts, top),
            self._position("\n", {"\n": 0.99}, top),
            self._position("Categories", {"Categories": 0.99}, top),
            self._position(":", {":": 0.99}, top),
        ]
        names = tuple(c for c in _CATEGORIES if not (response and c == "Jailbreak"))
        if tier == "Safe":
            tokens.append(self._position(" None", {" None": 0.95, " Violent": 0.05}, top))
        else:
            w = self.category_weights(text, names)
            ranked = sorted(w, key=lambda c: -w[c])
            listed = [ranked[0]] + [c for c in ranked[1:] if w[c] >= 0.25]
            for k, name in enumerate(listed):
                head, *rest = name.split(" ")
                if k:
                    tokens.append(self._position(",", {",": 0.99}, top))
                if k == 0:
                    first = {f" {c.split(' ')[0]}": p * _MASS for c, p in w.items()}
                    first[" ("] = 1 - _MASS
                else:
                    first = {f" {head}": w[name], " (": 1 - w[name]}
                tokens.append(self._position(f" {head}", first, top))
                tokens.extend(self._position(f" {r}", {f" {r}": 0.99}, top) for r in rest)
        if response:
            tokens.append(self._position("\n", {"\n": 0.99}, top))
            tokens.append(self._position("Refusal", {"Refusal": 0.99}, top))
            tokens.append(self._position(":", {":": 0.99}, top))
            tokens.append(self._position(" No", {" No": 0.9, " Yes": 0.1}, top))
        return tokens
