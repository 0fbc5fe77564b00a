"""The small interface every moderation backend implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from .._result import ItemError, ModerationResult

__all__ = ["Backend", "BatchOutcome", "SyncBackend"]


@dataclass
class BatchOutcome:
    """What one batch call returned: the results, and rate-limit headers if any.

    ``rate_limit`` holds ``remaining_requests``/``reset_requests`` (and the same for
    tokens) in requests and seconds, when the endpoint sent them.
    """

    results: list[ModerationResult | ItemError]
    rate_limit: dict[str, float] | None = None


class Backend(ABC):
    """Scores batches of texts, returning one result per text in the endpoint's shape.

    Subclasses set :attr:`name` (``"openai"``, ``"replay"``, ``"local"``) and
    :attr:`model`, and implement :meth:`ascore`.  A backend must return exactly one
    :class:`ModerationResult` or :class:`ItemError` per input text, in input order, and
    raise :class:`~modkit.BackendError` (or a transient error the runner retries) for a
    failure of the whole batch.
    """

    #: Short backend name, part of every cache key.
    name: str = "backend"
    #: The model the backend was asked for; part of every cache key.
    model: str = ""
    #: The largest batch the backend accepts in one call (``None``: no limit).
    max_batch_size: int | None = None

    @property
    def cache_namespace(self) -> str:
        """What, besides the model and the text, identifies a cached result."""
        return self.name

    @abstractmethod
    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts (asynchronously)."""

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        """Score a batch and report rate-limit headers; the runner calls this."""
        return BatchOutcome(await self.ascore(texts))

    def score(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts (blocking); see :meth:`ascore`."""
        return asyncio.run(self.ascore(texts))

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release network resources; the default does nothing."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


class SyncBackend(Backend):
    """A backend whose work is synchronous (CPU-bound or file-based).

    Implement :meth:`score_batch`; :meth:`ascore` runs it in a worker thread so a
    server's event loop stays responsive.
    """

    @abstractmethod
    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts."""

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return await asyncio.to_thread(self.score_batch, list(texts))

    def score(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return self.score_batch(list(texts))
