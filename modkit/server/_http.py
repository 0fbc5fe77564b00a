"""Connection-level protection for uvicorn: connection limit, keep-alive and header timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from .._errors import InputError

__all__ = ["HTTPOptions"]


@dataclass(frozen=True)
class HTTPOptions:
    """How the HTTP server treats connections (uvicorn settings with safe defaults).

    Attributes
    ----------
    limit_concurrency : int, default 128
        Connections and requests at once; more get an immediate 503 from uvicorn.
    keep_alive_timeout : float, default 5
        Seconds an idle keep-alive connection stays open.
    header_timeout : float, default 10
        Seconds a new connection has to send its first request's headers; then it is
        closed (a client that trickles headers cannot hold a connection open).
    max_header_bytes : int, default 16384
        Bytes of a request line plus headers; more is answered 400 and closed.

    Raises
    ------
    InputError
        When ``limit_concurrency`` or ``max_header_bytes`` is below 1, or a timeout is
        not > 0.

    Examples
    --------
    >>> from modkit.server import HTTPOptions
    >>> kwargs = HTTPOptions(keep_alive_timeout=2).uvicorn_kwargs()
    >>> kwargs["timeout_keep_alive"], kwargs["limit_concurrency"]
    (2, 128)
    """

    limit_concurrency: int = 128
    keep_alive_timeout: float = 5.0
    header_timeout: float = 10.0
    max_header_bytes: int = 16_384

    def __post_init__(self) -> None:
        for name in ("limit_concurrency", "max_header_bytes"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("keep_alive_timeout", "header_timeout"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)}")

    def uvicorn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config`` that apply these options.

        Returns
        -------
        dict
            ``http`` (uvicorn's h11 protocol class, closing connections whose first
            headers are late), ``limit_concurrency``, ``timeout_keep_alive`` (seconds)
            and ``h11_max_incomplete_event_size`` (bytes).
        """
        return {
            "http": _protocol(self.header_timeout),
            "limit_concurrency": self.limit_concurrency,
            "timeout_keep_alive": self.keep_alive_timeout,
            "h11_max_incomplete_event_size": self.max_header_bytes,
        }


def _no_delay(transport: Any) -> None:
    """Turn Nagle's algorithm off on a connection (``TCP_NODELAY``).

    asyncio does so only for sockets whose ``proto`` is ``IPPROTO_TCP``; a listening
    socket made as ``socket.socket(AF_INET, SOCK_STREAM)`` or by ``socket.create_server``
    has ``proto`` 0, and so have the connections it accepts. uvicorn writes a response's
    head and body in two sends: with Nagle on, the body waited for the client's delayed
    ACK of the head, about 40 ms on every request (RFC 896; RFC 1122 section 4.2.3.2).
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # the peer is gone already: nothing to speed up
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose first headers are late."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            _no_delay(transport)
            super().connection_made(transport)
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and self._header_timer is not None:
                self._header_timer.cancel()  # a request arrived: uvicorn's timers take over
                self._header_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
