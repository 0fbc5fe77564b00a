"""Scoring through the OpenAI Batch API: upload JSONL, create batches, poll, ingest.

``moderate(..., backend=OpenAIBackend(...), via="batch")`` sends each text that is not
cached as one ``/v1/moderations`` request line whose ``custom_id`` is the text's cache
key, in input files kept under the API's limits (50,000 requests, 200 MB), uploaded
with purpose ``batch``. Batches (``completion_window`` ``24h``) are polled until they
end; their output and error files are downloaded and the results written into the
cache. A ledger beside the cache (``<cache file>.batches``, sqlite) records every
uploaded file, its batch id and the keys it holds, so a run that is interrupted and
started again picks up its batches instead of submitting the texts a second time.
Source of the wire format: the public Batch API reference (request lines
``{custom_id, method, url, body}``; output lines ``{id, custom_id, response:
{status_code, request_id, body}, error}``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd

from ._cache import Cache, multimodal_keys, text_keys
from ._errors import AuthenticationError, BackendError, InputError
from ._frame import check_multimodal
from ._result import ItemError, ModerationResult
from .backends import Backend, OpenAIBackend
from .backends._http import error_message

__all__ = ["BatchAPI", "BatchRun", "split_requests"]

logger = logging.getLogger("modkit")

#: The public API's limits per input file.
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200 * 1024 * 1024
ENDPOINT = "/v1/moderations"
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchAPI:
    """How :func:`modkit.moderate` uses the OpenAI Batch API (``via=BatchAPI(...)``).

    ``via="batch"`` is ``via=BatchAPI()``.

    Parameters
    ----------
    poll_interval : float, default 30
        Seconds between two polls of the open batches.
    max_wait : float, optional
        Stop polling after this many seconds and return; texts whose batch is still
        open get an ``error`` saying so, and the next run with the same cache collects
        them. Default: wait until every batch has ended (up to the 24 h window).
        ``0`` submits and returns at once.
    max_requests_per_file : int, default 50,000
        Requests per input file (the API's limit is 50,000).
    max_bytes_per_file : int, default 200 MiB
        Bytes per input file (the API's limit is 200 MB).
    max_retries : int, default 5
        The SDK's retries of a transient failure (429, 5xx, connection error) of one
        Files or Batch API call.

    Raises
    ------
    InputError
        If a value is out of range.

    Examples
    --------
    >>> from modkit import BatchAPI
    >>> BatchAPI(poll_interval=5, max_wait=0).max_requests_per_file
    50000
    >>> BatchAPI(poll_interval=-1)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: poll_interval must be >= 0 seconds, got -1
    """

    poll_interval: float = 30.0
    max_wait: float | None = None
    max_requests_per_file: int = MAX_REQUESTS_PER_FILE
    max_bytes_per_file: int = MAX_BYTES_PER_FILE
    max_retries: int = 5

    def __post_init__(self) -> None:
        if not self.poll_interval >= 0:
            raise InputError(f"poll_interval must be >= 0 seconds, got {self.poll_interval}")
        if self.max_wait is not None and not self.max_wait >= 0:
            raise InputError(f"max_wait must be >= 0 seconds or None, got {self.max_wait}")
        if not 1 <= self.max_requests_per_file <= MAX_REQUESTS_PER_FILE:
            raise InputError(
                f"max_requests_per_file must be in [1, {MAX_REQUESTS_PER_FILE}], "
                f"got {self.max_requests_per_file}"
            )
        if not 1 <= self.max_bytes_per_file <= MAX_BYTES_PER_FILE:
            raise InputError(
                f"max_bytes_per_file must be in [1, {MAX_BYTES_PER_FILE}], "
                f"got {self.max_bytes_per_file}"
            )
        if self.max_retries < 0:
            raise InputError(f"max_retries must be >= 0, got {self.max_retries}")


def resolve_via(via: Any) -> BatchAPI | None:
    """``"requests"`` -> None, ``"batch"`` -> ``BatchAPI()``, a BatchAPI as it is."""
    if isinstance(via, BatchAPI):
        return via
    if via == "requests":
        return None
    if via == "batch":
        return BatchAPI()
    raise InputError(f"via must be 'requests', 'batch' or a modkit.BatchAPI, got {via!r}")


def request_line(key: str, model: str, value: Any) -> bytes:
    """One JSONL request line (with its newline) for ``/v1/moderations``."""
    line: dict[str, Any] = {
        "custom_id": key,
        "method": "POST",
        "url": ENDPOINT,
        "body": {"model": model},
    }
    line["body"]["input"] = value
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def split_requests(
    lines: Iterable[tuple[str, bytes]], max_requests: int, max_bytes: int
) -> Iterator[tuple[list[str], bytes] | tuple[str, None]]:
    """Group request lines into input files under both limits, keeping their order.

    Parameters
    ----------
    lines : iterable of (key, line bytes)
    max_requests, max_bytes : int
        Limits per file.

    Yields
    ------
    (keys, file bytes)
        A file's keys and content, or ``(key, None)`` for a line that alone is larger
        than ``max_bytes`` (it cannot be sent).
    """
    keys: list[str] = []
    chunks: list[bytes] = []
    size = 0
    for key, line in lines:
        if len(line) > max_bytes:
            yield key, None
            continue
        if keys and (len(keys) >= max_requests or size + len(line) > max_bytes):
            yield keys, b"".join(chunks)
            keys, chunks, size = [], [], 0
        keys.append(key)
        chunks.append(line)
        size += len(line)
    if keys:
        yield keys, b"".join(chunks)


class Ledger:
    """The batches a cache has open: sqlite beside the cache file (``<cache>.batches``).

    One row per uploaded input file (its id, the batch id once created, the backend
    namespace and model, the status last seen) and one row per (key, file). Holds no
    texts and no API key.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=60, check_same_thread=False, isolation_level=None
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS files (
                    file_id TEXT PRIMARY KEY, batch_id TEXT, namespace TEXT NOT NULL,
                    model TEXT NOT NULL, n INTEGER NOT NULL, created REAL NOT NULL,
                    status TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS requests (
                    key TEXT NOT NULL, file_id TEXT NOT NULL, PRIMARY KEY (key, file_id));
                CREATE INDEX IF NOT EXISTS requests_file ON requests (file_id);
                """
            )
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path}: not a usable modkit batch ledger ({exc})") from exc

    def open_files(self, namespace: str, model: str) -> list[dict[str, Any]]:
        """Files of this backend whose batch has not been ingested, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT file_id, batch_id, n, created, status FROM files "
                "WHERE namespace = ? AND model = ? AND done = 0 ORDER BY created",
                (namespace, model),
            ).fetchall()
        names = ("file_id", "batch_id", "n", "created", "status")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def keys_of(self, file_id: str) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM requests WHERE file_id = ?", (file_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def add_file(self, file_id: str, namespace: str, model: str, keys: list[str]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO files VALUES (?, NULL, ?, ?, ?, ?, 'uploaded', 0)",
                    (file_id, namespace, model, len(keys), time.time()),
                )
                self._conn.executemany(
                    "INSERT OR IGNORE INTO requests VALUES (?, ?)", ((k, file_id) for k in keys)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def set_batch(self, file_id: str, batch_id: str, status: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE files SET batch_id = ?, status = ? WHERE file_id = ?",
                (batch_id, status, file_id),
            )

    def set_status(self, file_id: str, status: str, *, done: bool = False) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE files SET status = ?, done = ? WHERE file_id = ?",
                (status, int(done), file_id),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def ledger_path(cache: Cache) -> Path:
    """Where the batch ledger of ``cache`` lives: ``<cache file>.batches``."""
    return cache.path.with_name(cache.path.name + ".batches")


@dataclass
class _Open:
    """A submitted (or about to be) input file and its batch."""

    file_id: str
    batch_id: str | None
    keys: list[str]
    status: str = "uploaded"
    counted: int = 0  # requests already shown on the progress bar


class BatchRun:
    """One ``moderate(..., via=...)`` run through the Batch API.

    Same interface as the request runner: :meth:`execute` returns the outcomes by
    cache key and the key of every row; :attr:`keys` and :attr:`outcomes` hold what
    is known if it raises.
    """

    def __init__(
        self, backend: Backend, cache: Cache | None, options: BatchAPI, progress: bool
    ) -> None:
        if not isinstance(backend, OpenAIBackend):
            raise InputError(
                f"via='batch' needs the openai backend (the Batch API is OpenAI's), "
                f"not {backend.name!r}"
            )
        if cache is None:
            raise InputError(
                "via='batch' needs a cache: results and the ids of open batches are kept "
                "there, so an interrupted run can resume (drop cache=None / --no-cache)"
            )
        self.backend = backend
        self.cache = cache
        self.options = options
        self.progress = progress
        self.keys: list[str | None] = []
        self.outcomes: dict[str, ModerationResult | ItemError] = {}
        self.texts: dict[str, Any] = {}
        #: Keys that two batches answered: an error, whatever is ingested later.
        self.conflicted: set[str] = set()
        self.bar: Any = None
        self.client: Any = None

    async def execute(
        self, texts: pd.Series
    ) -> tuple[dict[str, ModerationResult | ItemError], list[str | None]]:
        backend = self.backend
        ns, model = backend.cache_namespace, backend.model
        values = texts.tolist()
        keys, texts_of, unsendable = text_keys(values, ns, model)
        self.texts = dict(texts_of)  # and multimodal inputs, below
        self.outcomes.update(unsendable)
        checked, invalid = check_multimodal(values, keys)
        self.texts.update(multimodal_keys(checked, keys, ns, model))
        self.outcomes.update(invalid)
        self.keys = keys
        self.outcomes.update(self.cache.get_many(self.texts))
        todo = {k for k in self.texts if k not in self.outcomes}
        if not todo:
            return self.outcomes, keys
        self.client = backend.client().with_options(max_retries=self.options.max_retries)
        ledger = Ledger(ledger_path(self.cache))
        try:
            opened = await self._resume(ledger, todo, ns, model)
            covered = {k for o in opened for k in o.keys}
            self._open_bar(len(todo))
            pending = todo - covered  # once: inside the comprehension it was rebuilt per key
            opened += await self._submit(ledger, [k for k in self.texts if k in pending])
            await self._poll(ledger, opened)
        finally:
            ledger.close()
            if self.bar is not None:
                self.bar.close()
        return self.outcomes, keys

    # ------------------------------------------------------------------ submit
    async def _resume(self, ledger: Ledger, todo: set[str], ns: str, model: str) -> list[_Open]:
        """The open files of earlier runs that hold keys this run needs."""
        opened = []
        for row in ledger.open_files(ns, model):
            keys = ledger.keys_of(row["file_id"])
            if not todo.intersection(keys):
                continue  # another run's texts: leave its batch for that run
            item = _Open(row["file_id"], row["batch_id"], keys, row["status"])
            if item.batch_id is None:  # uploaded, then stopped: was the batch created?
                item.batch_id = await self._find_batch(row["file_id"], row["created"])
                if item.batch_id is None:
                    item.batch_id = await self._create_batch(item.file_id)
                ledger.set_batch(item.file_id, item.batch_id, "validating")
            logger.info("resuming batch %s (%d requests)", item.batch_id, len(keys))
            opened.append(item)
        return opened

    async def _submit(self, ledger: Ledger, keys: list[str]) -> list[_Open]:
        model = self.backend.model
        lines = ((k, request_line(k, model, self.texts[k])) for k in keys)
        opts = self.options
        opened = []
        for part, data in split_requests(
            lines, opts.max_requests_per_file, opts.max_bytes_per_file
        ):
            if data is None:
                key = str(part)
                self.outcomes[key] = ItemError(
                    f"too large for one Batch API input file ({opts.max_bytes_per_file} bytes)"
                )
                self._advance(1)
                continue
            part_keys = list(part)
            name = f"modkit-{time.strftime('%Y%m%dT%H%M%S')}-{len(part_keys)}.jsonl"
            uploaded = await self._call(
                "upload an input file",
                self.client.files.create(file=(name, data, "application/jsonl"), purpose="batch"),
            )
            ledger.add_file(uploaded.id, self.backend.cache_namespace, model, part_keys)
            batch_id = await self._create_batch(uploaded.id)
            ledger.set_batch(uploaded.id, batch_id, "validating")
            logger.info("created batch %s (%d requests)", batch_id, len(part_keys))
            opened.append(_Open(uploaded.id, batch_id, part_keys, "validating"))
        return opened

    async def _create_batch(self, file_id: str) -> str:
        batch = await self._call(
            "create a batch",
            self.client.batches.create(
                input_file_id=file_id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"created_by": "modkit"},
            ),
        )
        return str(batch.id)

    async def _find_batch(self, file_id: str, since: float) -> str | None:
        """The batch made from ``file_id`` (newest first, back to an hour before)."""
        page = await self._call("list batches", self.client.batches.list(limit=100))
        while True:
            for batch in page.data:
                if batch.input_file_id == file_id:
                    return str(batch.id)
                if batch.created_at < since - 3600:
                    return None
            if not page.has_next_page():
                return None
            page = await self._call("list batches", page.get_next_page())

    # ------------------------------------------------------------------ poll
    async def _poll(self, ledger: Ledger, opened: list[_Open]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        active = list(opened)
        while active:
            still = []
            for item in active:
                batch = await self._call(
                    f"retrieve batch {item.batch_id}",
                    self.client.batches.retrieve(str(item.batch_id)),
                )
                if batch.status != item.status:
                    ledger.set_status(item.file_id, batch.status)
                    item.status = batch.status
                counts = batch.request_counts
                seen = (counts.completed + counts.failed) if counts is not None else 0
                self._advance(max(0, min(seen, len(item.keys)) - item.counted))
                item.counted = max(item.counted, min(seen, len(item.keys)))
                if batch.status in _TERMINAL:
                    await self._ingest(ledger, item, batch)
                else:
                    still.append(item)
            active = still
            self._postfix(opened)
            if not active:
                break
            waited = loop.time() - started
            if self.options.max_wait is not None and waited >= self.options.max_wait:
                for item in active:
                    self._fail_missing(
                        item,
                        f"pending in OpenAI batch {item.batch_id} (status {item.status}); "
                        "run again with the same cache to collect it",
                    )
                return
            delay = self.options.poll_interval
            if self.options.max_wait is not None:
                delay = min(delay, self.options.max_wait - waited)
            await asyncio.sleep(delay)

    async def _ingest(self, ledger: Ledger, item: _Open, batch: Any) -> None:
        lines: dict[str, list[ModerationResult | ItemError]] = {}
        bad_lines = 0
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._call(
                f"download file {file_id}", self.client.files.content(file_id)
            )
            for n, line in enumerate(content.content.decode("utf-8", "replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    key, outcome = parse_output_line(line, where=f"{file_id} line {n}")
                except InputError as exc:
                    bad_lines += 1
                    logger.warning("batch %s: %s", batch.id, exc)
                    continue
                if isinstance(outcome, ItemError):
                    message = f"OpenAI batch {batch.id}: {outcome.message}"
                    outcome = ItemError(message, outcome.code)
                lines.setdefault(key, []).append(outcome)
        got = self._one_answer_each(batch.id, item, lines)
        good = {
            k: (r, _as_text(self.texts.get(k, "")))
            for k, r in got.items()
            if isinstance(r, ModerationResult)
        }
        self.cache.put_many(good, namespace=self.backend.cache_namespace, model=self.backend.model)
        for key, outcome in got.items():
            if key in self.texts and key not in self.conflicted:
                self.outcomes[key] = outcome
        missing = _why_missing(batch)
        self._fail_missing(item, missing)
        failed = len(item.keys) - len(good)
        if batch.status != "completed" or failed or bad_lines:
            logger.warning(
                "batch %s %s: %d of %d requests scored, %d failed%s",
                batch.id,
                batch.status,
                len(good),
                len(item.keys),
                failed,
                f", {bad_lines} unreadable output lines" if bad_lines else "",
            )
        self._advance(len(item.keys) - item.counted)
        item.counted = len(item.keys)
        ledger.set_status(item.file_id, batch.status, done=True)

    def _one_answer_each(
        self,
        batch_id: str,
        item: _Open,
        lines: Mapping[str, list[ModerationResult | ItemError]],
    ) -> dict[str, ModerationResult | ItemError]:
        """One outcome per ``custom_id`` of a batch's output and error files.

        A ``custom_id`` answered on more than one line (same or different answers) is an
        error for its row, never the later line silently: it is not cached, so the next
        run scores it again. A ``custom_id`` the batch did not hold is not taken: when it
        is a row of this run (another batch's request) that row fails too (two answers
        for one text), else it is logged.
        """
        mine = set(item.keys)
        got: dict[str, ModerationResult | ItemError] = {}
        for key, outcomes in lines.items():
            if key not in mine:
                if key in self.texts:
                    self.conflicted.add(key)
                    self.outcomes[key] = ItemError(
                        f"OpenAI batch {batch_id} answered this request, which it did not "
                        "hold (another batch did): conflicting answers, not scored; run "
                        "again",
                        "conflicting_custom_id",
                    )
                else:
                    logger.warning(
                        "batch %s: output for custom_id %r, which no request of this run "
                        "has: ignored",
                        batch_id,
                        key,
                    )
                continue
            if len(outcomes) > 1:
                same = all(_same_answer(o, outcomes[0]) for o in outcomes[1:])
                got[key] = ItemError(
                    f"OpenAI batch {batch_id}: custom_id answered on {len(outcomes)} lines "
                    f"({'the same answer' if same else 'different answers'}): not scored; "
                    "run again",
                    "duplicate_custom_id",
                )
                logger.warning(
                    "batch %s: custom_id %r answered on %d lines: that row is an error",
                    batch_id,
                    key,
                    len(outcomes),
                )
                continue
            got[key] = outcomes[0]
        return got

    def _fail_missing(self, item: _Open, message: str) -> None:
        for key in item.keys:
            if key in self.texts and key not in self.outcomes:
                self.outcomes[key] = ItemError(message)

    # ------------------------------------------------------------------ plumbing
    async def _call(self, what: str, awaitable: Any) -> Any:
        """Await one SDK call, mapping its failures to modkit errors (key scrubbed)."""
        import openai

        try:
            return await awaitable
        except openai.APIStatusError as exc:
            message = self._scrub(error_message(exc))
            status = int(exc.status_code)
            if status in (401, 403):
                raise AuthenticationError(
                    f"Batch API: could not {what}: HTTP {status}: {message}",
                    status_code=status,
                    code=getattr(exc, "code", None),
                ) from None
            raise BackendError(
                f"Batch API: could not {what}: HTTP {status}: {message}",
                status_code=status,
                code=getattr(exc, "code", None),
            ) from None
        except openai.APIConnectionError as exc:
            raise BackendError(
                f"Batch API: could not {what}: {self._scrub(str(exc))}; open batches are "
                "kept in the ledger beside the cache: run again to resume"
            ) from None

    def _scrub(self, text: str) -> str:
        key = getattr(self.client, "api_key", "") or ""
        if key and key != "unused":
            text = text.replace(key, "***")
        return re.sub(r"\bsk-[A-Za-z0-9_\-*]{3,}", "sk-***", text)

    def _open_bar(self, todo: int) -> None:
        if not self.progress:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=todo, desc="moderate (openai batch)", unit="text")

    def _advance(self, n: int) -> None:
        if self.bar is not None and n > 0:
            self.bar.update(n)

    def _postfix(self, opened: list[_Open]) -> None:
        if self.bar is None:
            return
        states: dict[str, int] = {}
        for item in opened:
            states[item.status] = states.get(item.status, 0) + 1
        self.bar.set_postfix(states, refresh=True)


def parse_output_line(line: str, *, where: str) -> tuple[str, ModerationResult | ItemError]:
    """One line of a batch output or error file: (custom_id, result or per-item error).

    Parameters
    ----------
    line : str
        ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
        "error"}`` as the Batch API writes it.
    where : str
        Names the file and line in error messages.

    Returns
    -------
    (str, ModerationResult or ItemError)
        A 200 response's single result; an error status (its body's error message and
        code) or an ``error`` object as an :class:`ItemError`.

    Raises
    ------
    InputError
        If the line is not JSON, has no ``custom_id``, or its 200 body is not a
        moderation response with exactly one result.
    """
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        raise InputError(f"{where}: no 'custom_id' string")
    key = obj["custom_id"]
    error = obj.get("error")
    response = obj.get("response")
    if isinstance(error, Mapping) and error:
        code = error.get("code")
        message = str(error.get("message") or "request failed")
        return key, ItemError(message + (f" ({code})" if code else ""), str(code) if code else None)
    if not isinstance(response, Mapping):
        raise InputError(f"{where}: neither 'response' nor 'error'")
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        inner = body.get("error") if isinstance(body, Mapping) else None
        inner = inner if isinstance(inner, Mapping) else {}
        code = inner.get("code")
        message = inner.get("message") or "request failed"
        return key, ItemError(f"HTTP {status}: {message}", str(code) if code else None)
    results = body.get("results") if isinstance(body, Mapping) else None
    if not isinstance(results, list) or len(results) != 1:
        raise InputError(f"{where}: a 200 body without exactly one result")
    meta = cast(Mapping[str, Any], body)  # it held the results: a mapping
    result = ModerationResult.from_dict(
        results[0],
        model=str(meta.get("model") or ""),
        id=str(meta.get("id") or ""),
        where=f"{where}: results[0]",
    )
    return key, result


def _same_answer(a: ModerationResult | ItemError, b: ModerationResult | ItemError) -> bool:
    """Two answers of one request say the same (ids and notes aside)."""
    if isinstance(a, ModerationResult) and isinstance(b, ModerationResult):
        return a.to_dict() == b.to_dict() and a.model == b.model
    return a == b


def _as_text(value: Any) -> str:
    """What the cache stores as the input (with store_texts): a text, or parts' JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _why_missing(batch: Any) -> str:
    """The error of a request that a finished batch did not answer."""
    if batch.status == "failed":
        errors = getattr(batch.errors, "data", None) or []
        detail = "; ".join(
            (f"line {e.line}: " if e.line else "") + str(e.message or e.code) for e in errors[:3]
        )
        return f"OpenAI batch {batch.id} failed validation: {detail or 'no reason given'}"
    if batch.status in ("expired", "cancelled"):
        return f"OpenAI batch {batch.id} {batch.status} before this request ran; run again"
    return f"OpenAI batch {batch.id} {batch.status} without an answer for this request"
