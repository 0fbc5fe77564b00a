"""ThresholdExplorer: slide a category's threshold, watch the confusion matrix and examples."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from .._errors import InputError
from .._labels import label_column
from .._taxonomy import CATEGORIES
from ..plots._thresholds import labelled_scores
from ..thresholds import Counts, ThresholdSet, rates

__all__ = ["ThresholdExplorer"]


class ThresholdExplorer:
    """Pick a category, slide its threshold, and see what it would flag.

    Shows, at the slider's value and with the rule "flag when ``score >= threshold``",
    the confusion matrix on the labelled rows (TP, FP, FN, TN), precision, recall and
    false positive rate, and the labelled examples whose scores lie nearest the
    threshold (text, score, label, and whether they would be flagged). Display it in a
    notebook as the last expression of a cell.

    Parameters
    ----------
    scores : pandas.DataFrame
        A results frame of :func:`modkit.moderate`: one float column per category key,
        and a ``text`` column for the examples.
    labels : pandas.DataFrame
        On the same index: a label column per category key, named by the key or
        ``label_<key>`` (so ``scores`` itself when it keeps its labels beside the
        scores); 1/0, true/false, yes/no, blank = not labelled.
    thresholds : ThresholdSet, optional
        Starts each category's slider at its ``block`` threshold and names the file's
        ``review`` and ``block`` values next to the slider.
    categories : list of str, optional
        Default: every category key with a score column and at least one labelled row.
    text_column : str, default "text"
        The column of ``scores`` holding the texts (absent: the examples show the index).
    n_examples : int, default 10
        Examples listed (the nearest to the threshold, from both sides).

    Attributes
    ----------
    category_dropdown : ipywidgets.Dropdown
    slider : ipywidgets.FloatSlider
        The threshold, in [0, 1].
    counts : dict
        ``tp``, ``fp``, ``fn``, ``tn``, ``precision``, ``recall``, ``fpr`` (NaN where
        undefined), ``flagged`` and ``n`` at the current category and threshold.
    nearest : pandas.DataFrame
        The examples on screen: ``text``, ``score``, ``label``, ``flagged``,
        ``distance`` (``|score - threshold|``), nearest first.
    widget : ipywidgets.VBox
        The whole view.

    Raises
    ------
    InputError
        When ``scores`` or ``labels`` is not a DataFrame, ``thresholds`` is not a
        :class:`~modkit.ThresholdSet`, ``n_examples`` is not a positive integer, a
        category is not a column of both frames, or no category has a labelled row.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.widgets import ThresholdExplorer
    >>> scores = pd.DataFrame({"text": list("abcd"), "violence": [0.9, 0.6, 0.8, 0.1]})
    >>> labels = pd.DataFrame({"violence": [1, 0, 1, 0]})
    >>> explorer = ThresholdExplorer(scores, labels).set("violence", 0.7)
    >>> {k: explorer.counts[k] for k in ("tp", "fp", "precision", "recall")}
    {'tp': 2, 'fp': 0, 'precision': 1.0, 'recall': 1.0}
    """

    def __init__(
        self,
        scores: pd.DataFrame,
        labels: pd.DataFrame,
        thresholds: ThresholdSet | None = None,
        *,
        categories: Sequence[str] | None = None,
        text_column: str = "text",
        n_examples: int = 10,
    ) -> None:
        if not isinstance(scores, pd.DataFrame) or not isinstance(labels, pd.DataFrame):
            raise InputError("scores and labels must be pandas DataFrames")
        if thresholds is not None and not isinstance(thresholds, ThresholdSet):
            raise InputError(
                f"thresholds must be a ThresholdSet or None, not {type(thresholds).__name__}"
            )
        if not (isinstance(n_examples, int) and n_examples >= 1):
            raise InputError(f"n_examples must be a positive integer, got {n_examples!r}")
        self.thresholds = thresholds
        self.n_examples = n_examples
        if categories is None:
            scored = [c for c in CATEGORIES if c in scores.columns]
            # labels beside the scores (label_<key>) when there are any, else bare keys
            categories = [c for c in scored if label_column(c) in labels.columns] or [
                c for c in scored if c in labels.columns
            ]
        else:
            categories = list(categories)
            for c in categories:
                if c not in scores.columns:
                    raise InputError(f"category {c!r} is not a column of the scores")
                if c not in labels.columns and label_column(c) not in labels.columns:
                    raise InputError(
                        f"category {c!r} is not a column of the labels (nor {label_column(c)!r})"
                    )
        texts = (
            scores[text_column]
            if text_column in scores.columns
            else pd.Series(scores.index.astype(str), index=scores.index)
        )
        self._data: dict[str, dict[str, Any]] = {}
        for c in categories:
            s, y, idx = labelled_scores(scores, labels, c)
            if len(s) == 0:
                continue
            order = np.argsort(s, kind="stable")
            s, y, idx = s[order], y[order], idx[order]
            self._data[c] = {
                "s": s,
                "y": y,
                "text": texts.loc[idx].astype(str).to_numpy(),
                "index": idx,
                # positives at or above each sorted position: cum from the top
                "pos_at_or_above": np.cumsum(y[::-1])[::-1],
            }
        if not self._data:
            raise InputError(
                "no category has both a score and a label (labels need columns named by "
                f"API spellings such as {CATEGORIES[:3]})"
            )
        cats = list(self._data)
        self.counts: dict[str, float] = {}
        self.nearest = pd.DataFrame(columns=["text", "score", "label", "flagged", "distance"])

        self.category_dropdown = w.Dropdown(options=cats, value=cats[0], description="category")
        self.slider = w.FloatSlider(
            value=self._start(cats[0]),
            min=0.0,
            max=1.0,
            step=0.001,
            readout_format=".3f",
            description="threshold",
            continuous_update=True,
            layout=w.Layout(width="60%"),
        )
        self.file_note = w.HTML()
        self.matrix_html = w.HTML()
        self.examples_html = w.HTML()
        self.category_dropdown.observe(self.on_category_change, names="value")
        self.slider.observe(self.on_threshold_change, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.category_dropdown, self.slider]),
                self.file_note,
                self.matrix_html,
                self.examples_html,
            ]
        )
        self.on_category_change()

    # ----- display -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"ThresholdExplorer(category={self.category!r}, threshold={self.threshold:.4f}, "
            f"{len(self._data)} categories)"
        )

    @property
    def category(self) -> str:
        """The category on screen."""
        return self.category_dropdown.value

    @property
    def threshold(self) -> float:
        """The slider's threshold."""
        return float(self.slider.value)

    @property
    def categories(self) -> list[str]:
        """The categories offered (those with labelled, scored rows)."""
        return list(self._data)

    def _file_thresholds(self, category: str) -> tuple[float | None, float | None]:
        if self.thresholds is None or category not in self.thresholds.categories:
            return None, None
        ct = self.thresholds[category]
        return ct.review, ct.block

    def _start(self, category: str) -> float:
        _, block = self._file_thresholds(category)
        return 0.5 if block is None else float(block)

    # ----- handlers ------------------------------------------------------------------
    def on_category_change(self, change: Any = None) -> None:
        """A category was picked: move the slider to its block threshold and redraw.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        c = self.category
        review, block = self._file_thresholds(c)
        if self.thresholds is None:
            self.file_note.value = ""
        else:

            def fmt(v: float | None) -> str:
                return "none" if v is None else f"{v:.4f}"

            self.file_note.value = (
                f"<small>threshold file: review {fmt(review)}, block {fmt(block)}</small>"
            )
        start = self._start(c)
        if self.slider.value != start:
            self.slider.value = start  # fires on_threshold_change
        else:
            self.on_threshold_change()

    def on_threshold_change(self, change: Any = None) -> None:
        """The slider moved: recompute the confusion matrix and the nearest examples.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        d = self._data[self.category]
        t = self.threshold
        s, y = d["s"], d["y"]
        n = len(s)
        k = int(np.searchsorted(s, t, side="left"))  # first position with score >= t
        flagged = n - k
        tp = int(d["pos_at_or_above"][k]) if k < n else 0
        fp = flagged - tp
        n_pos = int(y.sum())
        n_neg = n - n_pos
        r = rates(Counts(tp, fp, n_pos, n_neg))
        self.counts = {
            "tp": tp,
            "fp": fp,
            "fn": n_pos - tp,
            "tn": n_neg - fp,
            **{m: float(r[m]) for m in ("precision", "recall", "fpr")},
            "flagged": flagged,
            "n": n,
        }
        self._render_matrix()
        self._nearest(k)

    def set(self, category: str, threshold: float) -> ThresholdExplorer:
        """Select a category and a threshold (as a user would).

        Parameters
        ----------
        category : str
            One of the explorer's categories.
        threshold : float
            The slider's new value, a score in [0, 1] (flag when ``score >= threshold``).

        Returns
        -------
        ThresholdExplorer
            ``self``, with :attr:`counts` and :attr:`nearest` updated.

        Raises
        ------
        InputError
            For an unknown category, or a threshold outside [0, 1].
        """
        if category not in self._data:
            raise InputError(f"unknown category {category!r} (categories: {self.categories})")
        if not (0.0 <= float(threshold) <= 1.0):
            raise InputError(f"threshold {threshold} is outside [0, 1]")
        self.category_dropdown.value = category
        self.slider.value = float(threshold)
        return self

    # ----- rendering -----------------------------------------------------------------
    def _nearest(self, k: int) -> None:
        d = self._data[self.category]
        t = self.threshold
        s = d["s"]
        lo, hi = max(0, k - self.n_examples), min(len(s), k + self.n_examples)
        window = np.arange(lo, hi)
        dist = np.abs(s[window] - t)
        pick = window[np.argsort(dist, kind="stable")[: self.n_examples]]
        self.nearest = pd.DataFrame(
            {
                "text": d["text"][pick],
                "score": s[pick],
                "label": d["y"][pick],
                "flagged": s[pick] >= t,
                "distance": np.abs(s[pick] - t),
            },
            index=d["index"][pick],
        )
        table = self.nearest.assign(
            outcome=np.where(
                self.nearest["flagged"],
                np.where(self.nearest["label"] == 1, "TP", "FP"),
                np.where(self.nearest["label"] == 1, "FN", "TN"),
            )
        )[["text", "score", "label", "outcome"]]
        self.examples_html.value = (
            f"<small>{len(table)} labelled examples nearest {t:.4f}</small>"
            + table.to_html(escape=True, float_format=lambda v: f"{v:.4f}", border=0)
        )

    def _render_matrix(self) -> None:
        c = self.counts

        def rate(v: float) -> str:
            return "–" if np.isnan(v) else f"{v:.3f}"

        cell = "style='padding:2px 10px;text-align:right'"
        self.matrix_html.value = (
            f"<b>{html.escape(self.category)}</b>, flag when score &ge; {self.threshold:.4f}"
            f" ({c['flagged']} of {c['n']} labelled rows flagged)"
            "<table style='border-collapse:collapse'>"
            f"<tr><td></td><th {cell}>flagged</th><th {cell}>not flagged</th></tr>"
            f"<tr><th {cell}>label 1</th><td {cell}>TP {c['tp']}</td>"
            f"<td {cell}>FN {c['fn']}</td></tr>"
            f"<tr><th {cell}>label 0</th><td {cell}>FP {c['fp']}</td>"
            f"<td {cell}>TN {c['tn']}</td></tr>"
            "</table>"
            f"precision {rate(c['precision'])} · recall {rate(c['recall'])} · "
            f"false positive rate {rate(c['fpr'])}"
        )
