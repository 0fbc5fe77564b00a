"""A fake of the OpenAI Files and Batch APIs for ``/v1/moderations`` batches.

:class:`FakeBatchAPI` holds uploaded files and batches in memory and answers the
routes ``POST/GET /v1/files``, ``GET/DELETE /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST/GET /v1/batches``, ``GET /v1/batches/{id}`` and
``POST /v1/batches/{id}/cancel`` in the wire format of the public API. A
:class:`~modkit.testing.FaultServer` serves it (``server.batch_api``).

Batches advance one step each time a client retrieves them, never by the clock, so
tests are deterministic: ``validating`` -> ``in_progress`` -> (``per_poll`` requests
per retrieve) -> ``finalizing`` -> ``completed``. :meth:`FakeBatchAPI.hold` keeps
batches ``in_progress``; :meth:`FakeBatchAPI.script` makes the next batches expire, be
cancelled or fail validation.
"""

from __future__ import annotations

import collections
import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

__all__ = ["BatchScript", "FakeBatchAPI", "StoredBatch", "StoredFile"]

#: Per input file, as the public API documents them.
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200 * 1024 * 1024

_TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class StoredFile:
    """One uploaded (or generated) file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass(frozen=True)
class BatchScript:
    """What happens to one batch instead of completing normally.

    Attributes
    ----------
    outcome : {"expire", "cancel", "fail", "duplicate", "conflict", "foreign"}
        ``"expire"``: after ``after`` requests ran, the batch expires and the rest are
        written to the error file with code ``batch_expired``. ``"cancel"``: the same
        with ``batch_cancelled`` (status ``cancelling`` then ``cancelled``). ``"fail"``:
        validation fails with ``message`` on line ``line``, nothing runs. The batch
        completes, but its output file is faulty, with ``"duplicate"``: the first
        ``after`` requests' lines are written twice; ``"conflict"``: the same, the
        second copy with other scores; ``"foreign"``: ``after`` more lines whose
        ``custom_id`` no request has; ``"crossed"``: ``after`` more lines answering the
        first requests of the batch created before this one (a mix-up across batches).
    after : int
        Requests that run before the batch expires or is cancelled; lines repeated or
        added by the output faults.
    message : str
        The validation error's message (``"fail"``).
    line : int
        The validation error's line (``"fail"``).

    Examples
    --------
    The next batch created on a :class:`~modkit.testing.FaultServer` expires after one
    request has run:

    >>> from modkit.testing import BatchScript, FaultServer
    >>> with FaultServer() as server:
    ...     server.batch_api.script(BatchScript("expire", after=1))
    >>> BatchScript("fail", message="bad line", line=3).outcome
    'fail'
    """

    outcome: Literal["expire", "cancel", "fail", "duplicate", "conflict", "foreign", "crossed"]
    after: int = 0
    message: str = "Invalid input file."
    line: int = 1


@dataclass
class StoredBatch:
    """One batch and the state of its requests."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    created_at: int
    metadata: dict[str, str] | None
    script: BatchScript | None
    status: str = "validating"
    requests: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0
    output_lines: list[str] = field(default_factory=list)
    error_lines: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    stamps: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    retrieves: int = 0

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": list(self.errors)} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + 86400,
            "request_counts": {
                "total": len(self.requests),
                "completed": self.done - self.failed,
                "failed": self.failed,
            },
            "metadata": self.metadata,
        }
        for name in (
            "in_progress_at",
            "finalizing_at",
            "completed_at",
            "failed_at",
            "expired_at",
            "cancelling_at",
            "cancelled_at",
        ):
            body[name] = self.stamps.get(name)
        return body


class FakeBatchAPI:
    """In-memory Files and Batch APIs that run ``/v1/moderations`` requests.

    Parameters
    ----------
    score : callable
        ``score(input, model) -> (status, body)``: the answer of ``/v1/moderations`` to
        one request body's ``input`` (a :class:`~modkit.testing.FaultServer` passes its
        own scorer, so a batch answers as the synchronous endpoint would).
    per_poll : int, optional
        Requests run per retrieve of an ``in_progress`` batch (default: all at once).
    max_requests, max_bytes : int
        The input file limits, in requests and bytes (default: the public API's,
        50,000 and 200 MB); a file over them fails validation.

    Examples
    --------
    Every :class:`~modkit.testing.FaultServer` answers ``/v1/files`` and
    ``/v1/batches`` with one (``server.batch_api``); run through the Batch API:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> from modkit.testing import FaultServer
    >>> with FaultServer() as server:
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     cache = modkit.Cache(Path(tempfile.mkdtemp()) / "cache.sqlite3")
    ...     df = modkit.moderate(
    ...         ["a", "b"],
    ...         backend=backend,
    ...         cache=cache,
    ...         progress=False,
    ...         via=modkit.BatchAPI(poll_interval=0),
    ...     )
    ...     cache.close()
    ...     upload = server.batch_api.uploads()[0]
    ...     sent = [line["body"]["input"] for line in server.batch_api.input_lines(upload.id)]
    >>> sent, (df["error"] == "").all()
    (['a', 'b'], np.True_)
    """

    def __init__(
        self,
        score: Callable[[Any, str | None], tuple[int, dict[str, Any]]],
        *,
        per_poll: int | None = None,
        max_requests: int = MAX_REQUESTS_PER_FILE,
        max_bytes: int = MAX_BYTES_PER_FILE,
    ) -> None:
        self.score = score
        self.per_poll = per_poll
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, StoredBatch] = {}
        self._scripts: collections.deque[BatchScript] = collections.deque()
        self._held = False
        self._cuts = 0
        self._create_faults: collections.deque[bool] = collections.deque()
        self._seq = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ scripting
    def hold(self, held: bool = True) -> None:
        """Keep (or stop keeping) every batch ``in_progress`` with nothing run.

        Parameters
        ----------
        held : bool, default True
            True holds the batches; False lets them run on the next retrieve.
        """
        with self._lock:
            self._held = held

    def script(self, *scripts: BatchScript) -> None:
        """Queue outcomes: each batch created from now on takes the next one.

        Parameters
        ----------
        *scripts : BatchScript
            Appended to the queue; a batch created with the queue empty completes.
        """
        with self._lock:
            self._scripts.extend(scripts)

    def cut_downloads(self, n: int = 1) -> None:
        """Cut the next ``n`` downloads of a file's content mid-body.

        The response announces the whole ``content-length``, sends half of the body and
        closes the connection: a network failure while an output file streams.

        Parameters
        ----------
        n : int, default 1
            How many downloads are cut.

        Examples
        --------
        >>> from modkit.testing import FakeBatchAPI
        >>> api = FakeBatchAPI(lambda text, model: (200, {}))
        >>> api.cut_downloads(2)
        >>> [api.take_cut("/v1/files/f/content", 200) for _ in range(3)]
        [True, True, False]
        """
        with self._lock:
            self._cuts += n

    def take_cut(self, target: str, status: int) -> bool:
        """Whether the answer to ``target`` (with ``status``) is to be cut; consumes one.

        Called by the server for each answered request (see :meth:`cut_downloads`).

        Parameters
        ----------
        target : str
            The request target (path and query).
        status : int
            The status of the answer: only a 200 to a ``.../content`` download is cut.

        Returns
        -------
        bool
            True when the server is to send half of the body and close.

        Examples
        --------
        >>> from modkit.testing import FakeBatchAPI
        >>> api = FakeBatchAPI(lambda text, model: (200, {}))
        >>> api.cut_downloads(1)
        >>> api.take_cut("/v1/files/file-1/content", 200), api.take_cut("/v1/files/f/content", 200)
        (True, False)
        """
        path = target.partition("?")[0]
        if status != 200 or not path.endswith("/content"):
            return False
        with self._lock:
            if self._cuts <= 0:
                return False
            self._cuts -= 1
            return True

    def fail_creates(self, n: int = 1, *, after_creating: bool = False) -> None:
        """Answer the next ``n`` batch creations with a 500.

        With ``after_creating`` the batch is created first (a response lost on the
        way back), so a client that retries blindly would run the file twice.

        Parameters
        ----------
        n : int, default 1
            How many creations fail.
        after_creating : bool, default False
            Create the batch, then answer 500.
        """
        with self._lock:
            self._create_faults.extend([after_creating] * n)

    def uploads(self) -> list[StoredFile]:
        """The files clients uploaded with purpose ``batch``, in upload order.

        Returns
        -------
        list of StoredFile
            Each with its ``id``, ``purpose`` and raw ``data`` (bytes).
        """
        with self._lock:
            return [f for f in self.files.values() if f.purpose == "batch"]

    def input_lines(self, file_id: str) -> list[dict[str, Any]]:
        """The request lines of an uploaded file, parsed.

        Parameters
        ----------
        file_id : str
            An uploaded file's id.

        Returns
        -------
        list of dict
            One JSON object per non-blank line (``custom_id``, ``method``, ``url``,
            ``body``).

        Raises
        ------
        KeyError
            For an unknown file id.
        """
        with self._lock:
            data = self.files[file_id].data
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    # ------------------------------------------------------------------ routing
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        """Answer one request to ``/v1/files...`` or ``/v1/batches...``.

        Parameters
        ----------
        method : str
            ``"GET"`` or ``"POST"``.
        target : str
            The request target, path and query (``/v1/batches?limit=10``).
        headers : dict of str to str
            Lower-cased header names (``content-type`` for a multipart upload).
        body : bytes
            The raw request body.

        Returns
        -------
        (int, bytes, str)
            The HTTP status, the body, and its content type (JSON, or
            ``application/octet-stream`` for a file's content); an error is answered
            in the OpenAI error shape, never raised.
        """
        path, _, query = target.partition("?")
        parts = [p for p in path.split("/") if p][1:]  # drop "v1"
        with self._lock:
            try:
                status, payload = self._route(method, parts, parse_qs(query), headers, body)
            except _Reject as exc:
                status, payload = exc.status, _error(exc.message, exc.param)
        if isinstance(payload, bytes):
            return status, payload, "application/octet-stream"
        return status, json.dumps(payload).encode(), "application/json"

    def _route(
        self,
        method: str,
        parts: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any]:
        if parts == ["files"] and method == "POST":
            return 200, self._upload(headers, body).to_json()
        if parts == ["files"] and method == "GET":
            data = [f.to_json() for f in self.files.values()]
            return 200, {"object": "list", "data": data, "has_more": False}
        if len(parts) >= 2 and parts[0] == "files":
            stored = self.files.get(parts[1])
            if stored is None:
                raise _Reject(404, f"No such File object: {parts[1]}", "id")
            if len(parts) == 2 and method == "GET":
                return 200, stored.to_json()
            if len(parts) == 2 and method == "DELETE":
                del self.files[parts[1]]
                return 200, {"id": parts[1], "object": "file", "deleted": True}
            if parts[2:] == ["content"] and method == "GET":
                return 200, stored.data
        if parts == ["batches"] and method == "POST":
            fault = self._create_faults.popleft() if self._create_faults else None
            if fault is False:
                raise _Reject(500, "The server had an error while creating the batch.", None)
            created = self._create(body)
            if fault is True:
                raise _Reject(500, "The server had an error after creating the batch.", None)
            return 200, created.to_json()
        if parts == ["batches"] and method == "GET":
            return 200, self._list(query)
        if len(parts) >= 2 and parts[0] == "batches":
            batch = self.batches.get(parts[1])
            if batch is None:
                raise _Reject(404, f"No batch found with id '{parts[1]}'.", "batch_id")
            if len(parts) == 2 and method == "GET":
                batch.retrieves += 1
                self._advance(batch)
                return 200, batch.to_json()
            if parts[2:] == ["cancel"] and method == "POST":
                if batch.status not in _TERMINAL:
                    self._stop(batch, "cancelled", "batch_cancelled")
                return 200, batch.to_json()
        raise _Reject(404, f"Invalid URL ({method} /v1/{'/'.join(parts)})", None)

    # ------------------------------------------------------------------ files
    def _new_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-fake{self._seq:06d}"

    def _upload(self, headers: dict[str, str], body: bytes) -> StoredFile:
        ctype = headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise _Reject(400, "expected a multipart/form-data body", None)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, tuple[str | None, Any]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if name:
                fields[str(name)] = (part.get_filename(), payload or b"")
        if "file" not in fields:
            raise _Reject(400, "missing required field 'file'", "file")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose not in ("batch", "assistants", "fine-tune", "vision", "user_data", "evals"):
            raise _Reject(400, f"invalid purpose {purpose!r}", "purpose")
        filename, data = fields["file"]
        stored = StoredFile(
            self._new_id("file"), filename or "upload", purpose, data, int(time.time())
        )
        self.files[stored.id] = stored
        return stored

    # ------------------------------------------------------------------ batches
    def _create(self, body: bytes) -> StoredBatch:
        try:
            params = json.loads(body)
        except ValueError:
            raise _Reject(400, "the body is not valid JSON", None) from None
        if not isinstance(params, dict):
            raise _Reject(400, "the body must be a JSON object", None)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(params.get(name), str):
                raise _Reject(400, f"missing required parameter '{name}'", name)
        if params["endpoint"] != "/v1/moderations":
            raise _Reject(400, "this fake runs only /v1/moderations batches", "endpoint")
        if params["completion_window"] != "24h":
            raise _Reject(400, "completion_window must be '24h'", "completion_window")
        source = self.files.get(params["input_file_id"])
        if source is None or source.purpose != "batch":
            raise _Reject(400, "input_file_id must name a file with purpose 'batch'", None)
        batch = StoredBatch(
            self._new_id("batch"),
            source.id,
            params["endpoint"],
            params["completion_window"],
            int(time.time()),
            params.get("metadata"),
            self._scripts.popleft() if self._scripts else None,
        )
        self.batches[batch.id] = batch
        return batch

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        newest_first = sorted(self.batches.values(), key=lambda b: b.id, reverse=True)
        after = query.get("after", [None])[0]
        if after is not None:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit", ["20"])[0])
        page = newest_first[:limit]
        return {
            "object": "list",
            "data": [b.to_json() for b in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(newest_first) > limit,
        }

    def _advance(self, batch: StoredBatch) -> None:
        now = int(time.time())
        if batch.status == "validating":
            problems = self._validate(batch)
            if problems:
                batch.errors = problems
                batch.status = "failed"
                batch.stamps["failed_at"] = now
            else:
                batch.status = "in_progress"
                batch.stamps["in_progress_at"] = now
            return
        if batch.status == "in_progress":
            if self._held:
                return
            script = batch.script if batch.script and batch.script.outcome in _STOPS else None
            stop_at = script.after if script is not None else len(batch.requests)
            step = self.per_poll or len(batch.requests)
            target = min(batch.done + step, stop_at, len(batch.requests))
            for request in batch.requests[batch.done : target]:
                self._run(batch, request)
            batch.done = target
            if script is not None and batch.done >= script.after:
                kind = {"expire": "expired", "cancel": "cancelled"}[script.outcome]
                self._stop(batch, kind, f"batch_{kind}")
            elif batch.done == len(batch.requests):
                batch.status = "finalizing"
                batch.stamps["finalizing_at"] = now
            return
        if batch.status == "cancelling":
            self._finish(batch, "cancelled")
            return
        if batch.status == "finalizing":
            self._finish(batch, "completed")

    def _validate(self, batch: StoredBatch) -> list[dict[str, Any]]:
        script = batch.script
        if script is not None and script.outcome == "fail":
            return [{"code": "invalid_request", "message": script.message, "line": script.line}]
        data = self.files[batch.input_file_id].data
        if len(data) > self.max_bytes:
            msg = f"the input file is larger than {self.max_bytes} bytes"
            return [{"code": "file_too_large", "message": msg, "line": None}]
        seen: set[str] = set()
        models: set[Any] = set()
        problems = []
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            try:
                request = json.loads(line)
                custom_id = request["custom_id"]
                if not isinstance(custom_id, str) or custom_id in seen:
                    raise ValueError("custom_id must be a unique string")
                if request.get("method") != "POST" or request.get("url") != batch.endpoint:
                    raise ValueError(f"method must be POST and url {batch.endpoint}")
                if not isinstance(request.get("body"), dict):
                    raise ValueError("body must be an object")
            except (ValueError, KeyError, TypeError) as exc:
                problems.append({"code": "invalid_request", "message": str(exc), "line": n})
                continue
            seen.add(custom_id)
            models.add(request["body"].get("model"))
            batch.requests.append(request)
        if len(batch.requests) > self.max_requests:
            msg = f"the input file has more than {self.max_requests} requests"
            problems.append({"code": "too_many_requests", "message": msg, "line": None})
        if len(models) > 1:
            msg = "every request of a batch must name the same model"
            problems.append({"code": "mixed_models", "message": msg, "line": None})
        if not batch.requests and not problems:
            problems.append({"code": "empty_file", "message": "no requests", "line": None})
        return problems

    def _run(self, batch: StoredBatch, request: dict[str, Any]) -> None:
        status, body = self.score(request["body"].get("input"), request["body"].get("model"))
        line = {
            "id": self._new_id("batch_req"),
            "custom_id": request["custom_id"],
            "response": {"status_code": status, "request_id": self._new_id("req"), "body": body},
            "error": None,
        }
        if status == 200:
            batch.output_lines.append(json.dumps(line))
        else:
            batch.failed += 1
            batch.error_lines.append(json.dumps(line))

    def _stop(self, batch: StoredBatch, kind: str, code: str) -> None:
        """Expire or cancel: requests not run go to the error file with ``code``."""
        message = {
            "batch_expired": "This request could not be executed before the completion "
            "window expired.",
            "batch_cancelled": "This request was not executed because the batch was cancelled.",
        }[code]
        for request in batch.requests[batch.done :]:
            line = {
                "id": self._new_id("batch_req"),
                "custom_id": request["custom_id"],
                "response": None,
                "error": {"code": code, "message": message},
            }
            batch.error_lines.append(json.dumps(line))
        batch.failed += len(batch.requests) - batch.done
        batch.done = len(batch.requests)
        if kind == "cancelled":
            batch.status = "cancelling"
            batch.stamps["cancelling_at"] = int(time.time())
        else:
            self._finish(batch, kind)

    def _tamper(self, batch: StoredBatch) -> None:
        """The output file faults of a completed batch (see :class:`BatchScript`)."""
        script = batch.script
        if script is None or script.outcome not in ("duplicate", "conflict", "foreign", "crossed"):
            return
        earlier = sorted(b.id for b in self.batches.values() if b.id < batch.id)
        others = self.batches[earlier[-1]].requests if earlier else []
        extra = []
        for k, raw in enumerate(batch.output_lines[: script.after]):
            line = json.loads(raw)
            line["id"] = self._new_id("batch_req")
            if script.outcome == "foreign":
                line["custom_id"] = f"not-requested-{line['custom_id']}"
            if script.outcome == "crossed" and k < len(others):
                line["custom_id"] = others[k]["custom_id"]
            if script.outcome == "conflict":
                for result in line["response"]["body"]["results"]:
                    scores = result["category_scores"]
                    for c, v in scores.items():
                        scores[c] = round(1.0 - v, 6) if isinstance(v, float) else v
            extra.append(json.dumps(line))
        batch.output_lines.extend(extra)

    def _finish(self, batch: StoredBatch, status: str) -> None:
        if status == "completed":
            self._tamper(batch)
        for attr, lines, name in (
            ("output_file_id", batch.output_lines, "output"),
            ("error_file_id", batch.error_lines, "error"),
        ):
            if lines:
                stored = StoredFile(
                    self._new_id("file"),
                    f"{batch.id}_{name}.jsonl",
                    "batch_output",
                    ("\n".join(lines) + "\n").encode(),
                    int(time.time()),
                )
                self.files[stored.id] = stored
                setattr(batch, attr, stored.id)
        batch.status = status
        batch.stamps[f"{status}_at"] = int(time.time())


#: The script outcomes that stop a batch before its requests have all run.
_STOPS = ("expire", "cancel")


class _Reject(Exception):
    def __init__(self, status: int, message: str, param: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def _error(message: str, param: str | None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": None,
        }
    }
