"""A fault-injecting OpenAI-compatible moderation server, for tests and benchmarks.

It is a small HTTP/1.1 server written on raw :mod:`asyncio` streams (so it can close a
socket without answering, or send half a body), run in a background thread on
127.0.0.1 with a free port.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import InputError, ModkitError
from .._images import IMAGE_CATEGORIES, check_parts, input_types
from .._taxonomy import CATEGORIES
from .._validation import SequenceOf, validate_params
from ._batch_api import FakeBatchAPI

__all__ = ["Fault", "FaultServer", "RecordedRequest", "fake_multimodal_result", "fake_result"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

FaultKind = Literal["delay", "status", "drop", "truncate", "raw", "drift"]


@dataclass(frozen=True)
class Fault:
    """What the server does to one moderation request instead of answering normally.

    Build faults with the class methods (:meth:`rate_limited`, :meth:`quota`,
    :meth:`unauthorized`, :meth:`server_error`, :meth:`bad_request`, :meth:`drop`,
    :meth:`truncate`, :meth:`slow`) and queue them with :meth:`FaultServer.push`.

    Attributes
    ----------
    kind : {"delay", "status", "drop", "truncate", "raw", "drift"}
        ``"delay"`` answers normally after :attr:`delay` extra seconds; ``"status"`` sends
        an error response in the OpenAI error shape; ``"drop"`` closes the connection
        without a response; ``"truncate"`` sends a 200 with the first half of the body;
        ``"raw"`` sends :attr:`body` as it is, with :attr:`status`.
    status : int
        The HTTP status of a ``"status"`` fault.
    type, code, message : str
        The ``error`` object's fields of a ``"status"`` fault.
    headers : tuple of (str, str)
        Extra response headers (``retry-after`` and the like).
    delay : float
        Seconds to wait before acting, on top of the server's latency.
    echo_key : bool
        A 401 that echoes the bearer token in its message (a misbehaving server), to
        prove that clients scrub it.
    body : bytes
        The body of a ``"raw"`` fault.
    nulls, missing : tuple of str
        Of a ``"drift"`` fault: categories sent as ``null`` (in ``categories`` and
        ``category_scores``), and categories left out of ``category_scores``.
    extra : tuple of (str, float)
        Of a ``"drift"`` fault: categories the endpoint does not know yet, with a score.

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import Fault, FaultServer
    >>> with FaultServer() as server:
    ...     server.push(Fault.server_error(503), Fault.rate_limited(retry_after=0))
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     df = modkit.moderate(["hello"], backend=backend, cache=None, progress=False)
    ...     outcomes = [r.outcome for r in server.moderation_requests()]
    >>> outcomes, df.loc[0, "error"]
    (['fault', 'fault', 'ok'], '')
    """

    kind: FaultKind
    status: int = 200
    type: str = ""
    code: str | None = None
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    echo_key: bool = False
    body: bytes = b""
    nulls: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[tuple[str, float], ...] = ()

    @classmethod
    def rate_limited(
        cls, retry_after: float | None = None, *, retry_after_ms: float | None = None
    ) -> Fault:
        """A 429 ``rate_limit_exceeded``, optionally with ``retry-after``(``-ms``) headers.

        Parameters
        ----------
        retry_after : float, optional
            Seconds, sent as the ``retry-after`` header.
        retry_after_ms : float, optional
            Milliseconds, sent as the ``retry-after-ms`` header.

        Returns
        -------
        Fault
        """
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("retry-after", f"{retry_after:g}"))
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", f"{retry_after_ms:g}"))
        return cls(
            "status",
            429,
            "requests",
            "rate_limit_exceeded",
            "Rate limit reached for requests. Please try again later.",
            tuple(headers),
        )

    @classmethod
    def quota(cls) -> Fault:
        """A 429 ``insufficient_quota`` (no credit left: clients must not retry).

        Returns
        -------
        Fault
        """
        return cls(
            "status",
            429,
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        )

    @classmethod
    def unauthorized(cls, *, echo_key: bool = False) -> Fault:
        """A 401 ``invalid_api_key``.

        Parameters
        ----------
        echo_key : bool, default False
            The message repeats the request's bearer token (a misbehaving server).

        Returns
        -------
        Fault
        """
        return cls(
            "status",
            401,
            "invalid_request_error",
            "invalid_api_key",
            "Incorrect API key provided.",
            echo_key=echo_key,
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A 5xx (or any status) ``server_error``.

        Parameters
        ----------
        status : int, default 500
            The HTTP status.

        Returns
        -------
        Fault
        """
        return cls("status", status, "server_error", None, "The server had an error.")

    @classmethod
    def bad_request(cls, message: str = "Invalid request.", code: str | None = None) -> Fault:
        """A 400 ``invalid_request_error`` for the whole request.

        Parameters
        ----------
        message : str, default "Invalid request."
            The error's ``message``.
        code : str, optional
            The error's ``code``.

        Returns
        -------
        Fault
        """
        return cls("status", 400, "invalid_request_error", code, message)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection after reading the request, without a response.

        Returns
        -------
        Fault
        """
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        """A 200 whose JSON body is cut in half (its Content-Length matches the half).

        Returns
        -------
        Fault
        """
        return cls("truncate")

    @classmethod
    def raw(cls, body: bytes | str, status: int = 200) -> Fault:
        """Send ``body`` verbatim (e.g. valid JSON that is not a moderation response).

        Parameters
        ----------
        body : bytes or str
            The response body (a str is sent as UTF-8).
        status : int, default 200
            The HTTP status.

        Returns
        -------
        Fault
        """
        data = body.encode() if isinstance(body, str) else bytes(body)
        return cls("raw", status, body=data)

    @classmethod
    def drift(
        cls,
        *,
        nulls: tuple[str, ...] = ("illicit", "illicit/violent"),
        missing: tuple[str, ...] = (),
        extra: dict[str, float] | None = None,
    ) -> Fault:
        """A 200 whose results drifted in shape, as the real endpoint's did for a while.

        By default ``illicit`` and ``illicit/violent`` are ``null`` in ``categories`` and
        ``category_scores``; ``missing`` categories are left out of ``category_scores``;
        ``extra`` adds categories the client does not know.

        Parameters
        ----------
        nulls : tuple of str, default ("illicit", "illicit/violent")
            Categories sent as ``null``.
        missing : tuple of str, default ()
            Categories left out of ``category_scores``.
        extra : dict of str to float, optional
            Unknown categories and their scores, added.

        Returns
        -------
        Fault
        """
        return cls(
            "drift",
            nulls=tuple(nulls),
            missing=tuple(missing),
            extra=tuple((extra or {}).items()),
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, ``seconds`` later than usual.

        Parameters
        ----------
        seconds : float
            The extra delay, in seconds.

        Returns
        -------
        Fault
        """
        return cls("delay", delay=float(seconds))


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes
    ----------
    method, path : str
        The request line.
    headers : dict of str to str
        Lower-cased header names; the ``authorization`` value is replaced by
        ``"<redacted>"`` (use :meth:`FaultServer.received_key` to ask about a key).
    inputs : list of str or None
        The ``input`` texts of a moderation request (None otherwise, or if unreadable).
    model : str or None
        The ``model`` the request asked for.
    status : int or None
        The status sent back (None: the connection was dropped).
    outcome : str
        ``"ok"``, ``"truncated"``, ``"dropped"``, ``"rate_limited"`` (by the limiter),
        ``"unauthorized"``, ``"rejected"`` (an input failed), ``"fault"`` (a scripted
        status) or ``"bad_request"``.
    received : float
        :func:`time.monotonic` when the request was read.

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import FaultServer
    >>> with FaultServer() as server:
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     _ = modkit.moderate(["a", "b"], backend=backend, cache=None, progress=False)
    ...     request = server.moderation_requests()[0]
    >>> request.method, request.path, request.inputs, request.headers["authorization"]
    ('POST', '/v1/moderations', ['a', 'b'], '<redacted>')
    """

    method: str
    path: str
    headers: dict[str, str]
    inputs: list[str] | None
    model: str | None
    status: int | None
    outcome: str
    received: float
    key_sha256: str | None = field(default=None, repr=False)


def _unit(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@validate_params({"text": [str], "categories": [SequenceOf(str)]})
def fake_result(text: str, categories: Sequence[str] = CATEGORIES) -> dict[str, Any]:
    """The deterministic result object a :class:`FaultServer` sends for ``text``.

    Scores come from sha256 of the text (cubed, so most are small); a category is
    flagged when its score is at least 0.5.

    Parameters
    ----------
    text : str
        The input text.
    categories : sequence of str, default every API key
        The categories scored.

    Returns
    -------
    dict
        A result object as the endpoint sends it: ``flagged``, ``categories``,
        ``category_scores`` (in [0, 1], rounded to 9 decimals) and
        ``category_applied_input_types`` (``["text"]`` each).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> from modkit.testing import fake_result
    >>> result = fake_result("hello", categories=["violence", "hate"])
    >>> sorted(result["category_scores"])
    ['hate', 'violence']
    >>> fake_result("hello") == fake_result("hello")  # deterministic
    True
    """
    scores = {c: round(_unit(text, c) ** 3, 9) for c in categories}
    flags = {c: s >= 0.5 for c, s in scores.items()}
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": scores,
        "category_applied_input_types": {c: ["text"] for c in categories},
    }


@validate_params({"parts": [SequenceOf(Mapping)], "categories": [SequenceOf(str)]})
def fake_multimodal_result(
    parts: Sequence[dict[str, Any]], categories: Sequence[str] = CATEGORIES
) -> dict[str, Any]:
    """The deterministic result a :class:`FaultServer` sends for one multimodal input.

    Scores come from sha256 of the parts' canonical JSON; ``category_applied_input_types``
    says ``"text"`` when the input has a text part and ``"image"`` for an image part and
    a category in :data:`modkit.images.IMAGE_CATEGORIES`; a category applied to neither scores
    0 with ``[]``, as the endpoint does for an image-only input and a text-only category.

    Parameters
    ----------
    parts : sequence of dict
        The input's parts, as :func:`modkit.images.multimodal_input` makes them.
    categories : sequence of str, default every API key
        The categories scored.

    Returns
    -------
    dict
        A result object as the endpoint sends it (scores in [0, 1]).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import fake_multimodal_result
    >>> parts = modkit.images.multimodal_input("a caption", ["https://example.org/cat.png"])
    >>> applied = fake_multimodal_result(parts)["category_applied_input_types"]
    >>> applied["violence"], applied["harassment"]
    (['text', 'image'], ['text'])
    """
    key = json.dumps(list(parts), sort_keys=True, separators=(",", ":"))
    kinds = input_types(parts)
    applied = {
        c: [t for t in ("text", "image") if t in kinds and (t == "text" or c in IMAGE_CATEGORIES)]
        for c in categories
    }
    scores = {c: round(_unit(key, c) ** 3, 9) if applied[c] else 0.0 for c in categories}
    flags = {c: s >= 0.5 for c, s in scores.items()}
    return {
        "flagged": any(flags.values()),
        "categories": flags,
        "category_scores": scores,
        "category_applied_input_types": applied,
    }


class _Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``capacity``."""

    def __init__(self, rpm: float, capacity: float) -> None:
        self.rate = rpm / 60.0
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def take(self) -> tuple[bool, float, float]:
        """Take a token: (granted, tokens left, seconds until the next token)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, self.tokens, max(0.0, (1.0 - self.tokens) / self.rate)
        return False, self.tokens, (1.0 - self.tokens) / self.rate

    def full_in(self) -> float:
        return max(0.0, (self.capacity - self.tokens) / self.rate)


class FaultServer:
    """An OpenAI-compatible moderation endpoint that misbehaves on request.

    Use it as a context manager; it serves ``POST /v1/moderations``, ``GET /v1/models``
    and ``GET /healthz`` on 127.0.0.1 at a free port, from a background thread, and
    records every request.

    Parameters
    ----------
    latency : float, default 0
        Seconds every moderation response waits before it is sent (requests are served
        concurrently, so this is latency, not a throughput cap).
    rpm : float, optional
        Requests-per-minute limit: a token bucket refilled at ``rpm / 60`` per second;
        a request with no token gets a 429 with ``retry-after``, ``retry-after-ms``,
        ``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests``.
    burst : float, optional
        The bucket's capacity (default: one second's worth, at least 1).
    model : str, default "omni-moderation-2024-09-26"
        The snapshot named in every response.
    api_key : str, optional
        If set, requests must carry ``Authorization: Bearer <api_key>`` (else 401). The
        key is kept only as a digest.
    reject : callable, optional
        ``reject(text) -> str | None``: a message makes the whole request a 400 naming the
        input's index (as the real endpoint does for an input it cannot take).
    categories : sequence of str
        The category keys of every result (default: the 13 omni keys).
    max_inputs : int, default 2048
        More inputs than this in one request is a 400.
    rate_limit_headers : bool, default True
        Send ``x-ratelimit-*`` headers with the limiter's state (``False``: a limiter
        that only answers 429 with ``retry-after``).

    Examples
    --------
    A dropped connection and a rate limit, retried: each text is scored once in the end.

    >>> import modkit
    >>> from modkit.testing import Fault, FaultServer
    >>> texts = ["hello", "I will hurt you"]
    >>> with FaultServer(latency=0.01) as srv:
    ...     srv.push(Fault.rate_limited(retry_after=0.1), Fault.drop())
    ...     backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-test")
    ...     df = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    ...     scored = srv.scored_counts()
    >>> dict(scored), (df["error"] == "").all()
    ({'hello': 1, 'I will hurt you': 1}, np.True_)
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rpm: float | None = None,
        burst: float | None = None,
        model: str = "omni-moderation-2024-09-26",
        api_key: str | None = None,
        reject: Callable[[str], str | None] | None = None,
        categories: Sequence[str] = CATEGORIES,
        max_inputs: int = 2048,
        rate_limit_headers: bool = True,
    ) -> None:
        self.latency = float(latency)
        self.rpm = rpm
        self.burst = burst if burst is not None else max(1.0, (rpm or 60.0) / 60.0)
        self.model = model
        self._key_digest = _sha(api_key) if api_key is not None else None
        self.reject = reject
        self.categories = tuple(categories)
        self.max_inputs = max_inputs
        self.rate_limit_headers = rate_limit_headers
        self._faults: collections.deque[Fault] = collections.deque()
        self.default_fault: Fault | None = None
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._bucket = _Bucket(rpm, self.burst) if rpm else None
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._busy = 0
        self.port: int = 0
        #: The fake Files and Batch APIs (``/v1/files``, ``/v1/batches``) this server
        #: also answers; batches score their requests as ``/v1/moderations`` would.
        self.batch_api = FakeBatchAPI(self._score_request)

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        """The base URL for an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultServer:
        """Start serving in a background thread; returns once the port is bound.

        Returns
        -------
        FaultServer
            ``self``, serving at :attr:`url`.

        Raises
        ------
        ModkitError
            Already started, failed to start, or not started within 30 s.
        """
        if self._thread is not None:
            raise ModkitError("FaultServer already started")
        self._thread = threading.Thread(target=self._main, name="FaultServer", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise ModkitError("FaultServer did not start within 30 s")
        if self._error is not None:
            raise ModkitError(f"FaultServer failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None or self._loop is None or self._stop is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultServer(url={self.url!r}, latency={self.latency}, rpm={self.rpm})"

    # ----------------------------------------------------------------- scripting
    def push(self, *faults: Fault) -> None:
        """Queue faults: each moderation request consumes the next one, in order.

        Parameters
        ----------
        *faults : Fault
            Appended to the queue.
        """
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        """How many queued faults are not consumed yet.

        Returns
        -------
        int
        """
        with self._lock:
            return len(self._faults)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no request is being handled (e.g. after killing a client).

        Parameters
        ----------
        timeout : float, default 30
            Seconds to wait at most.

        Returns
        -------
        bool
            True once idle, False if still busy after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._busy == 0:
                    return True
            time.sleep(0.01)
        return False

    def reset(self) -> None:
        """Forget recorded requests and queued faults (the rate limiter is kept)."""
        with self._lock:
            self._records.clear()
            self._faults.clear()

    # ----------------------------------------------------------------- records
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (a copy)."""
        with self._lock:
            return list(self._records)

    def moderation_requests(self) -> list[RecordedRequest]:
        """The ``POST /v1/moderations`` requests received so far.

        Returns
        -------
        list of RecordedRequest
            In arrival order (a copy).
        """
        return [r for r in self.requests if r.path.rstrip("/").endswith("/moderations")]

    def sent_counts(self) -> collections.Counter[str]:
        """How many times each text arrived (retries included).

        Returns
        -------
        collections.Counter of str
            Text -> moderation requests that carried it.
        """
        counts: collections.Counter[str] = collections.Counter()
        for r in self.moderation_requests():
            counts.update(r.inputs or [])
        return counts

    def scored_counts(self) -> collections.Counter[str]:
        """How many times each text was answered with a complete 200 result.

        Returns
        -------
        collections.Counter of str
            Text -> requests answered ``ok``.
        """
        counts: collections.Counter[str] = collections.Counter()
        for r in self.moderation_requests():
            if r.outcome == "ok":
                counts.update(r.inputs or [])
        return counts

    def received_key(self, key: str) -> bool:
        """Whether any request carried ``Authorization: Bearer <key>``.

        Parameters
        ----------
        key : str
            The key asked about (compared by sha256 digest, in constant time; keys are
            never stored).

        Returns
        -------
        bool
        """
        digest = _sha(key)
        return any(
            r.key_sha256 is not None and hmac.compare_digest(r.key_sha256, digest)
            for r in self.requests
        )

    def result_for(self, text: str) -> dict[str, Any]:
        """The result object this server sends for ``text``.

        Parameters
        ----------
        text : str
            An input text.

        Returns
        -------
        dict
            :func:`fake_result` of ``text`` over the server's categories.
        """
        return fake_result(text, self.categories)

    # ----------------------------------------------------------------- serving
    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 20)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                with self._lock:
                    self._busy += 1
                try:
                    keep = await self._respond(request, writer)
                finally:
                    with self._lock:
                        self._busy -= 1
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, req: _Request, writer: asyncio.StreamWriter) -> bool:
        received = time.monotonic()
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        headers = {k: ("<redacted>" if k == "authorization" else v) for k, v in req.headers.items()}
        path = req.target.split("?", 1)[0]
        keep = req.headers.get("connection", "").lower() != "close"

        def record(status: int | None, outcome: str, inputs=None, model=None) -> None:
            rec = RecordedRequest(
                req.method,
                path,
                headers,
                inputs,
                model,
                status,
                outcome,
                received,
                _sha(token) if token is not None else None,
            )
            with self._lock:
                self._records.append(rec)

        if path in ("/healthz", "/v1/healthz") and req.method == "GET":
            record(200, "ok")
            return await _send(writer, 200, {"status": "ok"}, keep=keep)
        if path == "/v1/models" and req.method == "GET":
            record(200, "ok")
            body = {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "modkit"}],
            }
            return await _send(writer, 200, body, keep=keep)
        if path.startswith(("/v1/files", "/v1/batches")):
            if self._key_digest is not None and (
                token is None or not hmac.compare_digest(_sha(token), self._key_digest)
            ):
                record(401, "unauthorized")
                body = _err(
                    "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key"
                )
                return await _send(writer, 401, body, keep=keep)
            status, raw, ctype = self.batch_api.handle(
                req.method, req.target, req.headers, req.body
            )
            record(status, "ok" if status < 400 else "bad_request")
            if self.batch_api.take_cut(req.target, status):
                return await _send_cut(writer, status, raw, content_type=ctype)
            return await _send_raw(writer, status, raw, (), keep=keep, content_type=ctype)
        if path != "/v1/moderations":
            record(404, "bad_request")
            return await _send(writer, 404, _err("not found", "invalid_request_error"), keep=keep)
        if req.method != "POST":
            record(405, "bad_request")
            return await _send(writer, 405, _err("use POST", "invalid_request_error"), keep=keep)

        inputs, model, problem, parts = self._parse_all(req.body)
        if self._key_digest is not None and (
            token is None or not hmac.compare_digest(_sha(token), self._key_digest)
        ):
            record(401, "unauthorized", inputs, model)
            body = _err(
                "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key"
            )
            return await _send(writer, 401, body, keep=keep)
        if problem is not None:
            record(400, "bad_request", inputs, model)
            return await _send(
                writer, 400, _err(problem, "invalid_request_error", "input"), keep=keep
            )
        if self._bucket is not None:
            with self._lock:
                granted, left, next_in = self._bucket.take()
                full_in = self._bucket.full_in()
            limit_headers = [
                ("x-ratelimit-limit-requests", f"{self.burst:g}"),
                ("x-ratelimit-remaining-requests", str(math.floor(left))),
                ("x-ratelimit-reset-requests", f"{full_in:.3f}s"),
            ]
            if not self.rate_limit_headers:
                limit_headers = []
            if not granted:
                record(429, "rate_limited", inputs, model)
                hdrs = [
                    *limit_headers,
                    ("retry-after-ms", f"{next_in * 1000:.0f}"),
                    ("retry-after", str(max(1, math.ceil(next_in)))),
                ]
                body = _err(
                    "Rate limit reached for requests.", "requests", None, "rate_limit_exceeded"
                )
                return await _send(writer, 429, body, hdrs, keep=keep)
        else:
            limit_headers = []

        with self._lock:
            fault = self._faults.popleft() if self._faults else self.default_fault
            self._seq += 1
            seq = self._seq
        # The answer is computed first and the latency counts from the request's
        # arrival, so that ``latency`` is the time to answer, whatever the CPU load.
        results = self._results(inputs, parts)
        delay = self.latency + (fault.delay if fault is not None else 0.0)
        delay -= time.monotonic() - received
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is not None and fault.kind == "drop":
            record(None, "dropped", inputs, model)
            writer.transport.abort()
            return False
        if fault is not None and fault.kind == "raw":
            record(fault.status, "fault", inputs, model)
            return await _send_raw(writer, fault.status, fault.body, limit_headers, keep=keep)
        if fault is not None and fault.kind == "status":
            message = fault.message
            if fault.echo_key and token is not None:
                message = f"{message} You passed: {token}"
            outcome = {401: "unauthorized"}.get(fault.status, "fault")
            record(fault.status, outcome, inputs, model)
            body = _err(message, fault.type, None, fault.code)
            return await _send(
                writer, fault.status, body, [*limit_headers, *fault.headers], keep=keep
            )
        if self.reject is not None:
            for i, text in enumerate(inputs):
                why = self.reject(text)
                if why:
                    record(400, "rejected", inputs, model)
                    body = _err(f"input[{i}]: {why}", "invalid_request_error", f"input[{i}]")
                    return await _send(writer, 400, body, limit_headers, keep=keep)
        body = {
            "id": f"modr-fault-{seq:08x}",
            "model": self.model,
            "results": results,
        }
        if fault is not None and fault.kind == "drift":
            for result in results:
                for c in fault.nulls:
                    result["categories"][c] = None
                    result["category_scores"][c] = None
                for c in fault.missing:
                    result["category_scores"].pop(c, None)
                for c, v in fault.extra:
                    result["categories"][c] = v >= 0.5
                    result["category_scores"][c] = v
        if fault is not None and fault.kind == "truncate":
            record(200, "truncated", inputs, model)
            raw = json.dumps(body).encode()
            return await _send_raw(writer, 200, raw[: len(raw) // 2], limit_headers, keep=keep)
        record(200, "ok", inputs, model)
        return await _send(writer, 200, body, limit_headers, keep=keep)

    def _score_request(self, value: Any, model: str | None) -> tuple[int, dict[str, Any]]:
        """Status and body of ``/v1/moderations`` for one request (no faults, no limiter)."""
        raw = json.dumps({"input": value, "model": model}).encode()
        inputs, model, problem, parts = self._parse_all(raw)
        if problem is not None:
            return 400, _err(problem, "invalid_request_error", "input")
        if self.reject is not None:
            for i, text in enumerate(inputs):
                why = self.reject(text)
                if why:
                    return 400, _err(f"input[{i}]: {why}", "invalid_request_error", f"input[{i}]")
        with self._lock:
            self._seq += 1
            seq = self._seq
        results = self._results(inputs, parts)
        return 200, {"id": f"modr-fault-{seq:08x}", "model": self.model, "results": results}

    def _parse_all(
        self, raw: bytes
    ) -> tuple[list[str], str | None, str | None, list[dict[str, Any]] | None]:
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return [], None, "the body is not valid JSON", None
        if not isinstance(payload, dict):
            return [], None, "the body must be a JSON object", None
        model = payload.get("model")
        value = payload.get("input")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            # one multimodal input: text and image_url parts
            key = json.dumps(value, sort_keys=True, separators=(",", ":"))
            try:
                parts = check_parts(value)
            except InputError as exc:
                return [key], model, str(exc), None
            if "image" in input_types(parts) and str(model or "").startswith("text-moderation"):
                return [key], model, f"model {model!r} does not accept image inputs", None
            return [key], model, None, parts
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return [], model, "'input' must be a string, a list of strings or a list of parts", None
        if not value:
            return [], model, "'input' is empty", None
        if len(value) > self.max_inputs:
            return value, model, f"too many inputs: {len(value)} > {self.max_inputs}", None
        return value, model, None, None

    def _results(self, inputs: list[str], parts: list[dict[str, Any]] | None) -> list[dict]:
        if parts is not None:
            return [fake_multimodal_result(parts, self.categories)]
        return [fake_result(t, self.categories) for t in inputs]


@dataclass
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        data = bytes(body)
    else:
        data = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return _Request(parts[0], parts[1], headers, data)


def _err(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
    *,
    keep: bool = True,
) -> bool:
    return await _send_raw(writer, status, json.dumps(body).encode(), headers, keep=keep)


async def _send_raw(
    writer: asyncio.StreamWriter,
    status: int,
    raw: bytes,
    headers: Iterable[tuple[str, str]] = (),
    *,
    keep: bool = True,
    content_type: str = "application/json",
) -> bool:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        f"content-type: {content_type}",
        f"content-length: {len(raw)}",
        f"connection: {'keep-alive' if keep else 'close'}",
        *(f"{k}: {v}" for k, v in headers),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + raw)
    await writer.drain()
    return keep


async def _send_cut(
    writer: asyncio.StreamWriter, status: int, raw: bytes, *, content_type: str
) -> bool:
    """Announce all of ``raw``, send half of it, and close: a body cut mid-stream."""
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"content-type: {content_type}\r\ncontent-length: {len(raw)}\r\n"
        "connection: close\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + raw[: len(raw) // 2])
    await writer.drain()
    return False


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
