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
    "ServiceEndWarning",
    "TransientBackendError",
]


class ModkitError(Exception):
    """Base class of every error modkit raises on purpose.

    Attributes
    ----------
    partial : pandas.DataFrame or None
        Set by :func:`modkit.moderate` when a run stops early: every result received
        before the error, with the unscored rows' ``error`` column saying why.

    Examples
    --------
    One ``except`` catches every error modkit raises on purpose:

    >>> import modkit
    >>> try:
    ...     modkit.parse_objective("precision>=2")
    ... except modkit.ModkitError as exc:
    ...     print(type(exc).__name__)
    InputError
    """

    partial: Any = None


class InputError(ModkitError, ValueError):
    """Input data is malformed: the message names the file, line, column or field.

    Also a :class:`ValueError`, so code that catches ``ValueError`` keeps working.

    Examples
    --------
    >>> import modkit
    >>> modkit.ThresholdSet.from_thresholds({"violence": 1.5})
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: category 'violence' block: threshold 1.5 is outside [0, 1]
    >>> issubclass(modkit.InputError, ValueError)
    True
    """


class DatasetError(ModkitError):
    """A registry data set is missing, corrupt, or cannot be parsed.

    Examples
    --------
    >>> import modkit
    >>> modkit.dataset_info("no-such-set")
    Traceback (most recent call last):
    ...
    modkit._errors.DatasetError: unknown data set 'no-such-set'...
    """


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

    Examples
    --------
    >>> from modkit import BackendError
    >>> error = BackendError("HTTP 404: no such model", status_code=404, code="model_not_found")
    >>> error.status_code, error.code, str(error)
    (404, 'model_not_found', 'HTTP 404: no such model')
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class AuthenticationError(BackendError):
    """The endpoint rejected the credentials (HTTP 401/403), or no key was given.

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import Fault, FaultServer
    >>> with FaultServer() as server:
    ...     server.push(Fault.unauthorized())
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-wrong")
    ...     try:
    ...         modkit.moderate(["hello"], backend=backend, cache=None, progress=False)
    ...     except modkit.AuthenticationError as exc:
    ...         error = exc
    >>> error.status_code, isinstance(error, modkit.BackendError)
    (401, True)
    """


class QuotaExceededError(BackendError):
    """The account has no quota left (HTTP 429 with code ``insufficient_quota``).

    Not retried, unlike other 429s (:class:`TransientBackendError`).

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import Fault, FaultServer
    >>> with FaultServer() as server:
    ...     server.push(Fault.quota())
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     try:
    ...         modkit.moderate(["hello"], backend=backend, cache=None, progress=False)
    ...     except modkit.QuotaExceededError as exc:
    ...         error = exc
    >>> error.status_code, error.code
    (429, 'insufficient_quota')
    """


class ItemErrorsRaised(ModkitError):
    """Raised by ``moderate(..., errors="raise")`` after a run in which items failed.

    The run is finished first, so :attr:`partial` holds every result.

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import Fault, FaultServer
    >>> with FaultServer() as server:
    ...     server.push(Fault.bad_request("input[0] is not acceptable"))
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     try:
    ...         _ = modkit.moderate(["hello"], backend=backend, cache=None, progress=False,
    ...                             errors="raise")
    ...     except modkit.ItemErrorsRaised as exc:
    ...         error = exc
    >>> len(error.partial), bool(error.partial.loc[0, "error"])
    (1, True)
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

    Examples
    --------
    >>> from modkit import BackendError, TransientBackendError
    >>> error = TransientBackendError(
    ...     "HTTP 429", status_code=429, retry_after=2.0, rate_limited=True
    ... )
    >>> isinstance(error, BackendError), error.retry_after, error.rate_limited
    (True, 2.0, True)
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

    Examples
    --------
    >>> from modkit import BackendError, BatchRejectedError
    >>> error = BatchRejectedError("input[1] is too long", status_code=400)
    >>> isinstance(error, BackendError), error.status_code
    (True, 400)
    """


class ServiceEndWarning(UserWarning):
    """A backend is used after its provider's announced end of service.

    The message names the end date and the commands that keep the provider's behaviour
    (replaying recorded scores) and move thresholds to a successor.

    Examples
    --------
    >>> import warnings
    >>> import modkit
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = modkit.backends.PerspectiveBackend(
    ...         base_url="http://127.0.0.1:9", api_key="k", today="2027-01-02"
    ...     )
    >>> caught[0].category.__name__
    'ServiceEndWarning'
    """
