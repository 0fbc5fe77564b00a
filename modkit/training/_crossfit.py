"""Cross-fitted scores cached on disk, keyed by the model's and the data's sha256."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CROSSFIT_FORMAT", "cached_frame", "crossfit_cache_dir", "crossfit_key"]

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
