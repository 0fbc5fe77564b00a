"""A fake Mistral moderation API: ``POST /v1/moderations`` and ``/v1/chat/moderations``."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ._fake_http import ProviderFake, Reply, fake_score
from ._fault_server import Fault

__all__ = [
    "MISTRAL_2603_CATEGORIES",
    "MISTRAL_ALIASES",
    "MISTRAL_CATEGORIES",
    "MistralModerationFake",
]

#: The nine categories of ``mistral-moderation-2411``, as the API spells them.
MISTRAL_CATEGORIES = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous_and_criminal_content",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
)
#: The categories of ``mistral-moderation-2603``: 2411's with ``dangerous_and_criminal_content``
#: split into ``dangerous`` and ``criminal``, and ``jailbreaking`` added.
MISTRAL_2603_CATEGORIES = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous",
    "criminal",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
    "jailbreaking",
)
#: Alias -> the model it resolves to (Mistral's ``-latest`` still names 2411).
MISTRAL_ALIASES = {"mistral-moderation-latest": "mistral-moderation-2411"}
_ROLES = ("system", "user", "assistant", "tool")
#: The harm kinds each category reacts to (the advice categories to none).
_KINDS: dict[str, set[str]] = {
    "sexual": {"sexual"},
    "hate_and_discrimination": {"hate"},
    "violence_and_threats": {"violence"},
    "dangerous_and_criminal_content": {"violence"},
    "dangerous": {"violence", "selfharm"},
    "criminal": {"violence"},
    "jailbreaking": set(),
    "selfharm": {"selfharm"},
    "health": set(),
    "financial": set(),
    "law": set(),
    "pii": set(),
}


class MistralModerationFake(ProviderFake):
    """Speaks Mistral's moderation wire format.

    Raw text: ``POST /v1/moderations {"model", "input": str | [str]}``. Chat:
    ``POST /v1/chat/moderations {"model", "input": [messages] | [[messages]]}``; each
    conversation's last turn is classified. Response: ``{"id", "model", "results":
    [{"categories": {name: bool}, "category_scores": {name: float}}]}`` with the answering
    model's categories (:data:`MISTRAL_2603_CATEGORIES` for ``mistral-moderation-2603``,
    else 2411's nine, :data:`MISTRAL_CATEGORIES`). The answering model is ``model`` when
    given, else the requested one with aliases resolved by ``aliases`` (by default
    ``mistral-moderation-latest`` -> ``mistral-moderation-2411``, as Mistral's alias still
    pointed after 2411's deprecation). Errors: 401 ``{"message": "Unauthorized"}``, 422 ``{"detail":
    [{"loc", "msg", "type"}]}`` for a malformed body, 429 ``{"message": "Requests rate
    limit exceeded"}`` when pushed. A pushed :meth:`Fault.drift <modkit.testing.Fault.drift>`
    sends ``null`` / missing / extra categories (:meth:`drift`).

    Scores: :func:`~modkit.testing.fake_score` of the classified text and the category;
    flagged at 0.5 (:meth:`score`).

    Parameters
    ----------
    api_key : str, optional
        The bearer token requests must carry (none: any).
    model : str, optional
        The model every response names (default: the requested model, aliases resolved).
    aliases : mapping of str to str, optional
        Alias -> resolved model (default :data:`MISTRAL_ALIASES`).
    latency, bias
        As for :class:`ProviderFake` (seconds per answer; word -> extra harm).

    Examples
    --------
    >>> from modkit.testing import MistralModerationFake
    >>> 0 <= MistralModerationFake().score("hello", "violence_and_threats") <= 1
    True
    """

    url_suffix = ""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str | None = None,
        aliases: Mapping[str, str] | None = None,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(api_key=api_key, latency=latency, bias=bias)
        self.model = model
        self.aliases = dict(MISTRAL_ALIASES if aliases is None else aliases)
        self._ids = itertools.count(1)

    def score(self, text: str, category: str) -> float:
        """The score this fake gives ``text`` in ``category``.

        Parameters
        ----------
        text : str
            The classified text (a conversation's last turn).
        category : str
            One of :data:`MISTRAL_CATEGORIES` or :data:`MISTRAL_2603_CATEGORIES`.

        Returns
        -------
        float
            In [0, 1], rounded to 9 decimals.
        """
        return round(fake_score(text, category, self.bias, _KINDS.get(category)), 9)

    def answering_model(self, requested: str) -> str:
        """The model that answers a request for ``requested``.

        Parameters
        ----------
        requested : str
            The request's ``model``.

        Returns
        -------
        str
            ``model`` when the fake was given one, else ``requested`` with aliases
            resolved.
        """
        return self.model or self.aliases.get(requested, requested)

    @staticmethod
    def categories_of(model: str) -> tuple[str, ...]:
        """The categories a response of ``model`` holds.

        Parameters
        ----------
        model : str
            The answering model.

        Returns
        -------
        tuple of str
            :data:`MISTRAL_2603_CATEGORIES` for ``mistral-moderation-2603``, else
            :data:`MISTRAL_CATEGORIES`.
        """
        return MISTRAL_2603_CATEGORIES if model.endswith("2603") else MISTRAL_CATEGORIES

    def is_scored_path(self, path: str) -> bool:
        return path.endswith("moderations")

    def drift(self, reply: Reply, fault: Fault) -> Reply:
        # every result: nulls as null (flag and score), missing left out of
        # category_scores, extra categories added (flagged at 0.5)
        for result in reply.body["results"]:
            for c in fault.nulls:
                result["categories"][c] = None
                result["category_scores"][c] = None
            for c in fault.missing:
                result["category_scores"].pop(c, None)
            for c, v in fault.extra:
                result["categories"][c] = v >= 0.5
                result["category_scores"][c] = v
        return reply

    def error_reply(self, status: int, message: str, code: str | None = None) -> Reply:
        if status == 422:
            return Reply(
                422,
                {
                    "detail": [
                        {"loc": ["body", "input"], "msg": message, "type": code or "value_error"}
                    ]
                },
            )
        return Reply(status, {"message": message, "request_id": "fake", "code": code})

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        if method != "POST" or path not in ("/v1/moderations", "/v1/chat/moderations"):
            return self.error_reply(404, "Not Found")
        auth = headers.get("authorization", "")
        if not self.key_ok(auth[7:] if auth.lower().startswith("bearer ") else None):
            return self.error_reply(401, "Unauthorized")
        if not isinstance(body, dict) or "input" not in body or "model" not in body:
            return self.error_reply(422, "Field required: model and input", "missing")
        value = body["input"]
        if path == "/v1/moderations":
            texts = [value] if isinstance(value, str) else value
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                return self.error_reply(422, "input must be a string or a list of strings")
        else:
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = [value]
            texts = []
            for conv in value if isinstance(value, list) else [None]:
                if (
                    not isinstance(conv, list)
                    or not conv
                    or not all(
                        isinstance(m, dict)
                        and m.get("role") in _ROLES
                        and isinstance(m.get("content"), str)
                        for m in conv
                    )
                ):
                    return self.error_reply(422, "each conversation is a list of messages")
                texts.append(conv[-1]["content"])
        if not texts:
            return self.error_reply(422, "input must not be empty")
        answering = self.answering_model(str(body["model"]))
        results = []
        for t in texts:
            scores = {c: self.score(t, c) for c in self.categories_of(answering)}
            results.append(
                {"categories": {c: s >= 0.5 for c, s in scores.items()}, "category_scores": scores}
            )
        rid = f"{next(self._ids):032x}"
        return Reply(200, {"id": rid, "model": answering, "results": results})
