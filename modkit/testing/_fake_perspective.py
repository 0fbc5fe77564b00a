"""A fake Perspective API: ``POST /v1alpha1/comments:analyze``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._fake_http import ProviderFake, Reply, fake_score
from ._fault_server import Fault

#: The harm kinds each attribute reacts to.
_KINDS = {
    "TOXICITY": {"hate", "insult", "violence"},
    "SEVERE_TOXICITY": {"hate", "violence"},
    "IDENTITY_ATTACK": {"hate"},
    "INSULT": {"insult", "hate"},
    "PROFANITY": {"insult"},
    "THREAT": {"violence"},
    "SEXUALLY_EXPLICIT": {"sexual"},
    "FLIRTATION": {"sexual"},
}

__all__ = ["PerspectiveFake"]

_PROD = (
    "ar",
    "zh",
    "cs",
    "nl",
    "en",
    "fr",
    "de",
    "hi",
    "id",
    "it",
    "ja",
    "ko",
    "pl",
    "pt",
    "ru",
    "es",
    "sv",
)
#: Attribute -> languages it supports (production attributes; two experimental ones).
DEFAULT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "TOXICITY": _PROD,
    "SEVERE_TOXICITY": _PROD,
    "IDENTITY_ATTACK": _PROD,
    "INSULT": _PROD,
    "PROFANITY": _PROD,
    "THREAT": _PROD,
    "SEXUALLY_EXPLICIT": ("en",),
    "FLIRTATION": ("en",),
}
# A toy language detector: the language whose marker words occur most (default en).
_MARKERS = {
    "es": {"el", "la", "que", "y", "de", "los", "una", "es"},
    "de": {"der", "die", "und", "ist", "nicht", "ich", "das"},
    "is": {"og", "að", "ekki", "það", "ég", "er", "hann"},
    "sw": {"na", "ya", "wa", "kwa", "ni", "hii"},
}
_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"


def detect_language(text: str) -> str:
    """The fake's language guess: marker words, default ``"en"``."""
    words = set(re.findall(r"\w+", text.lower()))
    best, n = "en", 1
    for lang, markers in _MARKERS.items():
        hits = len(words & markers)
        if hits > n:
            best, n = lang, hits
    return best


class PerspectiveFake(ProviderFake):
    """Speaks the Perspective API's ``comments:analyze`` wire format.

    Request: ``{"comment": {"text"}, "requestedAttributes": {NAME: {}}, "languages",
    "doNotStore", "dropUnsupportedAttributes"}``, the key in the ``key`` query parameter
    or the ``x-goog-api-key`` header. Response: ``{"attributeScores": {NAME:
    {"spanScores": [...], "summaryScore": {"value", "type": "PROBABILITY"}}},
    "languages", "detectedLanguages"}``. Errors in Google's shape ``{"error": {"code",
    "message", "status", "details"}}``: 400 ``API_KEY_INVALID`` for a wrong key, 400
    with ``errorType`` ``COMMENT_EMPTY``, ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`` (naming
    the attribute) or an unknown attribute; 429 ``RESOURCE_EXHAUSTED`` when pushed.

    Scores: :func:`~modkit.testing.fake_score` of the text and attribute (:meth:`score`).
    Languages: the request's, else a toy detector (:func:`detect_language`). A pushed
    :meth:`Fault.drift <modkit.testing.Fault.drift>` answers ``"summaryScore": {"value":
    null}`` for its ``nulls``, leaves its ``missing`` out and adds its ``extra``
    attributes.

    Parameters
    ----------
    api_key : str, optional
        The key requests must carry (``key`` query parameter or ``x-goog-api-key``).
    attributes : mapping of str to sequence of str, optional
        Attribute -> supported languages (default: production attributes in 17
        languages, ``SEXUALLY_EXPLICIT`` and ``FLIRTATION`` in English only).
    latency, bias
        As for :class:`ProviderFake` (seconds per answer; word -> extra harm).

    Examples
    --------
    >>> from modkit.testing import PerspectiveFake
    >>> fake = PerspectiveFake()
    >>> 0 <= fake.score("hello", "TOXICITY") <= 1
    True
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        attributes: Mapping[str, Sequence[str]] | None = None,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.attributes = {k: tuple(v) for k, v in (attributes or DEFAULT_ATTRIBUTES).items()}

    def score(self, text: str, attribute: str) -> float:
        """The summary score this fake gives ``text`` for ``attribute``.

        Parameters
        ----------
        text : str
            The comment.
        attribute : str
            A Perspective attribute (``TOXICITY``, ``THREAT``, ...).

        Returns
        -------
        float
            A probability in [0, 1], rounded to 9 decimals.
        """
        return round(fake_score(text, attribute, self.bias, _KINDS.get(attribute)), 9)

    def is_scored_path(self, path: str) -> bool:
        return path.endswith("comments:analyze")

    def drift(self, reply: Reply, fault: Fault) -> Reply:
        # nulls with "summaryScore": {"value": null}, missing left out of attributeScores,
        # extra attributes added
        scores = reply.body["attributeScores"]
        for attr in fault.missing:
            scores.pop(attr, None)
        for attr in fault.nulls:
            if attr in scores:
                scores[attr]["summaryScore"]["value"] = None
        for attr, v in fault.extra:
            scores[attr] = {"spanScores": [], "summaryScore": {"value": v, "type": "PROBABILITY"}}
        return reply

    def error_reply(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> Reply:
        """The error in Google's shape ``{"error": {"code", "message", "status", "details"}}``.

        Parameters
        ----------
        status : int
            The HTTP status (also the body's ``code``).
        message : str
            What went wrong.
        code : str, optional
            The body's ``status`` (default: Google's name for ``status``, e.g.
            ``INVALID_ARGUMENT`` for 400).
        details : list of dict, optional
            The ``details`` entries (e.g. an ``errorType``).

        Returns
        -------
        Reply
        """
        names = {
            400: "INVALID_ARGUMENT",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            503: "UNAVAILABLE",
        }
        err = {"code": status, "message": message, "status": code or names.get(status, "INTERNAL")}
        if details:
            err["details"] = details
        return Reply(status, {"error": err})

    def _comment_error(self, message: str, error_type: str, **extra: Any) -> Reply:
        detail = {"@type": _TYPE, "errorType": error_type, **extra}
        return self.error_reply(400, message, details=[detail])

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        if method != "POST" or path != "/v1alpha1/comments:analyze":
            return self.error_reply(404, "Method not found.")
        if not self.key_ok(query.get("key") or headers.get("x-goog-api-key")):
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            return self.error_reply(
                400, "API key not valid. Please pass a valid API key.", details=[info]
            )
        if not isinstance(body, dict):
            return self.error_reply(400, "Invalid JSON payload received.")
        comment = body.get("comment") or {}
        text = comment.get("text") if isinstance(comment, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self._comment_error("Comment must be non-empty.", "COMMENT_EMPTY")
        requested = body.get("requestedAttributes")
        if not isinstance(requested, dict) or not requested:
            return self.error_reply(400, "requestedAttributes must be a non-empty map.")
        unknown = [a for a in requested if a not in self.attributes]
        if unknown:
            return self.error_reply(400, f"Unknown attribute: {unknown[0]}")
        detected = detect_language(text)
        langs = body.get("languages") or [detected]
        scores: dict[str, Any] = {}
        for attr in requested:
            unsupported = [lang for lang in langs if lang not in self.attributes[attr]]
            if unsupported:
                if body.get("dropUnsupportedAttributes"):
                    continue
                return self._comment_error(
                    f"Attribute {attr} does not support request languages: {','.join(unsupported)}",
                    "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                    languageNotSupportedByAttributeError={
                        "detectedLanguages": [detected],
                        "attribute": attr,
                    },
                )
            value = self.score(text, attr)
            score = {"value": value, "type": "PROBABILITY"}
            scores[attr] = {
                "spanScores": [{"begin": 0, "end": len(text), "score": score}],
                "summaryScore": score,
            }
        return Reply(
            200, {"attributeScores": scores, "languages": langs, "detectedLanguages": [detected]}
        )
