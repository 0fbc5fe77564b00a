"""A fake guard model behind an OpenAI-compatible ``POST /v1/chat/completions``."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from ._fake_chat import ChatCompletionsFake
from ._fake_http import Reply, fake_score, unit_score

__all__ = ["GuardModelFake"]

_CODES = tuple(f"S{i}" for i in range(1, 15))
_RISKS = (
    "harm",
    "social_bias",
    "jailbreak",
    "violence",
    "profanity",
    "sexual_content",
    "unethical_behavior",
)
#: The harm kinds each category reacts to (codes and policies; others: every kind).
_KINDS: dict[str, set[str]] = {
    "S1": {"violence"},
    "S10": {"hate"},
    "S11": {"selfharm"},
    "S12": {"sexual"},
    "Dangerous Content": {"violence", "selfharm"},
    "Harassment": {"insult", "violence"},
    "Hate Speech": {"hate"},
    "Sexually Explicit Information": {"sexual"},
    "social_bias": {"hate"},
    "violence": {"violence"},
    "profanity": {"insult"},
    "sexual_content": {"sexual"},
}
_GUIDELINE = re.compile(r'^"No ([^"]+)":')
_POLICY = re.compile(r'<BEGIN_SAFETY_POLICY>\n"No ([^"]+)":')
_VISION = re.compile(r"llama-guard-4|shieldgemma-2-")
_SHIELDGEMMA2 = re.compile(r"shieldgemma-2-")


def _parts_ok(content: Any) -> bool:
    """A non-empty list of text / image_url parts (the chat-completions shape)."""
    return (
        isinstance(content, list)
        and bool(content)
        and all(
            isinstance(p, dict)
            and (
                (p.get("type") == "text" and isinstance(p.get("text"), str))
                or (
                    p.get("type") == "image_url"
                    and isinstance(p.get("image_url"), dict)
                    and isinstance(p["image_url"].get("url"), str)
                )
            )
            for p in content
        )
    )


def _classified(content: Any) -> str:
    """What the fake classifies: a message's text, its parts' texts and image URLs
    joined by newlines (an image is scored by its URL)."""
    if isinstance(content, str):
        return content
    return "\n".join(p["text"] if p["type"] == "text" else p["image_url"]["url"] for p in content)


_MASS = 0.97  # probability the verdict alternatives share; the rest goes to filler tokens


def _tok(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


class GuardModelFake(ChatCompletionsFake):
    """An OpenAI-compatible chat endpoint that answers as a guard model would, with logprobs.

    The family follows the model name: ``llama-guard`` answers ``safe`` or
    ``unsafe\\nS<k>[,S<j>...]`` (the code split into ``S`` and digit tokens, as Llama 3's
    tokenizer does); ``shieldgemma`` and ``granite-guardian`` answer ``Yes`` or ``No``.
    It checks what the model's chat template needs: ShieldGemma's
    ``chat_template_kwargs.guideline`` (``"No <harm>": ...``), Granite Guardian's
    ``chat_template_kwargs.guardian_config.risk_name``; ``logprobs`` must be true and
    ``top_logprobs`` at most 20 (400 otherwise, in the OpenAI error shape).

    Images: ``llama-guard-4`` models take ``image_url`` parts in any message (scored as
    their URL text, after the message's text); ``shieldgemma-2-...`` takes one image and
    ShieldGemma 2's prompt instruction (``<BEGIN_SAFETY_POLICY>`` then ``"No <policy>":``)
    and answers Yes/No for the image; any other model answers 400 to an image part.
    A conversation of user/assistant turns (starting with the user) is classified by
    its last message, as Llama Guard's template asks.

    Probabilities, for the classified text (the last message's content):

    * Llama Guard: P(unsafe) = :meth:`p_unsafe`, split over the alternatives ``unsafe``
      (90 %) and ``Unsafe`` (10 %); the first code's distribution is :meth:`code_weights`.
    * Yes/No families: P(Yes) = :meth:`p_yes`, split over ``Yes`` (80 %) and `` yes``.

    Verdict alternatives share 97 % of the position's mass; a filler token has the rest.
    With ``logprobs=False`` in the constructor the fake ignores the request's
    ``logprobs`` (as some servers do).

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    logprobs : bool, default True
        False: answer without logprobs whatever the request asks.
    max_alternatives : int, optional
        List at most this many ``top_logprobs`` per position whatever the request asks
        (``0``: an empty list, as a server started without logprobs alternatives
        answers), so a verdict may be missing from the alternatives. An attribute:
        change it between runs.
    latency, bias
        As for :class:`ProviderFake` (seconds per answer; word -> extra harm).

    Examples
    --------
    >>> from modkit.testing import GuardModelFake
    >>> fake = GuardModelFake()
    >>> 0.01 < fake.p_unsafe("hello") < 0.99, round(sum(fake.code_weights("hello").values()), 9)
    (True, 1.0)
    """

    url_suffix = "/v1"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        logprobs: bool = True,
        max_alternatives: int | None = None,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.logprobs = logprobs
        self.max_alternatives = max_alternatives
        self._ids = itertools.count(1)
        #: Image parts received so far (every request).
        self.images_seen = 0

    # ------------------------------------------------------------ the fake model
    def p_unsafe(self, text: str) -> float:
        """Llama Guard's P(unsafe) for ``text``.

        Parameters
        ----------
        text : str
            The classified text.

        Returns
        -------
        float
            A probability in [0.01, 0.99].
        """
        return 0.01 + 0.98 * fake_score(text, "unsafe", self.bias)

    def code_weights(self, text: str) -> dict[str, float]:
        """P(first code = S<k> | unsafe) for ``text``: the codes whose harm kinds the
        text carries weigh most.

        Parameters
        ----------
        text : str
            The classified text.

        Returns
        -------
        dict of str to float
            ``S1`` ... ``S14`` -> probability; the values sum to 1.
        """
        w = {
            c: 0.01
            + 0.1 * unit_score(text, c) ** 4
            + fake_score(text, c, None, _KINDS.get(c, set()))
            for c in _CODES
        }
        total = sum(w.values())
        return {c: v / total for c, v in w.items()}

    def p_yes(self, text: str, category: str) -> float:
        """ShieldGemma's / Granite Guardian's P(Yes) for ``text`` and a category.

        Parameters
        ----------
        text : str
            The classified text.
        category : str
            A ShieldGemma harm type or a Granite Guardian risk name.

        Returns
        -------
        float
            A probability in [0.01, 0.99].
        """
        return 0.01 + 0.98 * fake_score(text, f"yes:{category}", self.bias, _KINDS.get(category))

    def _complete(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return self.error_reply(400, "the body is not a JSON object")
        model = str(body.get("model") or "")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(
                isinstance(m, dict)
                and m.get("role") in ("user", "assistant")
                and (isinstance(m.get("content"), str) or _parts_ok(m.get("content")))
                for m in messages
            )
        ):
            return self.error_reply(
                400, "messages must be user/assistant turns with text or content parts"
            )
        if messages[0]["role"] != "user":
            return self.error_reply(400, "the conversation must start with a user turn")
        name = model.lower().replace("_", "-")
        images = [
            p["image_url"]["url"]
            for m in messages
            if isinstance(m["content"], list)
            for p in m["content"]
            if p["type"] == "image_url"
        ]
        self.images_seen += len(images)
        if images and not _VISION.search(name):
            return self.error_reply(400, f"model {model} does not accept image inputs")
        top = body.get("top_logprobs")
        if self.logprobs and (
            body.get("logprobs") is not True or not isinstance(top, int) or not 0 <= top <= 20
        ):
            return self.error_reply(400, "logprobs must be true and top_logprobs in [0, 20]")
        text = _classified(messages[-1]["content"])
        if self.max_alternatives is not None:
            top = min(top or 0, self.max_alternatives)
        kwargs = body.get("chat_template_kwargs") or {}
        if _SHIELDGEMMA2.search(name):
            prompt = text.split("\n", 1)[-1]
            m = _POLICY.search(prompt)
            if not m or len(images) != 1:
                return self.error_reply(
                    400, "ShieldGemma 2 takes one image and the policy prompt instruction"
                )
            tokens = self._yes_no(images[0], m.group(1), top or 0)
        elif "llama-guard" in name:
            tokens = self._llama_guard(text, top or 0)
        elif "shieldgemma" in name:
            m = _GUIDELINE.match(str(kwargs.get("guideline", "")))
            if not m:
                return self.error_reply(400, "ShieldGemma's template needs a guideline")
            tokens = self._yes_no(text, m.group(1), top or 0)
        elif "granite-guardian" in name:
            risk = (kwargs.get("guardian_config") or {}).get("risk_name")
            if risk not in _RISKS:
                return self.error_reply(400, f"unknown guardian_config risk_name {risk!r}")
            tokens = self._yes_no(text, risk, top or 0)
        else:
            return self.error_reply(404, f"The model `{model}` does not exist.", "model_not_found")
        tokens = tokens[: int(body.get("max_tokens") or len(tokens))]
        content = "".join(t["token"] for t in tokens)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "logprobs": {"content": tokens} if self.logprobs else None,
            "finish_reason": "stop",
        }
        return self._completion(body, "fake", choice, len(tokens))

    @staticmethod
    def _position(chosen: str, alts: dict[str, float], top: int) -> dict[str, Any]:
        ranked = sorted(alts.items(), key=lambda kv: -kv[1])[:top]
        out = _tok(chosen, alts[chosen])
        out["top_logprobs"] = [_tok(t, p) for t, p in ranked]
        return out

    def _llama_guard(self, text: str, top: int) -> list[dict[str, Any]]:
        p = self.p_unsafe(text)
        alts = {
            "unsafe": 0.9 * p * _MASS,
            "Unsafe": 0.1 * p * _MASS,
            "safe": (1 - p) * _MASS,
            "\n\n": 1 - _MASS,
        }
        verdict = "unsafe" if p >= 0.5 else "safe"
        tokens = [self._position(verdict, alts, top)]
        if verdict == "safe":
            return tokens
        w = self.code_weights(text)
        first = max(w, key=lambda code: w[code])
        listed = [first] + [c for c in _CODES if c != first and w[c] >= 0.2]
        tokens.append(self._position("\n", {"\n": 0.99, " ": 0.01}, top))
        for k, code in enumerate(listed):
            if k:
                tokens.append(self._position(",", {",": 0.99, "\n": 0.01}, top))
            tokens.append(self._position("S", {"S": 0.99, " S": 0.01}, top))
            if k == 0:
                digits = {c[1:]: v * 0.99 for c, v in w.items()}
                digits["<"] = 0.01
            else:  # later codes: the chosen digit carries its weight, the rest is filler
                digits = {code[1:]: w[code], "<": 1 - w[code]}
            tokens.append(self._position(code[1:], digits, top))
        return tokens

    def _yes_no(self, text: str, category: str, top: int) -> list[dict[str, Any]]:
        p = self.p_yes(text, category)
        alts = {
            "Yes": 0.8 * p * _MASS,
            " yes": 0.2 * p * _MASS,
            "No": (1 - p) * _MASS,
            "I": 1 - _MASS,
        }
        return [self._position("Yes" if p >= 0.5 else "No", alts, top)]
