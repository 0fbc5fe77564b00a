"""ThresholdExplorer: slide a category's threshold, watch the confusion matrix and examples."""

from __future__ import annotations

import datetime as _dt
import html
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd

from .._errors import InputError
from .._labels import label_column
from .._taxonomy import CATEGORIES
from ..plots._thresholds import labelled_scores
from ..thresholds import CategoryThreshold, Counts, ThresholdSet, load_thresholds, rates

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
    thresholds : ThresholdSet or path, optional
        A set, or a threshold file (its ``input`` profile). Starts each category's
        slider at its ``block`` threshold (its ``review`` one when it has no block;
        0.5 when the file has neither), names the file's ``review`` and ``block``
        values next to the slider, and is what :meth:`save` starts from.
    categories : list of str, optional
        Default: every category key with a score column and at least one labelled row.
    text_column : str, default "text"
        The column of ``scores`` holding the texts (absent: the examples show the index).
    n_examples : int, default 10
        Examples listed (the nearest to the threshold, from both sides).
    max_chars : int, default 200
        Texts longer than this are cut in the examples table; a click on one shows it
        in full (:attr:`nearest` always holds the full texts).

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
    chosen : dict
        Category -> the :class:`~modkit.CategoryThreshold` chosen by hand so far
        (:meth:`choose`), as :meth:`save` writes it.
    reviewer, save_path : ipywidgets.Text
        Who chooses, and where the save button writes.
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
    >>> explorer.choose(reviewer="Ana").chosen["violence"].note.startswith("set by hand by Ana")
    True
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
        max_chars: int = 200,
    ) -> None:
        if not isinstance(scores, pd.DataFrame) or not isinstance(labels, pd.DataFrame):
            raise InputError("scores and labels must be pandas DataFrames")
        if isinstance(thresholds, str | os.PathLike):
            thresholds = load_thresholds(thresholds)
        if not (isinstance(max_chars, int) and max_chars >= 1):
            raise InputError(f"max_chars must be a positive integer, got {max_chars!r}")
        self.max_chars = max_chars
        self.chosen: dict[str, CategoryThreshold] = {}
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
        self.reviewer = w.Text(description="reviewer", placeholder="your name")
        self.save_path = w.Text(
            description="save to", placeholder="thresholds-reviewed.json (a new file)"
        )
        self.save_button = w.Button(description="save threshold", icon="save")
        self.save_note = w.HTML()
        self.category_dropdown.observe(self.on_category_change, names="value")
        self.slider.observe(self.on_threshold_change, names="value")
        self.save_button.on_click(self.on_save_click)
        self.widget = w.VBox(
            [
                w.HBox([self.category_dropdown, self.slider]),
                self.file_note,
                self.matrix_html,
                w.HBox([self.reviewer, self.save_path, self.save_button]),
                self.save_note,
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
        if category in self.chosen:
            return float(self.chosen[category].block or 0.0)
        review, block = self._file_thresholds(category)
        start = block if block is not None else review
        return 0.5 if start is None else float(start)

    # ----- committing ----------------------------------------------------------------
    def choose(self, *, reviewer: str | None = None) -> ThresholdExplorer:
        """Keep the slider's threshold as the category's block threshold, set by hand.

        Records, in the category's entry of the file (schema fields): ``block``,
        ``status`` and ``objective`` ``"manual"``, ``in_sample`` (TP, FP, FN, TN,
        precision, recall, false positive rate at this threshold on the labelled rows,
        as :attr:`counts`), ``n_pos``, ``n_neg``, and the provenance in ``note``:
        ``"set by hand by <reviewer> on <UTC date> in ThresholdExplorer (file had block
        <b>, review <r>, status <s>)"``. The file's ``review`` threshold is kept when it
        is at or below the new block, else dropped (the note says so).

        Parameters
        ----------
        reviewer : str, optional
            Who chose (default: the ``reviewer`` box).

        Returns
        -------
        ThresholdExplorer
            ``self``, with :attr:`chosen` updated.

        Raises
        ------
        InputError
            When no reviewer is named.
        """
        who = (reviewer if reviewer is not None else self.reviewer.value).strip()
        if not who:
            raise InputError("name the reviewer who sets the threshold (the reviewer box)")
        c, t, k = self.category, self.threshold, self.counts
        old = (
            self.thresholds[c]
            if self.thresholds is not None and c in self.thresholds.categories
            else None
        )
        review = old.review if old is not None else None
        was = "no threshold in the file"
        if old is not None:
            was = f"file had block {old.block}, review {old.review}, status {old.status}"
        if review is not None and review > t:
            was += f"; its review {review} is above the new block, dropped"
            review = None
        date = _dt.datetime.now(_dt.UTC).date().isoformat()
        in_sample: dict[str, Any] = {m: int(k[m]) for m in ("tp", "fp", "fn", "tn")}
        in_sample |= {m: None if np.isnan(k[m]) else k[m] for m in ("precision", "recall", "fpr")}
        entry = CategoryThreshold(
            block=t,
            review=review,
            note=f"set by hand by {who} on {date} in ThresholdExplorer ({was})",
            n_pos=int(k["tp"] + k["fn"]),
            n_neg=int(k["fp"] + k["tn"]),
            in_sample=in_sample,
        )
        if old is not None:  # keep what the file says the threshold does not (policy...)
            entry = replace(entry, by_input_type=old.by_input_type, unthresholded=old.unthresholded)
        self.chosen[c] = entry
        return self

    def save(self, path: str | os.PathLike[str], *, reviewer: str | None = None) -> Path:
        """Write a new threshold file: the starting set with the thresholds chosen by hand.

        Chooses the slider's threshold first (:meth:`choose`). Every other category,
        the policy (``unthresholded``), the model and the profile are the starting
        set's; the file is valid against the threshold file schema. An existing file is
        never overwritten: the earlier version stays as it was.

        Parameters
        ----------
        path : str or PathLike
            The new ``.json`` file.
        reviewer : str, optional
            Who chose (default: the ``reviewer`` box).

        Returns
        -------
        Path

        Raises
        ------
        InputError
            No reviewer named, or ``path`` exists already.
        """
        path = Path(path)
        if path.exists():
            raise InputError(
                f"{path}: exists already; save a new version under a new name (the earlier "
                "file stays as it was)"
            )
        self.choose(reviewer=reviewer)
        base = self.thresholds
        if base is None:
            base = ThresholdSet({})
        cats = dict(base.categories) | self.chosen
        new = ThresholdSet(
            cats,
            profile=base.profile,
            model=base.model,
            labels_sha256=base.labels_sha256,
            created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            n_rows=base.n_rows,
            daily_volume=base.daily_volume,
            provider=base.provider,
            scale=base.scale,
            unthresholded=base.unthresholded,
        )
        return new.save(path)

    def on_save_click(self, button: Any = None) -> None:
        """The save button: :meth:`save` to the ``save to`` box, the outcome shown below.

        Parameters
        ----------
        button : ipywidgets.Button, optional
            The button clicked (not read).
        """
        target = self.save_path.value.strip()
        try:
            written = self.save(target) if target else None
        except (InputError, OSError) as exc:
            self.save_note.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return
        if written is None:
            self.save_note.value = "<span style='color:#b00'>give a file name to save to</span>"
            return
        self.save_note.value = (
            f"<small>saved {html.escape(self.category)} at {self.threshold:.4f} to "
            f"{html.escape(str(written))}</small>"
        )

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
        table["text"] = [self._short(v) for v in table["text"]]
        self.examples_html.value = (
            f"<small>{len(table)} labelled examples nearest {t:.4f} (a cut text opens in "
            "full on a click)</small>"
            + table.to_html(escape=False, float_format=lambda v: f"{v:.4f}", border=0)
        )

    def _short(self, text: str) -> str:
        """One example's cell: escaped; cut to ``max_chars`` with the full text one click away."""
        if len(text) <= self.max_chars:
            return html.escape(text)
        head, rest = text[: self.max_chars], text[self.max_chars :]
        return (  # open, the rest follows the head: the whole text reads on
            f"<details><summary>{html.escape(head)}… <i>({len(text):,} characters)</i>"
            f"</summary>…{html.escape(rest)}</details>"
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
