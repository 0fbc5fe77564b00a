"""What the fakes of chat models behind ``POST /v1/chat/completions`` share."""

from __future__ import annotations

import itertools
from typing import Any

from ._fake_http import ProviderFake, Reply

__all__ = ["ChatCompletionsFake"]


class ChatCompletionsFake(ProviderFake):
    """A fake OpenAI-compatible chat endpoint: the route, the bearer key, the replies.

    A subclass defines ``_complete(body)``, the reply to an authorised ``POST
    /v1/chat/completions``, and builds its answer with :meth:`_completion`.
    """

    _ids: itertools.count[int]

    def is_scored_path(self, path: str) -> bool:
        return path.endswith("/chat/completions")

    def error_reply(self, status: int, message: str, code: str | None = None) -> Reply:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return Reply(
            status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
        )

    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        if method != "POST" or path != "/v1/chat/completions":
            return self.error_reply(404, "not found")
        auth = headers.get("authorization", "")
        if not self.key_ok(auth[7:] if auth.lower().startswith("bearer ") else None):
            return self.error_reply(401, "Incorrect API key provided.", "invalid_api_key")
        return self._complete(body)

    def _complete(self, body: Any) -> Reply:
        raise NotImplementedError

    def _completion(
        self, body: dict[str, Any], id_prefix: str, choice: dict[str, Any], n_tokens: int
    ) -> Reply:
        """A 200 ``chat.completion`` with one choice, for the requested model."""
        return Reply(
            200,
            {
                "id": f"chatcmpl-{id_prefix}-{next(self._ids)}",
                "object": "chat.completion",
                "created": 0,
                "model": str(body.get("model") or ""),
                "choices": [choice],
                "usage": {"prompt_tokens": 1, "completion_tokens": n_tokens, "total_tokens": 1},
            },
        )
