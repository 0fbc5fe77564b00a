"""A persistent on-disk cache of moderation results (sqlite3 in WAL mode).

Keys are sha256 digests of (backend namespace, model, text). By default the texts
themselves are not stored, only their digests, so a cache file can be shared without
sharing the content that was moderated.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._errors import InputError
from ._result import ItemError, ModerationResult
from ._text import utf8_problem

__all__ = ["Cache", "cache_key", "default_cache_path", "text_keys"]

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


def default_cache_path() -> Path:
    """Where the default cache lives: ``$MODKIT_CACHE_DIR`` or the user cache directory."""
    env = os.environ.get("MODKIT_CACHE_DIR")
    if env:
        return Path(env) / "moderations.sqlite3"
    import platformdirs

    return Path(platformdirs.user_cache_dir("modkit")) / "moderations.sqlite3"


def cache_key(namespace: str, model: str, text: str) -> str:
    """The sha256 hex digest that identifies ``text`` scored by ``model`` on a backend."""
    payload = json.dumps([namespace, model, text], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def text_keys(
    texts: Iterable[object], namespace: str, model: str
) -> tuple[list[str | None], dict[str, str], dict[str, ItemError]]:
    """The cache key of every text of a run, the distinct texts to score, the unsendable.

    Parameters
    ----------
    texts : iterable
        One value per row; a value that is not a string gets the key None.
    namespace, model : str
        As for :func:`cache_key`.

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
    for i, value in enumerate(texts):
        if not isinstance(value, str):
            keys.append(None)
            continue
        problem = utf8_problem(value)
        if problem is not None:
            key = f"unencodable:{i}"
            errors[key] = ItemError(f"text {problem}", "invalid_text")
        else:
            key = cache_key(namespace, model, value)
            unique.setdefault(key, value)
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
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a usable modkit cache ({exc})") from exc

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r}, store_texts={self.store_texts})"

    def get_many(self, keys: Iterable[str]) -> dict[str, ModerationResult]:
        """Return the cached results among ``keys`` (missing keys are absent)."""
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

    def put_many(
        self, items: Mapping[str, tuple[ModerationResult, str]], *, namespace: str, model: str
    ) -> None:
        """Store results; ``items`` maps key -> (result, text). One transaction."""
        now = time.time()
        rows = [
            (key, namespace, model, _encode(res), text if self.store_texts else None, now)
            for key, (res, text) in items.items()
        ]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
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


def _encode(res: ModerationResult) -> str:
    body = res.to_dict()
    body["model"] = res.model
    body["id"] = res.id
    return json.dumps(body, separators=(",", ":"))


def _decode(blob: str) -> ModerationResult:
    body = json.loads(blob)
    return ModerationResult.from_dict(body, model=body.get("model", ""), id=body.get("id", ""))
