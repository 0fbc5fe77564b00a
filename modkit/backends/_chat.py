"""The shared lifecycle of backends on an OpenAI-compatible ``/v1/chat/completions``.

:class:`ChatModelBackend` holds what the chat-model backends (guard, policy, Qwen3Guard,
Granite Guardian 3.3) share: the API key, one ``openai.AsyncOpenAI`` client per event loop,
the closed check, a request whose transport and status errors map onto modkit's errors,
and the scoring of a batch one text at a time, concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import BackendError, TransientBackendError
from .._result import ItemError, ModerationResult
from ._base import Backend, BatchOutcome
from ._provider_http import LoopBound, error_for_status, read_key, scrub

__all__ = ["ChatModelBackend", "chat_turns"]


def chat_turns(text: Any, mode: str, context: str) -> list[dict[str, Any]]:
    """``[user text]`` (``mode="prompt"``), or ``[user context, assistant text]``."""
    if mode == "prompt":
        return [{"role": "user", "content": text}]
    return [
        {"role": "user", "content": context},
        {"role": "assistant", "content": text},
    ]


class ChatModelBackend(Backend):
    """Base of the backends that call a model on an OpenAI-compatible chat endpoint.

    A subclass sets ``model``, ``base_url`` and calls :meth:`_init_client` in its
    ``__init__``, and defines ``_score_one(text)``. Messages name the backend by its
    ``name`` (``"guard: timed out after 60s"``).
    """

    model: str
    base_url: str
    api_key_env: str
    timeout: float

    def _init_client(self, api_key: str | None, api_key_env: str, timeout: float) -> None:
        """Keep the key (never shown) and make the per-event-loop clients."""
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.__key = read_key(api_key, api_key_env, self.name, required=False)
        self._clients = LoopBound(self._make_client, lambda c: c.close())

    def _make_client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            api_key=self.__key.reveal() or "unused",
            base_url=self.base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def _get_client(self) -> Any:
        if self.closed:
            raise BackendError(f"this {type(self).__name__} is closed; make a new one")
        return self._clients.get()

    async def arelease(self) -> None:
        """Close the client of the running event loop (its connections belong to it)."""
        await self._clients.release()

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        results = await asyncio.gather(*(self._score_one(t) for t in texts))
        return BatchOutcome(list(results))

    async def _score_one(self, text: Any) -> ModerationResult | ItemError:
        raise NotImplementedError

    async def _chat_completion(self, **kwargs: Any) -> Any:
        """One ``chat.completions.create`` call; its response has at least one choice.

        Raises
        ------
        TransientBackendError
            On a timeout, a connection error or a response without choices.
        BackendError
            On an error status (:func:`error_for_status`).
        """
        import openai

        client = self._get_client()
        try:
            resp = await client.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise TransientBackendError(f"{self.name}: timed out after {self.timeout:g}s") from None
        except openai.APIConnectionError as exc:
            raise TransientBackendError(
                f"{self.name}: connection error: {scrub(str(exc), self.__key)}"
            ) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        if not resp.choices:
            raise TransientBackendError(f"{self.name}: a chat completion without choices")
        return resp

    @staticmethod
    def _tokens(content: Any) -> list[dict[str, Any]]:
        """``logprobs.content`` as plain dicts (``token``, ``logprob``, ``top_logprobs``)."""
        return [
            {
                "token": t.token,
                "logprob": t.logprob,
                "top_logprobs": [
                    {"token": a.token, "logprob": a.logprob} for a in t.top_logprobs or []
                ],
            }
            for t in content
        ]

    def _status_error(self, exc: Any) -> BackendError:
        body = getattr(exc, "body", None)
        message = str(getattr(exc, "message", "") or exc)
        if isinstance(body, Mapping):
            inner = body.get("error", body)
            if isinstance(inner, Mapping) and inner.get("message"):
                message = str(inner["message"])
        return error_for_status(
            int(exc.status_code),
            scrub(message, self.__key),
            provider=self.name,
            api_key_env=self.api_key_env,
            headers={k.lower(): v for k, v in exc.response.headers.items()},
            code=getattr(exc, "code", None),
        )
