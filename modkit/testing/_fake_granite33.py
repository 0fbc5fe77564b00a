"""A fake Granite Guardian 3.3 (``<think>`` then ``<score> yes|no </score>``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from ._fake_chat import ChatCompletionsFake
from ._fake_http import Reply, fake_score

__all__ = ["GraniteGuardianThinkFake"]

_CRITERIA = (
    "harm",
    "social_bias",
    "jailbreak",
    "violence",
    "profanity",
    "sexual_content",
    "unethical_behavior",
)
_KINDS: dict[str, set[str]] = {
    "social_bias": {"hate"},
    "violence": {"violence"},
    "profanity": {"insult"},
    "sexual_content": {"sexual"},
}
_MASS = 0.97


def _tok(token: str, p: float, top: int, alts: dict[str, float] | None = None) -> dict[str, Any]:
    alts = alts or {token: p}
    ranked = sorted(alts.items(), key=lambda kv: -kv[1])[:top]
    return {
        "token": token,
        "logprob": math.log(p),
        "top_logprobs": [{"token": t, "logprob": math.log(q)} for t, q in ranked],
    }


class GraniteGuardianThinkFake(ChatCompletionsFake):
    """An OpenAI-compatible chat endpoint answering as Granite Guardian 3.3, with logprobs.

    It requires ``chat_template_kwargs.guardian_config.criteria_id`` (one of the seven
    harm criteria) and ``logprobs=true`` (400 otherwise). With
    ``chat_template_kwargs.think`` true the answer is ``<think>...</think>\\n<score> yes
    </score>`` (or ``no``); without, only the score. P(yes) is :meth:`p_yes`, split over
    ``yes`` (80 %) and `` Yes``; verdict alternatives share 97 % of the mass.

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    reasoning_parser : bool, default False
        Answer as vLLM with a reasoning parser does: the ``<think>`` part in
        ``message.reasoning_content``, ``content`` only the score, while the logprobs
        cover every generated token.
    latency, bias
        As for :class:`ProviderFake`.

    Examples
    --------
    >>> from modkit.testing import GraniteGuardianThinkFake
    >>> 0.01 <= GraniteGuardianThinkFake().p_yes("hello", "harm") <= 0.99
    True
    """

    url_suffix = "/v1"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        reasoning_parser: bool = False,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.reasoning_parser = reasoning_parser
        self._ids = itertools.count(1)

    def p_yes(self, text: str, criterion: str) -> float:
        """P(yes) for ``text`` under a criterion.

        Parameters
        ----------
        text : str
            The classified text.
        criterion : str
            A ``criteria_id``.

        Returns
        -------
        float
            In [0.01, 0.99].
        """
        return 0.01 + 0.98 * fake_score(text, f"gg33:{criterion}", self.bias, _KINDS.get(criterion))

    def _complete(self, body: Any) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error_reply(400, "messages are required")
        messages = body["messages"]
        if not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            return self.error_reply(400, "messages must carry text")
        kwargs = body.get("chat_template_kwargs") or {}
        criterion = (kwargs.get("guardian_config") or {}).get("criteria_id")
        if criterion not in _CRITERIA:
            return self.error_reply(400, f"unknown guardian_config criteria_id {criterion!r}")
        top = body.get("top_logprobs")
        if body.get("logprobs") is not True or not isinstance(top, int) or not 0 <= top <= 20:
            return self.error_reply(400, "logprobs must be true and top_logprobs in [0, 20]")
        text = messages[-1]["content"]
        p = self.p_yes(text, criterion)
        word = "yes" if p >= 0.5 else "no"
        think = [
            _tok(t, 0.9, top)
            for t in ("<think>", "The", " text", " is", " checked", ".", "</think>", "\n")
        ] if kwargs.get("think") else []  # fmt: skip
        alts = {"yes": 0.8 * p * _MASS, " Yes": 0.2 * p * _MASS, "no": (1 - p) * _MASS}
        alts["<"] = 1 - _MASS
        score = [
            _tok("<score>", 0.99, top),
            _tok(" ", 0.99, top),
            _tok(word, alts[word], top, alts),
            _tok(" ", 0.99, top),
            _tok("</score>", 0.99, top),
        ]
        tokens = think + score
        message: dict[str, Any] = {"role": "assistant"}
        if self.reasoning_parser and think:
            message["reasoning_content"] = "".join(t["token"] for t in think)
            message["content"] = "".join(t["token"] for t in score)
        else:
            message["content"] = "".join(t["token"] for t in tokens)
        choice = {
            "index": 0,
            "message": message,
            "logprobs": {"content": tokens},
            "finish_reason": "stop",
        }
        return self._completion(body, "gg33", choice, len(tokens))
