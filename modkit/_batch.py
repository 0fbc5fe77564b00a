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
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ._cache import Cache, multimodal_keys, text_keys
from ._errors import AuthenticationError, BackendError, InputError
from ._frame import check_multimodal
from ._result import ItemError, ModerationResult, ResultRows, arrow_strings, string_array
from ._taxonomy import CATEGORIES
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
    return _line_maker(model)(key, value)


def _line_maker(model: str) -> Any:
    """``request_line`` for one model: the fixed parts of the line made once."""
    dumps = json.dumps
    head = b'{"custom_id":'
    mid = (',"method":"POST","url":' + dumps(ENDPOINT) + ',"body":{"model":').encode()
    mid += dumps(model, ensure_ascii=False).encode() + b',"input":'

    def make(key: str, value: Any) -> bytes:
        return b"".join(
            (
                head,
                dumps(key, ensure_ascii=False).encode(),
                mid,
                dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),
                b"}}\n",
            )
        )

    return make


def _file_starts(
    lines: Iterable[tuple[str, bytes]], max_requests: int, max_bytes: int
) -> Iterator[tuple[str, bytes, bool | None]]:
    """Each line with where it goes: True starts a new input file, False continues the
    current one, None is a line larger than ``max_bytes`` alone (it cannot be sent)."""
    count = 0
    size = 0
    for key, line in lines:
        if len(line) > max_bytes:
            yield key, line, None
            continue
        new = count == 0 or count >= max_requests or size + len(line) > max_bytes
        if new:
            count, size = 0, 0
        count += 1
        size += len(line)
        yield key, line, new


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
    for key, line, new in _file_starts(lines, max_requests, max_bytes):
        if new is None:
            yield key, None
            continue
        if new and keys:
            yield keys, b"".join(chunks)
            keys, chunks = [], []
        keys.append(key)
        chunks.append(line)
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
            have = {r[1] for r in self._conn.execute("PRAGMA table_info(files)")}
            if "keys" not in have:  # a file's keys in one blob (modkit >= 0.3)
                try:
                    self._conn.execute("ALTER TABLE files ADD COLUMN keys BLOB")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
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
        """The keys a file holds, in order (older ledgers: from the ``requests`` table)."""
        with self._lock:
            row = self._conn.execute("SELECT keys FROM files WHERE file_id = ?", (file_id,))
            blob = (row.fetchone() or (None,))[0]
            if blob is not None:
                return bytes(blob).decode().split("\n") if blob else []
            rows = self._conn.execute(
                "SELECT key FROM requests WHERE file_id = ?", (file_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def add_file(self, file_id: str, namespace: str, model: str, keys: list[str]) -> None:
        """Record an uploaded file and its keys (one row: keys are digests, never texts)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO files (file_id, batch_id, namespace, model, n, created, status, "
                "done, keys) VALUES (?, NULL, ?, ?, ?, ?, 'uploaded', 0, ?)",
                (file_id, namespace, model, len(keys), time.time(), "\n".join(keys).encode()),
            )

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


#: Lines parsed between two updates of the ingest progress bar.
_CHUNK = 4096


class BatchRun:
    """One ``moderate(..., via=...)`` run through the Batch API.

    Same interface as the request runner: :meth:`execute` returns the outcomes by
    cache key and the key of every row; :attr:`keys`, :attr:`outcomes` and
    :attr:`rows` hold what is known if it raises.

    Well-formed results (cached ones, and output lines :class:`_Lines` accepts) are
    kept in columns (:class:`ResultRows`); :attr:`outcomes` holds per-item errors and
    the results the lenient parser read (with their notes).
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
        #: Keys answered by a well-formed line (their result is in :attr:`rows`).
        self.answered: set[str] = set()
        self._parts: list[ResultRows] = []
        self.bar: Any = None  # waiting for batches
        self.ingest_bar: Any = None
        self.client: Any = None

    @property
    def rows(self) -> ResultRows:
        """The results held in columns: cached ones, then each ingested batch's."""
        if len(self._parts) != 1:
            self._parts = [ResultRows.concat(self._parts)]
        return self._parts[0]

    async def execute(
        self, texts: pd.Series
    ) -> tuple[dict[str, ModerationResult | ItemError], list[str | None]]:
        backend = self.backend
        ns, model = backend.cache_namespace, backend.model
        values = texts.tolist()
        lookup = self._phase("keys and cache lookup", len(values) * 2)
        keys, texts_of, unsendable = text_keys(values, ns, model)
        self._step(lookup, len(values))
        self.texts = dict(texts_of)  # and multimodal inputs, below
        self.outcomes.update(unsendable)
        checked, invalid = check_multimodal(values, keys)
        self.texts.update(multimodal_keys(checked, keys, ns, model))
        self.outcomes.update(invalid)
        self.keys = keys
        todo = self._cached(lookup, len(values))
        if not todo:
            return self.outcomes, keys
        self.client = backend.client().with_options(max_retries=self.options.max_retries)
        ledger = Ledger(ledger_path(self.cache))
        try:
            opened = await self._resume(ledger, todo, ns, model)
            covered = {k for o in opened for k in o.keys}
            pending = todo - covered  # once: inside the comprehension it was rebuilt per key
            opened += await self._submit(ledger, [k for k in self.texts if k in pending])
            self.bar = self._phase("waiting for batches", len(todo))
            self.ingest_bar = self._phase("ingesting", len(todo))
            await self._poll(ledger, opened)
        finally:
            ledger.close()
            for bar in (self.bar, self.ingest_bar):
                if bar is not None:
                    bar.close()
        return self.outcomes, keys

    def _cached(self, bar: Any, total: int) -> set[str]:
        """Read the cached results in chunks (compact columns); the keys still to score."""
        keys = list(self.texts)
        step = 100_000
        found: list[ResultRows] = []
        for start in range(0, len(keys), step):
            rows, others = self.cache.get_rows(keys[start : start + step], raw=True)
            found.append(rows)
            self.outcomes.update(others)
            self._step(bar, min(step, len(keys) - start) * total // max(len(keys), 1))
        self._parts = [ResultRows.concat(found)] if len(found) != 1 else found
        done = set(self.rows.keys)
        if bar is not None:
            bar.close()
        return {k for k in keys if k not in self.outcomes and k not in done}

    # ------------------------------------------------------------------ submit
    async def _resume(self, ledger: Ledger, todo: set[str], ns: str, model: str) -> list[_Open]:
        """The open files of earlier runs that hold keys this run needs."""
        opened = []
        for row in ledger.open_files(ns, model):
            keys = ledger.keys_of(row["file_id"])
            if todo.isdisjoint(keys):
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
        """Write the request lines into input files on disk, upload each, create its batch."""
        model = self.backend.model
        make = _line_maker(model)
        lines = ((k, make(k, self.texts[k])) for k in keys)
        opts = self.options
        opened: list[_Open] = []
        bar = self._phase("writing and uploading files", len(keys))
        part: list[str] = []
        with tempfile.TemporaryFile() as fh:

            async def send() -> None:
                fh.flush()
                fh.seek(0)
                opened.append(await self._upload(ledger, fh, part))
                fh.seek(0)
                fh.truncate()

            for key, line, new in _file_starts(
                lines, opts.max_requests_per_file, opts.max_bytes_per_file
            ):
                if new is None:
                    self.outcomes[key] = ItemError(
                        f"too large for one Batch API input file ({opts.max_bytes_per_file} bytes)"
                    )
                    self._step(bar, 1)
                    continue
                if new and part:
                    await send()
                    self._step(bar, len(part))
                    part = []
                fh.write(line)
                part.append(key)
            if part:
                await send()
                self._step(bar, len(part))
        if bar is not None:
            bar.close()
        return opened

    async def _upload(self, ledger: Ledger, fh: Any, keys: list[str]) -> _Open:
        """Upload one input file (read from disk by the SDK) and create its batch."""
        model = self.backend.model
        name = f"modkit-{time.strftime('%Y%m%dT%H%M%S')}-{len(keys)}.jsonl"
        uploaded = await self._call(
            "upload an input file",
            self.client.files.create(file=(name, fh, "application/jsonl"), purpose="batch"),
        )
        ledger.add_file(uploaded.id, self.backend.cache_namespace, model, keys)
        batch_id = await self._create_batch(uploaded.id)
        ledger.set_batch(uploaded.id, batch_id, "validating")
        logger.info("created batch %s (%d requests)", batch_id, len(keys))
        return _Open(uploaded.id, batch_id, list(keys), "validating")

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
                self._step(self.bar, max(0, min(seen, len(item.keys)) - item.counted))
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
        """Download a finished batch's output and error files to disk and read them line by
        line: well-formed lines into columns, any other through the lenient parser."""
        got = _Lines()
        bad_lines = 0
        shown = 0  # requests shown on the ingest bar
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                bad, shown = await self._read_file(file_id, batch.id, item, got, shown)
                bad_lines += bad
        scored = self._keep(batch.id, item, got)
        self._fail_missing(item, _why_missing(batch))
        failed = len(item.keys) - scored
        if batch.status != "completed" or failed or bad_lines:
            logger.warning(
                "batch %s %s: %d of %d requests scored, %d failed%s",
                batch.id,
                batch.status,
                scored,
                len(item.keys),
                failed,
                f", {bad_lines} unreadable output lines" if bad_lines else "",
            )
        self._step(self.bar, len(item.keys) - item.counted)
        item.counted = len(item.keys)
        self._step(self.ingest_bar, len(item.keys) - shown)
        ledger.set_status(item.file_id, batch.status, done=True)

    async def _read_file(
        self, file_id: str, batch_id: str, item: _Open, got: _Lines, shown: int
    ) -> tuple[int, int]:
        """Read one output or error file into ``got``: (unreadable lines, requests shown)."""
        bad_lines = 0
        with tempfile.TemporaryFile() as fh:
            await self._download(file_id, fh)
            fh.seek(0)
            for n, line in enumerate(fh, 1):
                if n % _CHUNK == 0 and shown < len(item.keys):
                    self._step(self.ingest_bar, min(_CHUNK, len(item.keys) - shown))
                    shown += _CHUNK
                if got.add(line):
                    continue
                text = line.decode("utf-8", "replace")
                if not text.strip():
                    continue
                try:
                    key, outcome = parse_output_line(text, where=f"{file_id} line {n}")
                except InputError as exc:
                    bad_lines += 1
                    logger.warning("batch %s: %s", batch_id, exc)
                    continue
                if isinstance(outcome, ItemError):
                    outcome = ItemError(f"OpenAI batch {batch_id}: {outcome.message}", outcome.code)
                got.answers.setdefault(key, []).append(outcome)
        return bad_lines, shown

    def _keep(self, batch_id: str, item: _Open, got: _Lines) -> int:
        """Cache and keep a batch's accepted answers; returns how many were scored."""
        accepted = self._one_answer_each(batch_id, item, got)
        rows = got.rows(accepted)
        good = {
            k: (r, _as_text(self.texts.get(k, "")))
            for k, r in accepted.items()
            if isinstance(r, ModerationResult)
        }
        ns, model = self.backend.cache_namespace, self.backend.model
        stored = None  # the texts, only for a cache that keeps them
        if self.cache.store_texts:
            stored = [_as_text(self.texts.get(k, "")) for k in rows.keys]
        self.cache.put_rows(rows, stored, namespace=ns, model=model)
        self.cache.put_many(good, namespace=ns, model=model)
        rows.raw = _strings(rows.raw)  # kept for the frame: Arrow, not Python strings
        self._parts.append(rows)
        self.answered.update(rows.keys)
        for key, answer in accepted.items():
            if isinstance(answer, int):
                continue
            if key in self.texts and key not in self.conflicted:
                self.outcomes[key] = answer
        return len(rows) + len(good)

    def _one_answer_each(
        self, batch_id: str, item: _Open, got: _Lines
    ) -> dict[str, ModerationResult | ItemError | int]:
        """One outcome per ``custom_id`` of a batch's output and error files.

        A ``custom_id`` answered on more than one line (same or different answers) is an
        error for its row, never the later line silently: it is not cached, so the next
        run scores it again. A ``custom_id`` the batch did not hold is not taken: when it
        is a row of this run (another batch's request) that row fails too (two answers
        for one text), else it is logged. An ``int`` is a well-formed line's row in
        ``got``'s columns.
        """
        mine = set(item.keys)
        accepted: dict[str, ModerationResult | ItemError | int] = {}
        for key, outcomes in got.answers.items():
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
                answers = [got.result(o) if isinstance(o, int) else o for o in outcomes]
                same = all(_same_answer(o, answers[0]) for o in answers[1:])
                accepted[key] = ItemError(
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
            accepted[key] = outcomes[0]
        return accepted

    def _fail_missing(self, item: _Open, message: str) -> None:
        for key in item.keys:
            if key in self.texts and key not in self.outcomes and key not in self.answered:
                self.outcomes[key] = ItemError(message)

    # ------------------------------------------------------------------ plumbing
    async def _call(self, what: str, awaitable: Any) -> Any:
        """Await one SDK call, mapping its failures to modkit errors (key scrubbed)."""
        import openai

        try:
            return await awaitable
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise self._mapped(what, exc) from None

    async def _download(self, file_id: str, fh: Any) -> None:
        """Stream a file's content into ``fh`` (never whole in memory)."""
        import httpx2
        import openai

        what = f"download file {file_id}"
        try:
            async with self.client.files.with_streaming_response.content(file_id) as response:
                async for chunk in response.iter_bytes():
                    fh.write(chunk)
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise self._mapped(what, exc) from None
        except httpx2.TransportError as exc:  # the connection failed while the body streamed
            raise self._mapped(what, exc) from None

    def _mapped(self, what: str, exc: Any) -> Exception:
        """An SDK failure as a modkit error naming what failed (key scrubbed)."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            message = self._scrub(error_message(exc))
            status = int(exc.status_code)
            kind = AuthenticationError if status in (401, 403) else BackendError
            return kind(
                f"Batch API: could not {what}: HTTP {status}: {message}",
                status_code=status,
                code=getattr(exc, "code", None),
            )
        return BackendError(
            f"Batch API: could not {what}: {self._scrub(str(exc))}; open batches are "
            "kept in the ledger beside the cache: run again to resume"
        )

    def _scrub(self, text: str) -> str:
        key = getattr(self.client, "api_key", "") or ""
        if key and key != "unused":
            text = text.replace(key, "***")
        return re.sub(r"\bsk-[A-Za-z0-9_\-*]{3,}", "sk-***", text)

    def _phase(self, what: str, total: int) -> Any:
        """A progress bar for one phase of the run (None with ``progress=False``)."""
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=f"moderate (openai batch): {what}", unit="text")

    @staticmethod
    def _step(bar: Any, n: int) -> None:
        if bar is not None and n > 0:
            bar.update(n)

    def _postfix(self, opened: list[_Open]) -> None:
        if self.bar is None:
            return
        states: dict[str, int] = {}
        for item in opened:
            states[item.status] = states.get(item.status, 0) + 1
        self.bar.set_postfix(states, refresh=True)


class _Lines:
    """The output lines of one batch: well-formed results in columns, others as objects.

    A line is well-formed when it is a 200 response with one result whose ``flagged``
    is a boolean, ``categories`` and ``category_scores`` have the same keys, all in
    :data:`~modkit.CATEGORIES`, every flag a boolean and every score a float (finite:
    checked vectorised in :meth:`rows`), and ``category_applied_input_types`` (if any)
    lists of strings. For such a result the lenient parser
    (:meth:`ModerationResult.from_dict`) would note nothing and :func:`result_json`
    would write what is built here; every other line goes to that parser.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.raw: list[str] = []
        self.model: list[str] = []
        self.id: list[str] = []
        self.flagged: list[bool] = []
        self.scores: list[list[float]] = []
        self.flags: list[list[bool]] = []
        self.layout: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        #: custom_id -> its answers: an int is a row of the columns above.
        self.answers: dict[str, list[ModerationResult | ItemError | int]] = {}
        self._dumps = json.JSONEncoder(separators=(",", ":")).encode
        self._shared: dict[str, str] = {}

    def add(self, line: bytes) -> bool:
        """Take ``line`` if it is well-formed; False: it is for the lenient parser."""
        try:
            obj = json.loads(line)
        except ValueError:
            return False
        if type(obj) is not dict or obj.get("error"):
            return False
        key = obj.get("custom_id")
        response = obj.get("response")
        if type(key) is not str or type(response) is not dict:
            return False
        body = response.get("body")
        if response.get("status_code") != 200 or type(body) is not dict:
            return False
        results = body.get("results")
        if type(results) is not list or len(results) != 1 or type(results[0]) is not dict:
            return False
        r = results[0]
        flagged = r.get("flagged")
        cats = r.get("categories")
        scores = r.get("category_scores")
        applied = r.get("category_applied_input_types")
        model, rid = body.get("model") or "", body.get("id") or ""
        if (
            type(flagged) is not bool
            or type(cats) is not dict
            or type(scores) is not dict
            or cats.keys() != scores.keys()
            or not _KNOWN.issuperset(scores)
            or type(model) is not str
            or type(rid) is not str
        ):
            return False
        svals = list(scores.values())
        fvals = list(cats.values())
        if not all(type(v) is float for v in svals) or not all(type(v) is bool for v in fvals):
            return False
        out: dict[str, Any] = {"flagged": flagged, "categories": cats, "category_scores": scores}
        if applied is not None:
            if type(applied) is not dict or not all(
                type(v) is list and all(type(t) is str for t in v) for v in applied.values()
            ):
                return False
            if applied:
                out["category_applied_input_types"] = applied
        try:
            raw = self._dumps(out)
        except ValueError:
            return False
        model = self._shared.setdefault(model, model)  # one str per snapshot name
        self.answers.setdefault(key, []).append(len(self.keys))
        self.keys.append(key)
        self.raw.append(raw)
        self.model.append(model)
        self.id.append(rid)
        self.flagged.append(flagged)
        self.scores.append(svals)
        self.flags.append(fvals)
        self.layout.append((tuple(scores), tuple(cats)))
        return True

    def result(self, i: int) -> ModerationResult:
        """Row ``i`` as a result object (for comparing answers; rarely needed)."""
        return ModerationResult.from_dict(
            json.loads(self.raw[i]), model=self.model[i], id=self.id[i]
        )

    def rows(self, accepted: dict[str, ModerationResult | ItemError | int]) -> ResultRows:
        """The accepted rows in columns; one whose score is not finite (``1e999``) is
        parsed by the lenient parser into ``accepted`` instead (NaN, with a note)."""
        take = np.array(sorted(i for i in accepted.values() if isinstance(i, int)), dtype=np.intp)
        n = len(self.keys)
        k = len(CATEGORIES)
        scores = np.full((n, k), np.nan)
        flags = np.full((n, k), -1, dtype=np.int8)
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[int]] = {}
        for i in take.tolist():
            groups.setdefault(self.layout[i], []).append(i)
        bad: list[int] = []
        for (s_keys, f_keys), at in groups.items():
            values = np.array([self.scores[i] for i in at], dtype=np.float64)
            finite = np.isfinite(values).all(axis=1) if s_keys else np.ones(len(at), bool)
            if not finite.all():  # NaN / 1e999: the lenient parser's NaN and note
                bad += [at[j] for j in np.flatnonzero(~finite).tolist()]
            where = np.asarray(at, dtype=np.intp)[:, None]
            if s_keys:
                scores[where, [_COLUMN[c] for c in s_keys]] = values
            if f_keys:
                flags[where, [_COLUMN[c] for c in f_keys]] = np.array(
                    [self.flags[i] for i in at], dtype=np.int8
                )
        for i in bad:
            accepted[self.keys[i]] = self.result(i)
        if bad:
            take = np.setdiff1d(take, np.asarray(bad, dtype=np.intp))
        flagged = np.asarray(self.flagged, dtype=bool)
        return ResultRows(
            [self.keys[i] for i in take.tolist()],
            scores[take],
            flags[take],
            flagged[take] if n else np.empty(0, dtype=bool),
            [self.model[i] for i in take.tolist()],
            [self.id[i] for i in take.tolist()],
            [self.raw[i] for i in take.tolist()],
        )


def _strings(values: list[str]) -> Any:
    """A batch's ``result_json`` strings kept for the frame: in Arrow when pandas keeps
    strings there, so a run's million strings are never Python objects together."""
    return string_array(values) if arrow_strings() else values


_COLUMN = {c: j for j, c in enumerate(CATEGORIES)}
_KNOWN = frozenset(CATEGORIES)


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
