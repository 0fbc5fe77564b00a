"""Running the server: in the foreground (``serve``) or in a background thread."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import InputError, ModkitError
from ..backends import Backend
from ._http import HTTPOptions

__all__ = ["ServeProcess", "ServerThread", "free_port", "serve"]


def _as_app(app_or_backend: Any, app_kwargs: dict[str, Any]) -> Any:
    if isinstance(app_or_backend, Backend):
        from ._app import create_app

        return create_app(app_or_backend, **app_kwargs)
    if app_kwargs:
        raise ModkitError(f"options {sorted(app_kwargs)} need a Backend, not an app")
    return app_or_backend


def serve(
    app_or_backend: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = True,
    http: HTTPOptions | None = None,
    **app_kwargs: Any,
) -> None:
    """Serve a backend (or an app from :func:`create_app`) with uvicorn until stopped.

    Parameters
    ----------
    app_or_backend : Backend or ASGI app
        A backend is wrapped with :func:`create_app` (``app_kwargs`` passed on).
    host : str, default "127.0.0.1"
        The interface to bind; the default accepts local connections only.
    port : int, default 8000
        The TCP port.
    log_level : str, default "info"
        uvicorn's log level.
    access_log : bool, default True
        Log one line per request (method, path, status; never headers).
    http : HTTPOptions, optional
        Connection limit, keep-alive and header timeouts (default :class:`HTTPOptions`).
    **app_kwargs
        ``cache``, ``api_key``, ``postprocess``, ``limits`` for :func:`create_app`.

    Raises
    ------
    InputError
        The port is outside 0..65535, or ``host:port`` cannot be bound ("cannot listen on
        127.0.0.1:8000: address already in use").
    ModkitError
        ``app_kwargs`` given with an app (they apply to a backend only).

    Examples
    --------
    Blocks until interrupted, so not run here (see :class:`ServerThread` and
    :class:`ServeProcess` for a server in the background):

    >>> import modkit
    >>> from modkit.server import serve
    >>> serve(modkit.make_backend("local"), port=8000)  # doctest: +SKIP
    """
    import uvicorn

    app = _as_app(app_or_backend, app_kwargs)
    sock = _listen(host, port)  # bound here, so a busy port is one clear error
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        **(http or HTTPOptions()).uvicorn_kwargs(),
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has shut down cleanly and re-raised it (as uvicorn.run does)
    finally:
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; ``InputError`` naming both when it cannot be."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"port must be an integer in 1..65535; got {port!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        reason = reason[:1].lower() + reason[1:]
        raise InputError(f"cannot listen on {host}:{port}: {reason}") from None


class ServerThread:
    """Serve an app from a background thread, on 127.0.0.1 at a free port by default.

    For tests and notebooks: ``with ServerThread(create_app(backend)) as srv:
    OpenAI(base_url=srv.url)``.

    Parameters
    ----------
    app_or_backend : Backend or ASGI app
        What to serve (a backend is wrapped with :func:`create_app`).
    host : str, default "127.0.0.1"
        The IPv4 interface to bind.
    port : int, default 0
        0 picks a free port; read it from :attr:`port`.
    http : HTTPOptions, optional
        Connection limit, keep-alive and header timeouts (default :class:`HTTPOptions`).
    **app_kwargs
        Passed to :func:`create_app`.

    Raises
    ------
    ModkitError
        ``app_kwargs`` given with an app (they apply to a backend only).

    Examples
    --------
    >>> import json
    >>> import urllib.request
    >>> from modkit import ModerationResult
    >>> from modkit.backends import SyncBackend
    >>> from modkit.server import ServerThread
    >>> class Calm(SyncBackend):
    ...     name, model = "calm", "calm-1"
    ...     def score_batch(self, texts):
    ...         return [ModerationResult(False, {"hate": False}, {"hate": 0.0}) for _ in texts]
    >>> with ServerThread(Calm()) as server:
    ...     with urllib.request.urlopen(server.url + "/models") as response:
    ...         models = json.load(response)
    >>> [m["id"] for m in models["data"]]
    ['calm-1']
    """

    def __init__(
        self,
        app_or_backend: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        http: HTTPOptions | None = None,
        **app_kwargs: Any,
    ) -> None:
        self.app = _as_app(app_or_backend, app_kwargs)
        self.http = http or HTTPOptions()
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL for an OpenAI client: ``http://HOST:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Bind, start serving, and return once the server accepts connections.

        Parameters
        ----------
        timeout : float, default 30
            Seconds to wait for the server to accept connections.

        Returns
        -------
        ServerThread
            ``self``, with :attr:`port` set to the bound port.

        Raises
        ------
        ModkitError
            The server failed to start, or did not start within ``timeout``.
        OSError
            ``host:port`` cannot be bound (e.g. the port is in use).
        """
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="on",
            log_level="warning",
            **self.http.uvicorn_kwargs(),
        )
        self._server = uvicorn.Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as exc:  # surfaced by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="modkit-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise ModkitError(f"server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise ModkitError(f"server did not start within {timeout:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server to finish and join its thread (idempotent).

        Parameters
        ----------
        timeout : float, default 30
            Seconds to wait for the thread to end (it is a daemon thread: one that
            lingers does not keep the interpreter alive).
        """
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServerThread(url={self.url!r})"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        The IPv4 interface the port is free on.

    Returns
    -------
    int
        A port the system chose; another process may take it before it is used.

    Examples
    --------
    >>> from modkit.server import free_port
    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``modkit serve`` in a child process on 127.0.0.1, ready once ``/healthz`` answers.

    For notebooks and tests that want the real command line: ``with ServeProcess(
    ["--backend", "local", "--thresholds", "t.json"]) as srv: OpenAI(base_url=srv.url)``.
    On exit the server gets SIGINT (a clean shutdown), then is killed if it lingers; its
    exit code and output are kept in :attr:`returncode`, :attr:`stdout`, :attr:`stderr`.

    Parameters
    ----------
    args : sequence of str
        Options of ``modkit serve`` (``--port`` is added).
    port : int, optional
        Default: a free port.
    env : mapping, optional
        The child's environment (default: this process's).
    timeout : float, default 60
        Seconds to wait for ``/healthz``.

    Examples
    --------
    Starts a Python process (seconds), so not run here; ``tests/server/test_server.py`` runs it:

    >>> from openai import OpenAI
    >>> from modkit.server import ServeProcess
    >>> with ServeProcess(["--backend", "local"]) as server:  # doctest: +SKIP
    ...     client = OpenAI(base_url=server.url, api_key="unused")
    ...     result = client.moderations.create(input="hello").results[0]
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.port = port or free_port()
        self.args = [*args, "--port", str(self.port)]
        self.env = dict(env) if env is not None else None
        self.timeout = timeout
        self.proc: subprocess.Popen[str] | None = None
        self.returncode: int | None = None
        self.stdout = ""
        self.stderr = ""

    @property
    def url(self) -> str:
        """The base URL for an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ServeProcess:
        """Start the server and wait until ``/healthz`` answers (or fail with its output).

        Returns
        -------
        ServeProcess
            ``self``, with the child running.

        Raises
        ------
        ModkitError
            The child exited early (the message holds its standard error), or
            ``/healthz`` did not answer within :attr:`timeout` seconds (the child is
            stopped).
        """
        # output goes to files, not pipes: a chatty server never blocks on a full pipe
        self._out = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self._err = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modkit", "serve", *self.args],
            env=self.env if self.env is not None else os.environ.copy(),
            stdout=self._out,
            stderr=self._err,
            text=True,
        )
        deadline = time.monotonic() + self.timeout
        health = f"http://127.0.0.1:{self.port}/healthz"
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    self.stop()
                    raise ModkitError(f"modkit serve exited early:\n{self.stderr}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise ModkitError(
                        f"modkit serve did not answer {health} within {self.timeout:g} s"
                    ) from None
                time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT, then kill if it lingers; keeps the exit code and output (idempotent).

        Parameters
        ----------
        timeout : float, default 30
            Seconds to wait after SIGINT before killing the child.
        """
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.returncode = proc.returncode
        self.stdout, self.stderr = _drain(self._out), _drain(self._err)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServeProcess(url={self.url!r})"


def _drain(fh: Any) -> str:
    fh.seek(0)
    text = fh.read()
    fh.close()
    return str(text)
