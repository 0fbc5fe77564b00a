"""A fake policy-prompt model (gpt-oss-safeguard) behind ``POST /v1/chat/completions``."""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ._fake_chat import ChatCompletionsFake
from ._fake_http import HARM_KINDS, Reply, fake_score, unit_score

__all__ = ["PolicyModelFake"]

_EFFORTS = ("low", "medium", "high")
#: Words of a policy that tell the fake which harm kinds it is about.
_POLICY_WORDS = {
    "violen": "violence",
    "threat": "violence",
    "hate": "hate",
    "slur": "hate",
    "harass": "insult",
    "insult": "insult",
    "self-harm": "selfharm",
    "suicide": "selfharm",
    "sexual": "sexual",
}
_MASS = 0.97


def _tok(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


class PolicyModelFake(ChatCompletionsFake):
    """An OpenAI-compatible chat endpoint that answers as gpt-oss-safeguard would.

    It checks the request the model card asks for: a system (or developer) message
    holding the policy, then the content as the user's message, and ``reasoning_effort``
    one of ``low``, ``medium``, ``high`` (400 otherwise, in the OpenAI error shape). The
    answer's ``message.content`` is the final channel: ``{"violation": 0|1,
    "policy_category": ...}`` when the policy mentions JSON, else the bare label ``1`` /
    ``0``; ``message.reasoning_content`` holds a short reasoning text (vLLM's field).

    With ``logprobs=true`` the content's tokens come with ``top_logprobs``: at the label
    token, ``1`` / ``0`` share 97 % of the mass as :meth:`p_violation` says (a filler
    token has the rest). Without logprobs (``temperature`` > 0, a vote), the i-th answer
    for the same policy and text is violating with probability :meth:`p_violation`,
    deterministically per i.

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    logprobs : bool, default True
        False: never return logprobs (as some servers do), whatever the request asks.
    garbage : float, default 0
        Share of (text, policy) pairs whose answer is prose without a label
        (deterministic: :func:`~modkit.testing.unit_score` of the text below it).
    latency, bias
        As for :class:`ProviderFake` (seconds per answer; word -> extra harm).

    Examples
    --------
    >>> from modkit.testing import PolicyModelFake
    >>> fake = PolicyModelFake()
    >>> 0.01 <= fake.p_violation("I will kill you", "Violence policy.") <= 0.99
    True
    """

    url_suffix = "/v1"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        logprobs: bool = True,
        garbage: float = 0.0,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.logprobs = logprobs
        self.garbage = float(garbage)
        self._ids = itertools.count(1)
        self._samples: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def policy_kinds(policy: str) -> set[str]:
        """The harm kinds a policy text is about (every kind when it names none).

        Parameters
        ----------
        policy : str
            The policy text.

        Returns
        -------
        set of str
            Kinds of :data:`~modkit.testing._fake_http.HARM_KINDS`.
        """
        low = policy.lower()
        kinds = {k for w, k in _POLICY_WORDS.items() if w in low}
        return kinds or set(HARM_KINDS)

    def p_violation(self, text: str, policy: str) -> float:
        """P(the answer is violating) for ``text`` under ``policy``.

        Parameters
        ----------
        text : str
            The classified content.
        policy : str
            The policy text (its sha256 salts the noise: an edit changes the scores).

        Returns
        -------
        float
            In [0.01, 0.99].
        """
        salt = "policy:" + hashlib.sha256(policy.encode()).hexdigest()[:16]
        return 0.01 + 0.98 * fake_score(text, salt, self.bias, self.policy_kinds(policy))

    def is_garbage(self, text: str) -> bool:
        """Whether the answer for ``text`` is prose without a label.

        Parameters
        ----------
        text : str
            The classified content.

        Returns
        -------
        bool
        """
        return unit_score(text, "policy-garbage") < self.garbage

    def _complete(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self.error_reply(400, "the body is not a JSON object")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or len(messages) < 2
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
            or messages[0].get("role") not in ("system", "developer")
            or messages[-1].get("role") != "user"
        ):
            return self.error_reply(
                400, "messages must be the policy (system/developer) then the user's content"
            )
        effort = body.get("reasoning_effort", "medium")
        if effort not in _EFFORTS:
            return self.error_reply(400, f"reasoning_effort must be one of {_EFFORTS}")
        top = body.get("top_logprobs")
        want = body.get("logprobs") is True
        if want and (not isinstance(top, int) or not 0 <= top <= 20):
            return self.error_reply(400, "top_logprobs must be in [0, 20]")
        policy, text = messages[0]["content"], messages[-1]["content"]
        p = self.p_violation(text, policy)
        greedy = float(body.get("temperature") or 0.0) == 0.0
        if greedy:
            violating = p >= 0.5
        else:
            with self._lock:
                i = self._samples[(policy, text)]
                self._samples[(policy, text)] += 1
            violating = unit_score(text, f"vote:{i}:{policy}") < p
        label = "1" if violating else "0"
        if self.is_garbage(text):
            pieces = [("I", 0.9), (" cannot", 0.8), (" tell", 0.7), (".", 0.9)]
            label_at = -1
        elif "json" in policy.lower():
            category = "V" if violating else "none"
            pieces = [('{"', 0.99), ("violation", 0.99), ('":', 0.99), (" ", 0.99), (label, 0.0)]
            pieces += [(', "', 0.99), ("policy_category", 0.99), ('": "', 0.99)]
            pieces += [(category, 0.9), ('"}', 0.99)]
            label_at = 4
        else:
            pieces, label_at = [(label, 0.0)], 0
        tokens = []
        for k, (piece, q) in enumerate(pieces):
            if k == label_at:
                alts = {"1": p * _MASS, "0": (1 - p) * _MASS, " ": 1 - _MASS}
                ranked = sorted(alts.items(), key=lambda kv: -kv[1])[: top or 0]
                tok = _tok(piece, alts[piece])
                tok["top_logprobs"] = [_tok(t, v) for t, v in ranked]
            else:
                tok = _tok(piece, q)
                tok["top_logprobs"] = [_tok(piece, q)][: top or 0]
            tokens.append(tok)
        content = "".join(t["token"] for t in tokens)
        reasoning = f"The policy is about {', '.join(sorted(self.policy_kinds(policy)))}."
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "reasoning_content": reasoning},
            "logprobs": {"content": tokens} if (want and self.logprobs) else None,
            "finish_reason": "stop",
        }
        return self._completion(body, "policy", choice, len(tokens))
