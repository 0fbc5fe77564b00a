"""Connection-level behaviour of ``modkit serve`` (``modkit/server/_http.py``).

Nagle's algorithm is off on every accepted connection: uvicorn sends a response's head
and body in two writes, and with Nagle on the body waited for the client's delayed ACK
(about 40 ms a request; the proxy's overhead was 52 ms at p50, 11 ms without the stall:
``benchmarks/bench_serve.py``). Checked on the server's own accepted socket (it lives in
this process), not by timing.
"""

from __future__ import annotations

import os
import socket
import sys

import pytest

from modkit.server import ServerThread, create_app
from modkit.testing import FaultServer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/fd")


def _accepted_socket(port: int, peer: tuple[str, int]) -> socket.socket:
    """The server-side socket of the connection from ``peer`` to ``port`` (this process)."""
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            candidate = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue
        try:
            if (
                candidate.family == socket.AF_INET
                and candidate.getsockname()[1] == port
                and candidate.getpeername() == peer
            ):
                return candidate
        except OSError:
            pass
        candidate.close()
    raise AssertionError(f"no accepted socket for {peer} on port {port}")


@pytest.mark.parametrize("backend", ["local", "proxy"])
def test_every_accepted_connection_has_nagle_off(backend):
    with FaultServer() as upstream:
        if backend == "local":
            from modkit.backends import LocalBackend

            app = create_app(LocalBackend())
        else:
            from modkit.backends import OpenAIBackend

            app = create_app(OpenAIBackend(base_url=upstream.url, api_key="sk-x"), cache=None)
        with ServerThread(app) as srv:
            port = int(srv.url.rsplit(":", 1)[1].split("/")[0])
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert client.recv(65536).startswith(b"HTTP/1.1 200")
                server_side = _accepted_socket(port, client.getsockname())
                try:
                    assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                finally:
                    server_side.close()
