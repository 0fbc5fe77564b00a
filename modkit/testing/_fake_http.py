"""A small threaded HTTP server on 127.0.0.1 that provider fakes build on.

Each fake speaks one provider's documented wire format; this base gives them the
listening socket, request recording (keys redacted), scripted faults
(:class:`~modkit.testing.Fault`: error statuses with the provider's error body,
dropped connections, raw bodies, delays) and deterministic scores.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._errors import ModkitError
from ._fault_server import Fault

__all__ = [
    "HARM_KINDS",
    "HARM_WORDS",
    "ProviderFake",
    "ProviderRequest",
    "Reply",
    "fake_score",
    "unit_score",
]

_SECRET_HEADERS = ("authorization", "ocp-apim-subscription-key", "x-goog-api-key", "api-key")


def unit_score(text: str, salt: str) -> float:
    """A deterministic number in [0, 1) from sha256 of ``salt`` and ``text``.

    Parameters
    ----------
    text : str
        The text.
    salt : str
        Makes independent numbers for the same text (a category, a provider).

    Returns
    -------
    float
        The first 8 bytes of ``sha256(salt + "\\x00" + text)`` over 2**64, in [0, 1).

    Examples
    --------
    >>> from modkit.testing import unit_score
    >>> round(unit_score("hello", "salt"), 6)
    0.796427
    """
    digest = hashlib.sha256(f"{salt}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


#: Words that raise the fake providers' scores (a shared "harm" signal): weight and kind.
HARM_WORDS: dict[str, tuple[float, str]] = {
    "kill": (0.95, "violence"),
    "hurt": (0.8, "violence"),
    "attack": (0.7, "violence"),
    "destroy": (0.6, "violence"),
    "hate": (0.7, "hate"),
    "idiot": (0.6, "insult"),
    "stupid": (0.5, "insult"),
    "suicide": (0.9, "selfharm"),
    "nude": (0.8, "sexual"),
}
#: Every kind of harm the words carry.
HARM_KINDS = frozenset(kind for _, kind in HARM_WORDS.values())


def fake_score(
    text: str,
    salt: str,
    bias: Mapping[str, float] | None = None,
    kinds: frozenset[str] | set[str] | None = None,
) -> float:
    """A fake provider's score in [0, 1]: a shared harm signal, per-salt noise and bias.

    The signal is the largest :data:`HARM_WORDS` weight among the text's words whose kind
    is in ``kinds`` (default: every kind); when ``kinds`` holds ``"hate"`` or
    ``"insult"`` (or is None), the largest ``bias`` weight of the text's words is added
    (a provider's over-reaction to, say, identity terms). The signal is scaled by
    0.6-1.0 and 0.3 * u**3 of noise is added, ``u`` from :func:`unit_score`: unrelated
    texts score low, and providers agree on harm words.
    """
    kinds = HARM_KINDS if kinds is None else kinds
    words = re.findall(r"[\w']+", text.lower())
    signal = max(
        (w for w, k in (HARM_WORDS.get(x, (0.0, "")) for x in words) if k in kinds),
        default=0.0,
    )
    if bias and kinds & {"hate", "insult"}:
        signal += max((float(bias.get(x, 0.0)) for x in words), default=0.0)
    u, v = unit_score(text, salt), unit_score(text, salt + "#noise")
    return min(1.0, max(0.0, min(1.0, signal) * (0.6 + 0.4 * u) + 0.3 * v**3))


@dataclass
class Reply:
    """What a fake answers: status, JSON body (or raw bytes) and extra headers."""

    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None


@dataclass(frozen=True)
class ProviderRequest:
    """One request a fake received.

    Attributes
    ----------
    method, path : str
        The request line (the path without its query).
    query : dict of str to str
        The query parameters (a ``key`` parameter is redacted).
    headers : dict of str to str
        Lower-cased names; key-bearing headers are ``"<redacted>"``.
    body : Any
        The parsed JSON body (None if not JSON).
    status : int or None
        The status sent (None: the connection was dropped).

    Examples
    --------
    >>> import modkit
    >>> from modkit.testing import PerspectiveFake
    >>> with PerspectiveFake(api_key="k") as fake:
    ...     with modkit.backends.PerspectiveBackend(base_url=fake.url, api_key="k") as backend:
    ...         _ = modkit.moderate(["hi"], backend=backend, cache=None, progress=False)
    ...     request = fake.requests[0]
    >>> request.method, request.status, request.headers["x-goog-api-key"]
    ('POST', 200, '<redacted>')
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int | None


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # clients open many connections at once
    daemon_threads = True


class ProviderFake:
    """Base class of the provider fakes: subclasses implement :meth:`answer`.

    Parameters
    ----------
    api_key : str, optional
        If set, requests must carry it the provider's way (else the provider's 401/400).
    latency : float, default 0
        Seconds every answer waits.
    bias : mapping of str to float, optional
        Word -> extra harm this fake reads into texts containing it (see
        :func:`fake_score`), to model a provider that over-flags some group.

    Examples
    --------
    A fake that answers every request with a constant JSON body:

    >>> import json
    >>> import urllib.request
    >>> from modkit.testing import ProviderFake
    >>> from modkit.testing._fake_http import Reply
    >>> class Echo(ProviderFake):
    ...     def answer(self, method, path, query, headers, body):
    ...         return Reply(200, {"path": path})
    ...     def error_reply(self, status, message, code=None):
    ...         return Reply(status, {"error": message})
    >>> with Echo() as fake:
    ...     with urllib.request.urlopen(fake.url + "/ping") as response:
    ...         reply = json.load(response)
    >>> reply, fake.requests[0].path
    ({'path': '/ping'}, '/ping')
    """

    #: The path prefix of :attr:`url` (e.g. ``"/v1"``).
    url_suffix = ""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        bias: Mapping[str, float] | None = None,
    ) -> None:
        self.api_key = api_key
        self.bias = dict(bias or {})
        self.latency = float(latency)
        self._faults: collections.deque[Fault] = collections.deque()
        self._lock = threading.Lock()
        self._records: list[ProviderRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ to override
    def answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> Reply:
        """The reply to one request (no fault pending).

        Parameters
        ----------
        method : str
            ``"GET"`` or ``"POST"``.
        path : str
            The path, without the query.
        query : dict of str to str
            The query parameters.
        headers : dict of str to str
            Lower-cased header names.
        body : Any
            The parsed JSON body (None if empty or not JSON).

        Returns
        -------
        Reply
            The status, JSON body (or raw bytes) and extra headers sent back.
        """
        raise NotImplementedError

    def error_reply(self, status: int, message: str, code: str | None = None) -> Reply:
        """The provider's error reply for ``status``.

        Parameters
        ----------
        status : int
            The HTTP status.
        message : str
            What went wrong.
        code : str, optional
            The provider's error code, when it has one.

        Returns
        -------
        Reply
            The error in the provider's documented error shape.
        """
        raise NotImplementedError

    def drift(self, reply: Reply, fault: Fault) -> Reply:
        """The reply of a :meth:`Fault.drift <modkit.testing.Fault.drift>` fault.

        Parameters
        ----------
        reply : Reply
            What :meth:`answer` replied.
        fault : Fault
            Its ``nulls`` (categories sent as ``null``), ``missing`` (left out) and
            ``extra`` (categories the provider does not list, with a score).

        Returns
        -------
        Reply
            A 200 reply changed the provider's way; any other reply as it was. The base
            class has no result shape to change and raises.

        Raises
        ------
        NotImplementedError
            For a fake that does not drift.
        """
        raise NotImplementedError(f"{type(self).__name__} does not drift")

    def is_scored_path(self, path: str) -> bool:
        """Whether faults apply to this path.

        Parameters
        ----------
        path : str
            A request's path.

        Returns
        -------
        bool
            True (the default) for every path; subclasses name their scoring path.
        """
        return True

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` plus :attr:`url_suffix`."""
        if self._server is None:
            raise ModkitError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.url_suffix}"

    def start(self) -> ProviderFake:
        """Start serving in a background thread on 127.0.0.1, at a free port.

        Returns
        -------
        ProviderFake
            ``self``, serving at :attr:`url`.

        Raises
        ------
        ModkitError
            When already started.
        """
        if self._server is not None:
            raise ModkitError(f"{type(self).__name__} already started")
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            def do_POST(self) -> None:
                fake._serve(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def __enter__(self) -> ProviderFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting
    def push(self, *faults: Fault) -> None:
        """Queue faults: each request to a scored path consumes the next one.

        Parameters
        ----------
        *faults : Fault
            Appended to the queue (the fault kinds of :class:`FaultServer`, answered in
            the provider's error shape).
        """
        with self._lock:
            self._faults.extend(faults)

    @property
    def requests(self) -> list[ProviderRequest]:
        """Every request so far (a copy)."""
        with self._lock:
            return list(self._records)

    def key_ok(self, supplied: str | None) -> bool:
        """Whether ``supplied`` is the configured key.

        Parameters
        ----------
        supplied : str or None
            The key a request carried.

        Returns
        -------
        bool
            True when it matches, or when no key is configured.
        """
        return self.api_key is None or supplied == self.api_key

    # ------------------------------------------------------------ serving
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        raw = h.rfile.read(int(headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        shown_q = {k: ("<redacted>" if k == "key" else v) for k, v in query.items()}
        shown_h = {k: ("<redacted>" if k in _SECRET_HEADERS else v) for k, v in headers.items()}
        fault = None
        if self.is_scored_path(parts.path):
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
        delay = self.latency + (fault.delay if fault is not None else 0.0)
        if delay > 0:
            time.sleep(delay)
        if fault is not None and fault.kind == "drop":
            self._record(h.command, parts.path, shown_q, shown_h, body, None)
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if fault is not None and fault.kind == "status":
            reply = self.error_reply(fault.status, fault.message, fault.code)
            reply.headers.extend(fault.headers)
        elif fault is not None and fault.kind == "raw":
            reply = Reply(fault.status, raw=fault.body)
        else:
            try:
                reply = self.answer(h.command, parts.path, query, headers, body)
                if fault is not None and fault.kind == "drift" and reply.status == 200:
                    reply = self.drift(reply, fault)
            except Exception as exc:  # a bug in the fake: answer 500, keep serving
                reply = self.error_reply(500, f"fake failed: {exc!r}")
        data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        if fault is not None and fault.kind == "truncate":
            data = data[: len(data) // 2]
        self._record(h.command, parts.path, shown_q, shown_h, body, reply.status)
        h.send_response(reply.status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in reply.headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
        status: int | None,
    ) -> None:
        with self._lock:
            self._records.append(ProviderRequest(method, path, query, headers, body, status))
