"""Cross-fitted scores cached on disk, keyed by the model's and the data's sha256."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CROSSFIT_FORMAT",
    "SHIPPED_FILE",
    "cached_frame",
    "crossfit_cache_dir",
    "crossfit_key",
    "read_shipped",
    "rows_sha256",
    "shipped_meta",
    "write_shipped",
]

#: Bumped when the cached frame's layout or the cross-fitting procedure changes.
CROSSFIT_FORMAT = 1


def crossfit_cache_dir() -> Path:
    """``$MODKIT_CACHE_DIR/crossfit``, else ``platformdirs.user_cache_dir("modkit")/crossfit``."""
    env = os.environ.get("MODKIT_CACHE_DIR")
    if env:
        return Path(env) / "crossfit"
    import platformdirs

    return Path(platformdirs.user_cache_dir("modkit")) / "crossfit"


def crossfit_key(
    *, heads_sha256: str, encoder_sha256: str, data_sha256: str, n_splits: int, seed: int
) -> str:
    """sha256 of everything the cross-fitted scores depend on (hex).

    Parameters
    ----------
    heads_sha256 : str
        The model's ``heads.json`` (its regularisation strengths and thresholds are used).
    encoder_sha256 : str
        The encoder's ONNX file.
    data_sha256 : str
        The training inputs (texts, tasks and labels) as ``training_digest`` hashes them.
    n_splits, seed : int
        The fold assignment.
    """
    doc = {
        "format": CROSSFIT_FORMAT,
        "heads": heads_sha256,
        "encoder": encoder_sha256,
        "data": data_sha256,
        "n_splits": int(n_splits),
        "seed": int(seed),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def cached_frame(key: str, compute: Callable[[], Any], *, folder: Path | None = None) -> Any:
    """The frame stored under ``key``, or ``compute()`` stored there first (atomically).

    A cached file that cannot be read (truncated, another format) is recomputed and
    replaced, never trusted.
    """
    import pandas as pd

    folder = folder or crossfit_cache_dir()
    path = folder / f"{key}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception:
            path.unlink(missing_ok=True)
    frame = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs the next call its time
    return frame


#: The file ``modkit train`` writes beside ``heads.json``: the cross-fitted scores of the
#: registry's rows (no text), keyed as the cache is.
SHIPPED_FILE = "crossfit.npz"
#: A fixed zip timestamp: the same scores always give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def rows_sha256(texts: Iterable[str]) -> str:
    """sha256 of the texts the shipped scores are joined to, in order (hex).

    Examples
    --------
    >>> from modkit.training._crossfit import rows_sha256
    >>> rows_sha256(["a", "b"]) == rows_sha256(["a", "b"]) != rows_sha256(["b", "a"])
    True
    """
    h = hashlib.sha256()
    for t in texts:
        h.update(str(t).encode("utf-8") + b"\0")
    return h.hexdigest()


def write_shipped(
    folder: str | os.PathLike[str],
    *,
    key: dict[str, Any],
    scores: np.ndarray,
    rows: str,
) -> Path:
    """Write :data:`SHIPPED_FILE` into ``folder`` (atomically, same bytes for same inputs).

    Parameters
    ----------
    folder : path
        The model folder (beside ``heads.json``).
    key : dict
        The keyword arguments of :func:`crossfit_key` (stored, with the key itself).
    scores : ndarray of shape (n_rows, n_categories)
        Cross-fitted scores, stored as float64: the frame joined from them equals the
        computed one bit for bit (float32 would change every score's 8th digit, in the
        ``result_json`` text too).
    rows : str
        :func:`rows_sha256` of the texts the rows belong to.

    Returns
    -------
    Path
        The file written.
    """
    import zipfile

    meta = {
        "format": CROSSFIT_FORMAT,
        "key": crossfit_key(**key),
        **key,
        "rows_sha256": rows,
        "n_rows": int(scores.shape[0]),
        "contents": "cross-fitted scores of the registry's rows (float64) and each row's "
        "position; no text",
    }
    arrays: dict[str, np.ndarray] = {
        "scores": np.asarray(scores, dtype=np.float64),
        "row": np.arange(scores.shape[0], dtype=np.int32),
        "meta": np.array(json.dumps(meta, sort_keys=True)),
    }
    path = Path(folder) / SHIPPED_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    os.replace(tmp, path)
    return path


def read_shipped(folder: str | os.PathLike[str], key: str, rows: str) -> np.ndarray | None:
    """The shipped scores when their key and rows match, else ``None``.

    A missing, unreadable or stale file (other heads, encoder, data or folds), or one
    joined to other texts (``rows``, :func:`rows_sha256`), is never used.

    Parameters
    ----------
    folder : path
        The model folder.
    key : str
        :func:`crossfit_key` of the model and of the data the caller loaded.
    rows : str
        :func:`rows_sha256` of the loaded rows the scores would be joined to.

    Returns
    -------
    ndarray of float64, shape (n_rows, n_categories), or None
    """
    found = _read(folder)
    if found is None:
        return None
    meta, scores, row = found
    if meta.get("key") != key or meta.get("rows_sha256") != rows:
        return None
    n = int(meta.get("n_rows", -1))
    if scores.ndim != 2 or scores.shape[0] != n or not np.array_equal(row, np.arange(n)):
        return None
    return np.asarray(scores, dtype=np.float64)


def shipped_meta(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The key record of the shipped file in ``folder`` (``None`` if absent or unreadable).

    Examples
    --------
    >>> from modkit.training._crossfit import shipped_meta
    >>> shipped_meta("/nonexistent") is None
    True
    """
    found = _read(folder)
    return None if found is None else found[0]


def _read(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """The shipped file's key record, scores and row positions, read once (``None`` if
    the file is absent or unreadable)."""
    path = Path(folder) / SHIPPED_FILE
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
            scores, row = npz["scores"], npz["row"]
    except Exception:
        return None
    return (meta, scores, row) if isinstance(meta, dict) else None
