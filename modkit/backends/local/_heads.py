"""Logistic-regression heads over the text's features, and the rules for derived keys.

The heads live in two small JSON files next to this module: ``heads.json`` (weights,
floats written as their shortest round-trip repr) and ``model.json`` (metadata: what
each category was trained on, counts, default thresholds, data sha256s, version).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import BackendError
from ..._taxonomy import CATEGORIES
from ._features import (
    FEATURE_SETS,
    encoder_inputs,
    feature_dim,
    lexical_cues,
    pooled_features,
    window_features,
)
from ._text import TEXT_TRANSFORMS

__all__ = ["MODEL_DIR", "Heads", "load_heads", "pool_windows"]

#: The folder holding the shipped ``heads.json`` and ``model.json``.
MODEL_DIR = Path(__file__).parent

#: Rules a derived category may use: the score is a function of other keys' scores.
_RULES = {
    "min": lambda s: np.minimum.reduce(s),
    "copy": lambda s: s[0],
}


def pool_windows(emb: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """The mean of each text's window mean-embeddings, L2-normalised; shape (n, 384)."""
    return pooled_features("mean", emb, owner, n, np.zeros((n, 2)))


@dataclass(frozen=True)
class Heads:
    """Trained heads plus derived-category rules and default thresholds.

    Attributes
    ----------
    trained : tuple of str
        Categories with a logistic-regression head, in ``coef`` row order.
    coef : ndarray of shape (len(trained), dim)
    intercept : ndarray of shape (len(trained),)
    derived : dict of str to (rule, sources)
        ``rule`` in ``{"min", "copy"}`` applied to the scores of ``sources``.
    thresholds : dict of str to float
        Flag a category when its score >= threshold.
    features : str
        The feature set the heads read (one of ``FEATURE_SETS`` in ``_features.py``).
    text_input : tuple of str
        The rewrites the encoder reads each text through (``heads.json``
        ``text_input``; names of ``TEXT_TRANSFORMS`` in ``_text.py``; empty: none).
    meta : dict
        The whole ``model.json``.
    sha256 : str
        sha256 of ``heads.json``.
    """

    trained: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    derived: dict[str, tuple[str, tuple[str, ...]]]
    thresholds: dict[str, float]
    meta: dict[str, Any]
    sha256: str
    features: str = "mean"
    text_input: tuple[str, ...] = ()

    def inputs(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """What the encoder reads for ``texts`` (each rewritten by :attr:`text_input`) and
        their lexical cues, shape (n, 2), from one pass of the rewrites."""
        return encoder_inputs(texts, self.text_input)

    def scores(
        self,
        emb: np.ndarray,
        owner: np.ndarray,
        n: int,
        texts: Sequence[str],
        cues: np.ndarray | None = None,
    ) -> np.ndarray:
        """Score ``n`` texts from their window embeddings; shape (n, 13), CATEGORIES order.

        ``emb`` and ``owner`` come from :meth:`Encoder.embed` of the encoder texts
        :meth:`inputs` gives for ``texts`` (whose lexical cues some feature sets use;
        ``cues`` from :meth:`inputs`, else read here). A text's logit per head
        is the maximum over its windows and over all its windows pooled (the views the
        heads were trained on); a one-window text has one view.
        """
        col = {c: j for j, c in enumerate(CATEGORIES)}
        out = np.zeros((n, len(CATEGORIES)), dtype=np.float64)
        if n == 0:
            return out
        if cues is None:
            cues = lexical_cues(texts, self.text_input)
        x_w = window_features(self.features, emb, owner, cues)
        logit_w = x_w @ self.coef.T + self.intercept
        best = np.full((n, len(self.trained)), -np.inf)
        np.maximum.at(best, owner, logit_w)
        multi = np.bincount(owner, minlength=n) > 1
        if multi.any():
            pooled = pooled_features(self.features, emb, owner, n, cues)[multi]
            best[multi] = np.maximum(best[multi], pooled @ self.coef.T + self.intercept)
        probs = 1.0 / (1.0 + np.exp(-best))
        for j, c in enumerate(self.trained):
            out[:, col[c]] = probs[:, j]
        for c in CATEGORIES:  # rules refer to earlier keys or trained ones; resolve in order
            if c in self.derived:
                rule, sources = self.derived[c]
                out[:, col[c]] = _RULES[rule](np.stack([out[:, col[s]] for s in sources]))
        return np.clip(out, 0.0, 1.0)


def _fail(path: Path, why: str) -> BackendError:
    return BackendError(f"local model file {path} is invalid: {why}")


def load_heads(model_dir: str | os.PathLike[str] | None = None) -> Heads:
    """Read ``heads.json`` and ``model.json`` from ``model_dir`` (default: the shipped ones).

    Raises
    ------
    BackendError
        If a file is missing, malformed, or ``heads.json`` does not have the sha256
        recorded in ``model.json``.
    """
    folder = Path(model_dir) if model_dir is not None else MODEL_DIR
    meta_path, heads_path = folder / "model.json", folder / "heads.json"
    for p in (meta_path, heads_path):
        if not p.is_file():
            raise BackendError(f"local model file not found: {p} (run `modkit train`)")
    raw = heads_path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        data = json.loads(raw)
    except ValueError as exc:
        raise BackendError(f"local model file in {folder} is not valid JSON: {exc}") from exc
    if meta.get("heads_sha256") != sha:
        raise _fail(
            heads_path,
            f"expected sha256 {meta.get('heads_sha256')} (model.json), found {sha}",
        )
    trained = tuple(data.get("categories", ()))
    coef = np.asarray(data.get("coef", ()), dtype=np.float64)
    intercept = np.asarray(data.get("intercept", ()), dtype=np.float64)
    dim = int(data.get("dim", 0))
    features = str(data.get("features", "mean"))
    if features not in FEATURE_SETS:
        raise _fail(heads_path, f"unknown feature set {features!r}; known: {FEATURE_SETS}")
    if dim != feature_dim(features):
        raise _fail(heads_path, f"dim {dim} does not match feature set {features!r}")
    text_input = tuple(str(t) for t in data.get("text_input", ()))
    unknown = [t for t in text_input if t not in TEXT_TRANSFORMS]
    if unknown:
        raise _fail(heads_path, f"unknown text_input {unknown}; known: {list(TEXT_TRANSFORMS)}")
    if coef.shape != (len(trained), dim) or intercept.shape != (len(trained),):
        raise _fail(heads_path, "coef/intercept shapes do not match the category list")
    cats: Mapping[str, Any] = meta.get("categories", {})
    derived: dict[str, tuple[str, tuple[str, ...]]] = {}
    thresholds: dict[str, float] = {}
    for c in CATEGORIES:
        entry = cats.get(c)
        if not isinstance(entry, dict) or "threshold" not in entry:
            raise _fail(meta_path, f"category {c!r} has no entry with a threshold")
        thresholds[c] = float(entry["threshold"])
        if c not in trained:
            rule, sources = entry.get("rule"), tuple(entry.get("from", ()))
            if rule not in _RULES or not sources or any(s not in CATEGORIES for s in sources):
                raise _fail(meta_path, f"category {c!r} has neither a head nor a valid rule")
            derived[c] = (rule, sources)
    return Heads(trained, coef, intercept, derived, thresholds, meta, sha, features, text_input)
