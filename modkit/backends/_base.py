"""The small interface every moderation backend implements."""

from __future__ import annotations

import asyncio
import concurrent.futures
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from .._conversation import is_conversation
from .._result import ItemError, ModerationResult

__all__ = ["Backend", "BatchOutcome", "SyncBackend", "refusal", "refuse_parts", "run_sync"]

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a new event loop, also from inside a running one.

    Inside a running loop (Jupyter) the coroutine runs in a worker thread with its own
    loop, so the caller's loop is never blocked re-entrantly.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_boxed(factory)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="modkit") as pool:
        return pool.submit(_run_boxed, factory).result()


def _run_boxed(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` whose main task returns nothing: the result is handed over in a
    list. Python 3.11's ``asyncio.run`` formats ``repr(task)`` (its result included) when
    it restores the SIGINT handler, which for a results frame costs about 0.1 s per call."""
    box: list[T] = []

    async def main() -> None:
        box.append(await factory())

    asyncio.run(main())
    return box[0]


@dataclass
class BatchOutcome:
    """What one batch call returned: the results, and rate-limit headers if any.

    Attributes
    ----------
    results : list of ModerationResult or ItemError
        One per input, in input order.
    rate_limit : dict of str to float, optional
        ``remaining_requests`` (requests) / ``reset_requests`` (seconds), and the same
        for tokens (tokens / seconds), when the endpoint sent them.

    Examples
    --------
    >>> from modkit import ItemError
    >>> from modkit.backends import BatchOutcome
    >>> outcome = BatchOutcome([ItemError("empty text")], {"remaining_requests": 99.0})
    >>> len(outcome.results), outcome.rate_limit["remaining_requests"]
    (1, 99.0)
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

    A backend is a context manager, sync and async (``with backend:`` /
    ``async with backend:``), closed on exit. Ownership follows httpx: whoever makes a
    backend closes it. :func:`modkit.moderate` closes a backend it made from a name,
    never one passed in.

    Examples
    --------
    A backend that flags texts containing "hate" (for a CPU-bound scorer, subclass
    :class:`SyncBackend` instead):

    >>> import asyncio
    >>> from modkit import ModerationResult
    >>> from modkit.backends import Backend
    >>> class Keyword(Backend):
    ...     name, model = "keyword", "v1"
    ...     async def ascore(self, texts):
    ...         hits = ["hate" in t for t in texts]
    ...         return [ModerationResult(h, {"hate": h}, {"hate": float(h)}) for h in hits]
    >>> with Keyword() as backend:
    ...     [r.flagged for r in backend.score(["hello", "I hate you"])]
    [False, True]
    """

    #: Short backend name, part of every cache key.
    name: str = "backend"
    #: The model the backend was asked for; part of every cache key.
    model: str = ""
    #: The largest batch the backend accepts in one call (``None``: no limit).
    max_batch_size: int | None = None
    #: The batch size :func:`modkit.moderate` uses when it is given none (``None``: 32,
    #: the size for an HTTP endpoint; a local model runs faster on larger batches).
    preferred_batch_size: int | None = None
    #: Whether :meth:`ascore_batch` takes multimodal inputs (a list of text / image_url
    #: parts) besides texts. Callers answer such inputs for other backends with
    #: :func:`refuse_parts` and never send them.
    accepts_images: bool = False
    #: Whether :meth:`ascore_batch` takes a whole conversation (a list of role/content
    #: messages) as one item (``moderate(..., conversation="native")``); guard models do.
    accepts_conversations: bool = False

    @property
    def cache_namespace(self) -> str:
        """What, besides the model and the text, identifies a cached result."""
        return self.name

    @abstractmethod
    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts (asynchronously).

        Parameters
        ----------
        texts : sequence of str
            The batch (at most :attr:`max_batch_size` texts; with
            :attr:`accepts_images`, an item may be a list of multimodal parts; with
            :attr:`accepts_conversations`, a conversation: a list of role/content
            messages).

        Returns
        -------
        list of ModerationResult or ItemError
            Exactly one per text, in input order; an :class:`ItemError` for a text the
            endpoint could not score.

        Raises
        ------
        BackendError
            A failure of the whole batch that retrying will not fix
            (:class:`~modkit.AuthenticationError`, :class:`~modkit.QuotaExceededError`,
            :class:`~modkit.BatchRejectedError` among them).
        TransientBackendError
            A failure worth retrying (429, 5xx, connection error, timeout).
        """

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        """Score a batch and report rate-limit headers; the runner calls this.

        Parameters
        ----------
        texts : sequence of str
            As in :meth:`ascore`.

        Returns
        -------
        BatchOutcome
            The results of :meth:`ascore` (the default reports no rate limit).

        Raises
        ------
        BackendError, TransientBackendError
            As :meth:`ascore`.
        """
        return BatchOutcome(await self.ascore(texts))

    def score(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts (blocking); see :meth:`ascore`.

        Parameters
        ----------
        texts : sequence of str
            As in :meth:`ascore`.

        Returns
        -------
        list of ModerationResult or ItemError
            One per text, in input order.

        Raises
        ------
        BackendError, TransientBackendError
            As :meth:`ascore` (no retry here: :func:`modkit.moderate` retries).
        """
        return asyncio.run(self.ascore(texts))

    #: True once :meth:`close` / :meth:`aclose` ran; :func:`modkit.moderate` refuses it.
    closed: bool = False

    async def arelease(self) -> None:  # noqa: B027 - optional hook
        """Release what is bound to the running event loop (e.g. an HTTP connection pool).

        The backend stays open and opens what it needs again on next use.
        :func:`modkit.moderate` calls this before the event loop it started ends. The
        default does nothing.
        """

    async def aclose(self) -> None:
        """Close the backend: release its resources; it is not to be used afterwards.

        Subclasses that hold resources override :meth:`arelease` (and call
        ``super().aclose()`` if they override this).
        """
        await self.arelease()
        self.closed = True

    def close(self) -> None:
        """Blocking :meth:`aclose`."""
        run_sync(self.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def refuse_parts(backend: Backend, parts: Sequence[Any], where: str = "input") -> ItemError:
    """The per-item error for a multimodal input given to a backend that scores texts only.

    Parameters
    ----------
    backend : Backend
        A backend whose :attr:`~Backend.accepts_images` is false.
    parts : sequence of dict
        The input's parts (validated).
    where : str, default "input"
        How the input is named in the message (``"row 3: input"``, ``"input[2]"``).

    Returns
    -------
    ItemError
        Code ``"unsupported_input_type"``; the message names the first image part (or
        says a list of parts needs a multimodal backend when all parts are texts).

    Examples
    --------
    >>> import modkit
    >>> from modkit.backends import SyncBackend, refuse_parts
    >>> class TextOnly(SyncBackend):
    ...     name = "text-only"
    ...     def score_batch(self, texts):
    ...         raise NotImplementedError
    >>> parts = modkit.images.multimodal_input("a caption", ["https://example.org/cat.png"])
    >>> error = refuse_parts(TextOnly(), parts, where="row 0: input")
    >>> error.code
    'unsupported_input_type'
    >>> print(error.message)
    row 0: input[1] is an image part: backend 'text-only' scores text only (...)
    """
    images = [
        i for i, p in enumerate(parts) if isinstance(p, dict) and p.get("type") == "image_url"
    ]
    if images:
        message = (
            f"{where}[{images[0]}] is an image part: backend {backend.name!r} scores text only "
            "(use the openai backend, or a guard model that takes images: Llama Guard 4, "
            "ShieldGemma 2)"
        )
    else:
        message = (
            f"{where} is a list of parts: backend {backend.name!r} takes plain texts "
            "(pass the text itself, or use the openai backend)"
        )
    return ItemError(message, "unsupported_input_type")


def refusal(backend: Backend, value: Any) -> ItemError | None:
    """The per-item error for a list input (parts or a conversation) ``backend`` cannot
    take, or ``None`` when it takes it.

    Parameters
    ----------
    backend : Backend
        The backend the input would go to.
    value : list of dict
        A multimodal input (parts) or a conversation (messages), validated.

    Returns
    -------
    ItemError or None
        Code ``"unsupported_input_type"``: a conversation for a backend without
        :attr:`~Backend.accepts_conversations`, or an image for one without
        :attr:`~Backend.accepts_images` (naming the message and part).

    Examples
    --------
    >>> import modkit
    >>> from modkit.backends import SyncBackend, refusal
    >>> class TextOnly(SyncBackend):
    ...     name = "text-only"
    ...     def score_batch(self, texts):
    ...         raise NotImplementedError
    >>> print(refusal(TextOnly(), [{"role": "user", "content": "hi"}]).message)
    input is a conversation: backend 'text-only' does not take conversations (...)
    """
    if is_conversation(value):
        if not backend.accepts_conversations:
            return ItemError(
                f"input is a conversation: backend {backend.name!r} does not take "
                "conversations (moderate(..., conversation='per_message', 'last_turn' or "
                "'window:k') splits them)",
                "unsupported_input_type",
            )
        if backend.accepts_images:
            return None
        for i, message in enumerate(value):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in content
            ):
                return refuse_parts(backend, content, where=f"conversation[{i}].content")
        return None
    return None if backend.accepts_images else refuse_parts(backend, value)


class SyncBackend(Backend):
    """A backend whose work is synchronous (CPU-bound or file-based).

    Implement :meth:`score_batch`; :meth:`ascore` runs it in a worker thread so a
    server's event loop stays responsive.

    Examples
    --------
    >>> from modkit import ModerationResult
    >>> from modkit.backends import SyncBackend
    >>> class Length(SyncBackend):
    ...     name, model = "length", "v1"
    ...     def score_batch(self, texts):
    ...         return [
    ...             ModerationResult(False, {}, {"harassment": min(len(t) / 100, 1.0)})
    ...             for t in texts
    ...         ]
    >>> Length().score(["a" * 30])[0].category_scores
    {'harassment': 0.3}
    """

    @abstractmethod
    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score a batch of texts (blocking; :meth:`ascore` runs it in a thread).

        Parameters
        ----------
        texts : list of str
            The batch, as in :meth:`Backend.ascore`.

        Returns
        -------
        list of ModerationResult or ItemError
            Exactly one per text, in input order.

        Raises
        ------
        BackendError
            A failure of the whole batch that retrying will not fix.
        TransientBackendError
            A failure worth retrying (a backend that calls a service: 429, 5xx,
            connection error, timeout).
        """

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return await asyncio.to_thread(self.score_batch, list(texts))

    def score(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return self.score_batch(list(texts))
