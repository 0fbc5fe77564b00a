"""A persistent on-disk cache of moderation results (sqlite3 in WAL mode).

Keys are sha256 digests of (backend namespace, model, text). By default the texts
themselves are not stored, only their digests, so a cache file can be shared without
sharing the content that was moderated.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import InputError
from ._result import (
    ItemError,
    ModerationResult,
    ResultRows,
    arrow_strings,
    concat_strings,
    result_json,
    string_array,
)
from ._taxonomy import CATEGORIES
from ._text import utf8_problem

__all__ = [
    "Cache",
    "cache_key",
    "canonical_input",
    "default_cache_path",
    "input_key",
    "multimodal_keys",
    "text_keys",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    model TEXT NOT NULL,
    result TEXT NOT NULL,
    text TEXT,
    created REAL NOT NULL
)
"""
#: Columns added in modkit 0.2 (NULL in rows written before): the compact form of a
#: result (:meth:`ResultRows.compact`), the response's model and id, and the length of
#: the ``result_json`` prefix of ``result`` (``result`` is that JSON with ``model`` and
#: ``id`` appended, so older readers still parse it).
_COMPACT_COLUMNS = (
    ("packed", "BLOB"),
    ("snapshot", "TEXT"),
    ("rid", "TEXT"),
    ("raw_len", "INTEGER"),
)


def default_cache_path() -> Path:
    """Where the default cache lives: ``$MODKIT_CACHE_DIR`` or the user cache directory."""
    env = os.environ.get("MODKIT_CACHE_DIR")
    if env:
        return Path(env) / "moderations.sqlite3"
    import platformdirs

    return Path(platformdirs.user_cache_dir("modkit")) / "moderations.sqlite3"


def cache_key(namespace: str, model: str, text: str | list[dict[str, Any]]) -> str:
    """The sha256 hex digest that identifies ``text`` (or a multimodal input's parts)
    scored by ``model`` on a backend."""
    payload = json.dumps([namespace, model, text], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def canonical_input(value: Sequence[Any]) -> list[Any]:
    """A multimodal input (parts) or conversation (messages) in canonical form: plain
    JSON values with every object's keys sorted, so equal inputs give equal keys."""
    return json.loads(json.dumps(list(value), sort_keys=True))


def input_key(
    namespace: str, model: str, value: str | Sequence[Any], *, digest: bool = True
) -> str:
    """The one cache key of an input: a text, a multimodal input or a conversation.

    Parameters
    ----------
    namespace, model : str
        As for :func:`cache_key`.
    value : str or list
        A text, or a validated list of parts / messages (:func:`modkit._frame
        .check_multimodal`, or the server's request checks).
    digest : bool, default True
        ``True``: :func:`cache_key` of the text or of :func:`canonical_input`.
        ``False`` (a run without a cache, which only deduplicates): ``"="`` + the text,
        or ``"~"`` + the canonical JSON of the parts.

    Returns
    -------
    str
        The key; a list's key hashes its JSON (a list), so it never equals a text's key.
    """
    if isinstance(value, str):
        return cache_key(namespace, model, value) if digest else "=" + value
    canonical = canonical_input(value)
    if digest:
        return cache_key(namespace, model, canonical)
    return "~" + json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))


def multimodal_keys(
    checked: Mapping[int, Sequence[Any]],
    keys: list[str | None],
    namespace: str,
    model: str,
    *,
    digest: bool = True,
) -> dict[str, list[Any]]:
    """Key the rows that hold one (validated) multimodal input or conversation.

    Parameters
    ----------
    checked : mapping of int to list
        Row index -> its validated parts or messages
        (:func:`modkit._frame.check_multimodal`).
    keys : list of str or None
        :func:`text_keys`'s keys, completed in place for these rows.
    namespace, model : str
        As for :func:`cache_key`.
    digest : bool, default True
        As for :func:`input_key`.

    Returns
    -------
    dict of str to list
        key -> the input in canonical form (:func:`canonical_input`), once per distinct
        input, in row order.
    """
    unique: dict[str, list[Any]] = {}
    for i, value in checked.items():
        key = input_key(namespace, model, value, digest=digest)
        keys[i] = key
        unique.setdefault(key, canonical_input(value))
    return unique


#: Characters json.dumps(ensure_ascii=False) escapes in a string.
_PLAIN = re.compile(r'["\\\x00-\x1f]').search


def text_keys(
    texts: Iterable[object], namespace: str, model: str, *, digest: bool = True
) -> tuple[list[str | None], dict[str, str], dict[str, ItemError]]:
    """The cache key of every text of a run, the distinct texts to score, the unsendable.

    Parameters
    ----------
    texts : iterable
        One value per row; a value that is not a string gets the key None.
    namespace, model : str
        As for :func:`cache_key`.
    digest : bool, default True
        Keys are :func:`cache_key` digests. ``False`` (a run without a cache): the key
        is the text itself behind a ``"="`` (nothing is hashed); it only deduplicates.

    Returns
    -------
    keys : list of str or None
        One per row, in order.
    unique : dict of str to str
        key -> text, once per distinct text, in first-seen order.
    errors : dict of str to ItemError
        For each text that cannot be encoded as UTF-8 (a lone surrogate), its own
        per-row key and error; such a text is never sent.
    """
    keys: list[str | None] = []
    unique: dict[str, str] = {}
    errors: dict[str, ItemError] = {}
    # cache_key's JSON is '["<namespace>","<model>",<text>]': hash the prefix once
    prefix = hashlib.sha256(
        json.dumps([namespace, model], ensure_ascii=False, separators=(",", ":"))[:-1].encode()
        + b","
    )
    dumps = json.dumps
    seen: dict[str, str] = {}  # text -> key, so a repeated text is hashed once
    for i, value in enumerate(texts):
        if not isinstance(value, str):
            keys.append(None)
            continue
        key = seen.get(value)
        if key is None:
            try:
                if _PLAIN(value) is None:  # JSON would not escape anything: skip dumps
                    payload = f'"{value}"'.encode()
                else:
                    payload = dumps(value, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                key = f"unencodable:{i}"
                errors[key] = ItemError(str(utf8_problem(value)), "invalid_text")
                keys.append(key)
                continue
            if digest:
                h = prefix.copy()
                h.update(payload + b"]")
                key = h.hexdigest()
            else:
                key = "=" + value
            seen[value] = key
            unique[key] = value
        keys.append(key)
    return keys, unique, errors


class Cache:
    """A sqlite3 cache of moderation results, safe to share between processes.

    Parameters
    ----------
    path : str or Path, optional
        The sqlite file; created with its folder if missing. Default
        :func:`default_cache_path`.
    store_texts : bool, default False
        Also store each text beside its result (off by default: only digests).
    timeout : float, default 60
        Seconds to wait for another process's write lock.

    Raises
    ------
    InputError
        Naming the path, when the file exists but is not an sqlite database modkit can
        use.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modkit import Cache
    >>> from modkit._cache import cache_key
    >>> from modkit._result import ModerationResult
    >>> result = ModerationResult(False, {"violence": False}, {"violence": 0.02}, model="m-1")
    >>> key = cache_key("openai", "m-1", "hello")
    >>> with Cache(Path(tempfile.mkdtemp()) / "cache.sqlite3") as cache:
    ...     cache.put_many({key: (result, "hello")}, namespace="openai", model="m-1")
    ...     found = cache.get_many([key, "no-such-key"])
    ...     n = len(cache)
    >>> n, found[key].category_scores
    (1, {'violence': 0.02})
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        store_texts: bool = False,
        timeout: float = 60.0,
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self.store_texts = store_texts
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, check_same_thread=False, isolation_level=None
            )
            self._set_up(time.monotonic() + timeout)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a usable modkit cache ({exc})") from exc

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r}, store_texts={self.store_texts})"

    def get_many(self, keys: Iterable[str]) -> dict[str, ModerationResult]:
        """Return the cached results among ``keys``.

        Parameters
        ----------
        keys : iterable of str
            Cache keys (:func:`cache_key` digests).

        Returns
        -------
        dict of str to ModerationResult
            The found keys and their results; a key not cached is absent.
        """
        keys = list(keys)
        found: dict[str, ModerationResult] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, result FROM results WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, blob in rows:
                    found[key] = _decode(blob)
        return found

    def other_models(self, texts: Iterable[str], *, namespace: str, model: str) -> dict[str, int]:
        """How many of ``texts`` are cached under another model of ``namespace``.

        For a run keyed by a snapshot: results scored by an older snapshot of the same
        alias are kept, never served, and counted here.

        Parameters
        ----------
        texts : iterable of str
            The texts of the run.
        namespace : str
            The backend's cache namespace.
        model : str
            The run's model: results under it are not counted.

        Returns
        -------
        dict of str to int
            Per other model, the number of ``texts`` it has a result for.
        """
        texts = list(texts)
        with self._lock:
            models = [
                m
                for (m,) in self._conn.execute(
                    "SELECT DISTINCT model FROM results WHERE namespace = ?", (namespace,)
                )
                if m != model
            ]
        out: dict[str, int] = {}
        for other in models:
            keys = [cache_key(namespace, other, t) for t in texts]
            n = 0
            with self._lock:
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    n += self._conn.execute(
                        f"SELECT COUNT(*) FROM results WHERE key IN ({marks})", chunk
                    ).fetchone()[0]
            if n:
                out[other] = n
        return out

    def put_many(
        self,
        items: Mapping[str, tuple[ModerationResult, str]],
        *,
        namespace: str,
        model: str,
        raws: Mapping[str, str] | None = None,
    ) -> None:
        """Store results in one transaction (a key already stored is replaced).

        Parameters
        ----------
        items : mapping of str to (ModerationResult, str)
            Cache key -> (result, text); the text is stored only with ``store_texts``.
        namespace : str
            The backend's cache namespace.
        model : str
            The model the results were asked of (the run's key, maybe an alias).
        raws : mapping of str to str, optional
            A result's ``result_json`` string already made, so it is not serialised
            twice.
        """
        now = time.time()
        raws = raws or {}
        rows = []
        for key, (res, text) in items.items():
            raw = raws.get(key) or result_json(res)
            blob = f'{raw[:-1]},"model":{json.dumps(res.model)},"id":{json.dumps(res.id)}}}'
            rows.append(
                (
                    key,
                    namespace,
                    model,
                    blob,
                    text if self.store_texts else None,
                    now,
                    ResultRows.compact(res),
                    res.model,
                    res.id,
                    len(raw) - 1,
                )
            )
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO results (key, namespace, model, result, text, "
                    "created, packed, snapshot, rid, raw_len) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def put_rows(
        self,
        rows: ResultRows,
        texts: Sequence[str] | None = None,
        *,
        namespace: str,
        model: str,
    ) -> None:
        """Store results given in columns in one transaction (no per-result objects).

        The rows are stored exactly as :meth:`put_many` stores the same results: a later
        :meth:`get_many` or :meth:`get_rows` cannot tell them apart.

        Parameters
        ----------
        rows : ResultRows
            The results; ``rows.raw`` (each result's ``result_json``: a list of str or a
            pyarrow string array) is required.
        texts : sequence of str, optional
            One per row, stored only with ``store_texts``.
        namespace, model : str
            As for :meth:`put_many`.

        Raises
        ------
        InputError
            If ``rows.raw`` is missing or ``texts`` has another length.
        """
        n = len(rows)
        if rows.raw is None:
            raise InputError("put_rows needs each result's result_json (rows.raw)")
        if texts is not None and len(texts) != n:
            raise InputError(f"put_rows: {len(texts)} texts for {n} rows")
        if not n:
            return
        k = len(CATEGORIES)
        width = 9 * k + 1
        buf = np.empty((n, width), dtype=np.uint8)
        buf[:, : 8 * k] = np.ascontiguousarray(rows.scores, dtype=np.float64).view(np.uint8)
        buf[:, 8 * k : 9 * k] = rows.flags.astype(np.int8).view(np.uint8)
        buf[:, -1] = rows.flagged.astype(np.uint8)
        packed = buf.tobytes()
        now = time.time()
        dumps = json.dumps
        models = {m: dumps(m) for m in set(rows.model)}
        stored = texts if (self.store_texts and texts is not None) else None
        raws = rows.raw if isinstance(rows.raw, list) else rows.raw.to_pylist()  # Arrow
        data = (
            (
                key,
                namespace,
                model,
                f'{raw[:-1]},"model":{models[snap]},"id":{dumps(rid)}}}',
                None if stored is None else stored[i],
                now,
                packed[i * width : (i + 1) * width],
                snap,
                rid,
                len(raw) - 1,
            )
            for i, key, raw, snap, rid in sorted(  # in key order: B-tree pages once each
                zip(range(n), rows.keys, raws, rows.model, rows.id, strict=True), key=_second
            )
        )
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO results (key, namespace, model, result, text, "
                    "created, packed, snapshot, rid, raw_len) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    data,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def get_rows(
        self, keys: Iterable[str], *, raw: bool = True
    ) -> tuple[ResultRows, dict[str, ModerationResult]]:
        """The cached results among ``keys`` in compact, columnar form.

        Parameters
        ----------
        keys : iterable of str
            Cache keys (:func:`cache_key` digests).
        raw : bool, default True
            Also return each result's ``result_json`` string.

        Returns
        -------
        rows : ResultRows
            Every found result that has a compact form (no JSON is parsed for these).
        others : dict of str to ModerationResult
            Found results without one (written by an older modkit, or holding a
            category outside :data:`~modkit.CATEGORIES`), decoded from their JSON.
        """
        keys = list(keys)
        # Streamed: each chunk's rows go straight into column arrays, and sqlite cuts the
        # ``result_json`` prefix out of ``result`` itself, so no list of whole rows nor a
        # second copy of each JSON string is ever held (1M rows: peak under 2x the frame).
        raw_sql = "substr(result, 1, raw_len) || '}'" if raw else "NULL"
        sql = (
            f"SELECT key, packed, snapshot, rid, CASE WHEN packed IS NULL THEN result "
            f"ELSE {raw_sql} END FROM results WHERE key IN "
        )
        k = len(CATEGORIES)
        width = 9 * k + 1
        packed = np.empty((len(keys), width), dtype=np.uint8)
        found: list[str] = []
        models: list[str] = []
        ids: list[str] = []
        arrow = raw and arrow_strings()
        raws: list[str] | None = [] if raw else None
        raw_chunks: list[Any] = []
        old: dict[str, ModerationResult] = {}
        shared: dict[str, str] = {}  # one str object per distinct snapshot name
        with self._lock:
            for start in range(0, len(keys), 900):
                chunk = keys[start : start + 900]
                at = {key: i for i, key in enumerate(chunk)}
                marks = ",".join("?" * len(chunk))
                got = []
                for row in self._conn.execute(sql + f"({marks})", chunk):
                    key, blob = row[0], row[1]
                    if blob is None:  # written by modkit 0.1, or an unlisted category
                        old[chunk[at[key]]] = _decode(row[4])
                    elif len(blob) != width:  # packed for another category list
                        old[chunk[at[key]]] = self._decode_key(key)
                    else:
                        got.append((at[key], row))
                got.sort(key=_first)  # the caller's order, whatever order sqlite used
                n0 = len(found)
                for i, (_, _blob, snapshot, rid, text) in got:
                    found.append(chunk[i])  # the caller's key objects, not copies
                    models.append(shared.setdefault(snapshot, snapshot))
                    ids.append(rid)
                    if raws is not None:
                        raws.append(text)
                if got:
                    blobs = b"".join(row[1] for _, row in got)
                    packed[n0 : len(found)] = np.frombuffer(blobs, np.uint8).reshape(-1, width)
                if arrow and raws:  # into Arrow chunk by chunk: never all as Python str
                    raw_chunks.append(string_array(raws))
                    raws = []
        packed = packed[: len(found)]
        scores = packed[:, : 8 * k].copy().view(np.float64)
        flags = packed[:, 8 * k :].view(np.int8)
        strings: Any = raws
        if arrow:
            strings = concat_strings(raw_chunks)
        rows = ResultRows(
            found, scores, flags[:, :k].copy(), flags[:, k] == 1, models, ids, strings
        )
        return rows, old

    def _decode_key(self, key: str) -> ModerationResult:
        """A result whose compact form is unreadable, decoded from its JSON."""
        row = self._conn.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        return _decode(row[0])

    def _set_up(self, deadline: float) -> None:
        """WAL mode, the schema and its columns. Processes opening a new file at once can
        get "database is locked" at once, without SQLite's busy wait (it returns early
        rather than deadlock on a lock upgrade); each step is idempotent, so retry them
        until ``deadline`` (``time.monotonic()``)."""
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute(_SCHEMA)
                self._add_compact_columns()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _add_compact_columns(self) -> None:
        have = {r[1] for r in self._conn.execute("PRAGMA table_info(results)")}
        for name, kind in _COMPACT_COLUMNS:
            if name not in have:
                try:
                    self._conn.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def clear(self) -> None:
        """Delete every cached result."""
        with self._lock:
            self._conn.execute("DELETE FROM results")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first(item: tuple[int, Any]) -> int:
    return item[0]


def _second(item: tuple[Any, ...]) -> Any:
    return item[1]


def _decode(blob: str) -> ModerationResult:
    body = json.loads(blob)
    return ModerationResult.from_dict(body, model=body.get("model", ""), id=body.get("id", ""))
