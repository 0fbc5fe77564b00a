"""Which snapshot an alias (``omni-moderation-latest``) answers with, right now."""

from __future__ import annotations

import re
from typing import Any

from .._errors import BatchRejectedError, TransientBackendError
from .._result import ModerationResult
from .._validation import validate_params

__all__ = ["PROBE_TEXT", "is_alias", "resolve_snapshot"]

_DATED = re.compile(r"\d{4}-\d{2}-\d{2}$")

#: The text of the one small request that asks an alias which snapshot answers.
PROBE_TEXT = "Which snapshot answers this request?"


@validate_params({"model": [str]})
def is_alias(model: str) -> bool:
    """True for a model name that is not a dated snapshot.

    Parameters
    ----------
    model : str

    Returns
    -------
    bool

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> is_alias("omni-moderation-latest"), is_alias("omni-moderation-2024-09-26")
    (True, False)
    """
    return not _DATED.search(model)


async def resolve_snapshot(backend: Any, model: str | None = None) -> str | None:
    """The snapshot that answers for ``model`` now, from one small request.

    Parameters
    ----------
    backend : Backend
        Only a backend with ``resolves_aliases = True`` (the OpenAI backend) is asked;
        any other answers with its own model, which is returned as it is.
    model : str, optional
        Default ``backend.model``.

    Returns
    -------
    str or None
        The snapshot the response names (``model`` itself when it is a snapshot), or
        None when the request failed in a way worth retrying later.

    Raises
    ------
    AuthenticationError, QuotaExceededError, BackendError
        As any request would.

    Examples
    --------
    >>> import asyncio, modkit
    >>> from modkit.testing import FaultServer
    >>> async def today(backend):
    ...     try:
    ...         return await resolve_snapshot(backend)
    ...     finally:
    ...         await backend.aclose()
    >>> with FaultServer(model="omni-moderation-2024-09-26") as srv:
    ...     asyncio.run(today(modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-unused")))
    'omni-moderation-2024-09-26'
    """
    model = model or backend.model
    if not getattr(backend, "resolves_aliases", False) or not is_alias(model):
        return model
    try:
        outcome = await backend.ascore_batch([PROBE_TEXT])
    except (TransientBackendError, BatchRejectedError):
        return None
    res = outcome.results[0] if outcome.results else None
    return res.model if isinstance(res, ModerationResult) and res.model else None
