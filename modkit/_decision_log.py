"""The decision log: one JSON line per moderated input, written off the event loop.

Design (``modkit serve --decision-log PATH``):

* **Format.** Append-only JSON Lines, one record per input (:data:`LOG_VERSION`), UTF-8.
* **Writing.** Callers hand whole batches (one request's records) to a queue
  (:meth:`DecisionLog.write` never blocks on disk); one writer thread takes every batch
  waiting, writes each record as one line and flushes the file once per wake-up
  (``fsync=True`` also syncs it to disk). A crash loses at most the batches still in
  the queue; a torn last line (power loss in the middle of a write) is skipped by the
  reader and counted, never mistaken for a record.
* **Rotation.** By size (``rotate_bytes``) and/or by UTC day (``rotate_daily``): the
  active file ``PATH`` is renamed to ``PATH.<UTC time>`` and a new ``PATH`` begun.
  :func:`read_decision_log` reads the rotated files in order, then ``PATH``.
* **Text.** ``text="hash"`` (default) stores ``text_sha256`` (hex sha256 of the UTF-8
  text), ``"store"`` stores ``text``, ``"drop"`` stores neither.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import queue
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._taxonomy import order_categories
from ._validation import validate_params

__all__ = [
    "DECISION_PREFIX",
    "ENFORCED_PREFIX",
    "LOG_VERSION",
    "TEXT_MODES",
    "DecisionLog",
    "is_decision_log",
    "log_files",
    "read_decision_log",
    "text_fields",
]

#: The version of the decision log's record format (``"v"`` of every record).
LOG_VERSION = 1
#: How a record keeps the input: its sha256 (default), the text itself, or nothing.
TEXT_MODES = ("hash", "store", "drop")
#: Prefix of the per-category decision columns of :func:`read_decision_log`.
DECISION_PREFIX = "decision/"
#: Prefix of the per-category enforced-decision columns of :func:`read_decision_log`.
ENFORCED_PREFIX = "enforced/"

_STOP = object()


def text_fields(text: Any, mode: str) -> dict[str, str]:
    """The record's text fields for ``mode`` (see :data:`TEXT_MODES`).

    A multimodal input (a list of parts) is hashed or stored as its canonical JSON.
    """
    if mode == "drop":
        return {}
    value = text if isinstance(text, str) else json.dumps(text, sort_keys=True)
    if mode == "store":
        return {"text": value}
    return {"text_sha256": hashlib.sha256(value.encode("utf-8")).hexdigest()}


class DecisionLog:
    """An append-only JSON Lines decision log with a writer thread and rotation.

    Parameters
    ----------
    path : str or path
        The active log file (folders are made). Rotated files sit beside it as
        ``<path>.<YYYYmmddTHHMMSSffffffZ>``.
    rotate_bytes : int, optional
        Start a new file once the active one holds at least this many bytes.
    rotate_daily : bool, default False
        Start a new file at the first record of each UTC day.
    fsync : bool, default False
        ``os.fsync`` after each flush (survives a power loss, costs a disk sync per
        batch); without it a process crash still loses only the queued batches.

    Raises
    ------
    InputError
        When ``rotate_bytes`` is below 1 or the file cannot be opened for appending.

    Notes
    -----
    :meth:`write` takes a batch of records (dicts, written as given, one line each) and
    returns at once; :meth:`flush` waits until everything handed over is on file;
    :meth:`close` flushes and stops the thread. Records are written in the order their
    batches were handed over, and each batch is written whole before the next.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "decisions.jsonl"
    >>> with modkit.DecisionLog(path) as log:
    ...     log.write([{"v": 1, "time": "2026-12-07T03:00:00Z", "scores": {"hate": 0.2}}])
    >>> len(path.read_text().splitlines())
    1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rotate_bytes: int | None = None,
        rotate_daily: bool = False,
        fsync: bool = False,
    ) -> None:
        if rotate_bytes is not None and rotate_bytes < 1:
            raise InputError(f"decision log: rotate_bytes must be at least 1, got {rotate_bytes}")
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.rotate_daily = rotate_daily
        self.fsync = fsync
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 (the writer thread owns it)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the decision log ({exc})") from None
        self._day = self._file_day()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="modkit-decision-log", daemon=True)
        self._thread.start()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Hand over a batch of records; returns at once (the thread writes them).

        Parameters
        ----------
        records : sequence of dict
            JSON-ready records, written one line each, in order.

        Raises
        ------
        InputError
            When the log is closed, or the writer thread failed (a full disk, say;
            the message says why).
        """
        self._check()
        if records:
            self._queue.put(list(records))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every batch handed over so far is written and flushed.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most.

        Raises
        ------
        InputError
            When the writer thread failed or the wait timed out.
        """
        self._check()
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise InputError(f"{self.path}: decision log not flushed within {timeout} s")
        self._check()

    def close(self) -> None:
        """Write what is queued, flush, stop the writer thread and close the file."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        if not self._file.closed:
            self._file.close()

    def _check(self) -> None:
        if self._error is not None:
            raise InputError(f"{self.path}: the decision log writer failed: {self._error}")
        if not self._thread.is_alive():
            raise InputError(f"{self.path}: the decision log is closed")

    def _file_day(self) -> str | None:
        try:
            if self.path.stat().st_size == 0:
                return None
            mtime = self.path.stat().st_mtime
        except OSError:
            return None
        return _dt.datetime.fromtimestamp(mtime, _dt.UTC).strftime("%Y-%m-%d")

    def _rotate_if_due(self) -> None:
        size = self._file.tell()
        today = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")
        due = size > 0 and (
            (self.rotate_bytes is not None and size >= self.rotate_bytes)
            or (self.rotate_daily and self._day is not None and self._day != today)
        )
        if due:
            self._file.close()
            stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = self.path.with_name(f"{self.path.name}.{stamp}")
            n = 1
            while target.exists():  # two rotations in one microsecond
                target = self.path.with_name(f"{self.path.name}.{stamp}-{n}")
                n += 1
            os.replace(self.path, target)
            self._file = open(self.path, "ab")  # noqa: SIM115
        self._day = today

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:  # everything waiting: one flush for all of it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            waiters = []
            try:
                for item in items:
                    if item is _STOP:
                        stop = True
                    elif isinstance(item, threading.Event):
                        waiters.append(item)
                    elif self._error is None:
                        self._rotate_if_due()
                        lines = b"".join(
                            json.dumps(r, ensure_ascii=False, allow_nan=False).encode() + b"\n"
                            for r in item
                        )
                        self._file.write(lines)
                        self.written += len(item)
                if self._error is None:
                    self._file.flush()
                    if self.fsync:
                        os.fsync(self._file.fileno())
            except (OSError, ValueError) as exc:  # a full disk, a NaN in a record
                self._error = exc
            for event in waiters:
                event.set()
        self._file.close()


def log_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a decision log, oldest first: rotated ones, then the active one.

    Parameters
    ----------
    path : str or path
        The active log file (as given to :class:`DecisionLog`), or a folder: then every
        ``*.jsonl`` log in it, with its rotated files.

    Returns
    -------
    list of Path

    Raises
    ------
    InputError
        When neither the file nor any rotated file of it exists.
    """
    path = Path(path)
    if path.is_dir():
        return [f for base in sorted(path.glob("*.jsonl")) for f in log_files(base)]
    rotated = sorted(p for p in path.parent.glob(f"{path.name}.*") if p.is_file())
    files = rotated + ([path] if path.is_file() else [])
    if not files:
        raise InputError(f"{path}: no decision log here (nor rotated files {path.name}.*)")
    return files


def _records(files: Iterable[Path]) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    torn = 0
    for f in files:
        data = f.read_bytes()
        lines = data.split(b"\n")
        complete = data.endswith(b"\n") or not data
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            last = i == len(lines) - 1
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                if last and not complete:  # a write cut short by a crash
                    torn += 1
                    continue
                col = getattr(exc, "colno", None)
                where = f" column {col}" if col else ""
                raise InputError(f"{f}: line {i + 1}{where}: not a JSON record ({exc})") from None
            if not isinstance(rec, dict) or rec.get("v") != LOG_VERSION:
                if last and not complete:
                    torn += 1
                    continue
                raise InputError(
                    f"{f}: line {i + 1}: not a decision log record of version {LOG_VERSION} "
                    f"(field 'v')"
                )
            out.append(rec)
    return out, torn


def is_decision_log(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a decision log that :func:`read_decision_log` reads.

    A folder, a path whose rotated files exist (``PATH.<UTC time>``), or a ``.jsonl`` /
    ``.ndjson`` (or suffix-less) file whose first line is a record of this format
    (``"v"`` equal to :data:`LOG_VERSION`, with a ``decision``).

    Parameters
    ----------
    path : str or os.PathLike
        The path to look at; only its first line is read.

    Returns
    -------
    bool
        True for a decision log, False for anything else (a results table, a file
        that does not exist).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from modkit._decision_log import is_decision_log
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "log.jsonl").write_text('{"v": 1, "decision": {"action": "allow"}}\\n')
    >>> _ = (d / "scores.jsonl").write_text('{"text": "hi", "violence": 0.1}\\n')
    >>> is_decision_log(d / "log.jsonl"), is_decision_log(d / "scores.jsonl")
    (True, False)
    """
    path = Path(path)
    if path.is_dir() or (not path.exists() and any(path.parent.glob(f"{path.name}.*"))):
        return True
    if not path.is_file() or path.suffix not in (".jsonl", ".ndjson", ""):
        return False
    with path.open("rb") as fh:
        first = fh.readline()
    try:
        rec = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(rec, dict) and rec.get("v") == LOG_VERSION and "decision" in rec


@validate_params({"path": ["path"]})
def read_decision_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a decision log (with its rotated files) as a results frame, one row per record.

    Parameters
    ----------
    path : str or path
        The log file given to ``modkit serve --decision-log`` (its rotated files
        ``<path>.*`` are read first, oldest first), or a folder of logs.

    Returns
    -------
    DataFrame
        One row per record, in log order, with the columns of a results frame and the
        decision:

        * ``time`` (datetime64, UTC), ``request_id``, ``index`` (the input's position in
          its request), ``profile``, ``mode`` (``enforce`` / ``shadow``),
          ``thresholds_sha256``, ``thresholds_version``, ``enforced_source``
          (``thresholds`` / ``backend``), ``latency_ms``;
        * ``text`` or ``text_sha256`` (as the log holds them; neither when dropped);
        * one float column per category key (the scores; NaN where not scored),
          ``flagged/<category>`` and ``flagged``: the backend's own flags;
          ``model``, ``moderation_id``, ``error`` (empty);
        * ``decision`` and ``decision/<category>``: what the threshold file decided
          (``allow`` / ``review`` / ``block``); ``enforced`` and
          ``enforced/<category>``: what was acted on.

        ``attrs["torn_lines"]`` counts trailing lines cut short by a crash (skipped);
        ``attrs["files"]`` lists the files read.

    Raises
    ------
    InputError
        When there is no log at ``path``, or a line other than a file's torn last line
        is not a record (the message names file and line).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "decisions.jsonl"
    >>> record = {"v": 1, "time": "2026-12-07T03:00:00.000Z", "profile": "input",
    ...           "scores": {"violence": 0.91, "hate": 0.02},
    ...           "backend_flags": {"violence": True, "hate": False},
    ...           "decision": {"action": "block", "categories": {"violence": "block",
    ...                                                          "hate": "allow"}},
    ...           "text_sha256": "ab" * 32}
    >>> with modkit.DecisionLog(path) as log:
    ...     log.write([record])
    >>> frame = modkit.read_decision_log(path)
    >>> float(frame["violence"].iloc[0]), frame["decision"].iloc[0], frame["decision/violence"][0]
    (0.91, 'block', 'block')
    """
    files = log_files(path)
    records, torn = _records(files)
    cats = order_categories(
        {c for r in records for c in (r.get("scores") or {})}
        | {c for r in records for c in ((r.get("decision") or {}).get("categories") or {})}
    )
    rows = []
    for r in records:
        dec = r.get("decision") or {}
        enf = r.get("enforced") or {}
        flags = r.get("backend_flags") or {}
        scores = r.get("scores") or {}
        th = r.get("thresholds") or {}
        row: dict[str, Any] = {
            "time": r.get("time"),
            "request_id": r.get("request_id"),
            "index": r.get("index"),
            "profile": r.get("profile"),
            "mode": r.get("mode"),
            "thresholds_sha256": th.get("sha256"),
            "thresholds_version": th.get("schema_version"),
            "enforced_source": enf.get("source"),
            "latency_ms": r.get("latency_ms"),
        }
        for key in ("text", "text_sha256"):
            if key in r:
                row[key] = r[key]
        for c in cats:
            s = scores.get(c)
            row[c] = np.nan if s is None else float(s)
        for c in cats:
            f = flags.get(c)
            row[f"flagged/{c}"] = None if f is None else bool(f)
        row["flagged"] = bool(r.get("backend_flagged", any(bool(v) for v in flags.values())))
        row["model"] = r.get("model")
        row["moderation_id"] = r.get("request_id")
        row["error"] = ""
        row["decision"] = dec.get("action")
        for c in cats:
            row[DECISION_PREFIX + c] = (dec.get("categories") or {}).get(c)
        row["enforced"] = enf.get("action")
        for c in cats:
            row[ENFORCED_PREFIX + c] = (enf.get("categories") or {}).get(c)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["time", "decision", "enforced"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
    for c in cats:
        col = f"flagged/{c}"
        frame[col] = frame[col].astype("boolean")
    frame.attrs["torn_lines"] = torn
    frame.attrs["files"] = [str(f) for f in files]
    return frame
