"""Exceptions raised by modkit.

Every error modkit raises on purpose derives from :class:`ModkitError`, so a caller can
catch one type, and the CLI can print a one-line message instead of a traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BatchRejectedError",
    "DatasetError",
    "InputError",
    "ItemErrorsRaised",
    "ModkitError",
    "QuotaExceededError",
    "TransientBackendError",
]


class ModkitError(Exception):
    """Base class of every error modkit raises on purpose.

    Attributes
    ----------
    partial : pandas.DataFrame or None
        Set by :func:`modkit.moderate` when a run stops early: every result received
        before the error, with the unscored rows' ``error`` column saying why.
    """

    partial: Any = None


class InputError(ModkitError, ValueError):
    """Input data is malformed: the message names the file, line, column or field."""


class DatasetError(ModkitError):
    """A registry data set is missing, corrupt, or cannot be parsed."""


class BackendError(ModkitError):
    """A moderation backend failed in a way that retrying will not fix.

    Parameters
    ----------
    message : str
        What went wrong, never containing an API key.
    status_code : int, optional
        The HTTP status code of the failing response, if any.
    code : str, optional
        The error ``code`` of the endpoint's error body, if any.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class AuthenticationError(BackendError):
    """The endpoint rejected the credentials (HTTP 401/403)."""


class QuotaExceededError(BackendError):
    """The account has no quota left (HTTP 429 with code ``insufficient_quota``)."""


class ItemErrorsRaised(ModkitError):
    """Raised by ``moderate(..., errors="raise")`` after a run in which items failed.

    The run is finished first, so :attr:`partial` holds every result.
    """


class TransientBackendError(BackendError):
    """A failure worth retrying (429, 408, 409, 5xx, connection error, timeout, bad body).

    Parameters
    ----------
    retry_after : float, optional
        Seconds the server asked the client to wait (``retry-after-ms``/``retry-after``).
    rate_limited : bool
        True for a 429: the runner slows the whole run, not only this request.
    unreachable : bool
        True when no connection could be made at all (refused, or no such host): a run
        that has never reached the endpoint stops after a few of these.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        rate_limited: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.unreachable = unreachable


class BatchRejectedError(BackendError):
    """The endpoint rejected a request because of its input (HTTP 400/413/422).

    The runner splits the batch to find the texts at fault; each gets an ``error``
    value and the rest are scored.
    """
