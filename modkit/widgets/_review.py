"""ReviewQueue: label an audit sample one item at a time, every verdict stored at once."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from .._errors import InputError
from .._frame import category_columns
from ..review import ReviewStore

__all__ = ["ReviewQueue"]

#: Keys and what they do (shown under the item).
KEYS = {
    "y": "yes: the category applies",
    "n": "no: it does not",
    "u": "unsure",
    "a": "no to every category left, next item",
    "j / ↓": "next category",
    "k / ↑": "previous category",
    "→ / s": "skip to the next item",
    "← / b": "back to the previous item",
}
_ANSWERS: dict[str, int | None] = {"y": 1, "1": 1, "n": 0, "0": 0, "u": None, "?": None}
_LABEL = {1: "yes", 0: "no", None: "unsure"}

_KEYS_ESM = """
function render({ model, el }) {
  const box = document.createElement("div");
  box.tabIndex = 0;
  box.className = "modkit-review-keys";
  box.textContent = model.get("hint");
  el.appendChild(box);
  let count = 0;
  const area = el.closest(".jp-OutputArea-output, .output_subarea")
    || el.parentElement || el;
  // JupyterLab's command-mode shortcuts (a, b, j, k, s, y...) skip events from inside
  // an element carrying this attribute: the queue's keys never edit the notebook.
  area.setAttribute("data-lm-suppress-shortcuts", "true");
  box.setAttribute("data-lm-suppress-shortcuts", "true");
  const onKey = (e) => {
    if (e.target && ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName)) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = ["y", "n", "u", "a", "j", "k", "s", "b", "0", "1", "?",
                  "ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"];
    if (!keys.includes(e.key)) return;
    e.preventDefault();
    e.stopPropagation();
    count += 1;
    model.set("pressed", e.key + ":" + count);
    model.save_changes();
  };
  area.addEventListener("keydown", onKey);
  box.addEventListener("focus", () => box.classList.add("modkit-focus"));
  box.addEventListener("blur", () => box.classList.remove("modkit-focus"));
  model.on("change:focus", () => setTimeout(() => box.focus(), 0));
  setTimeout(() => box.focus(), 50);
  return () => area.removeEventListener("keydown", onKey);
}
export default { render };
"""

_KEYS_CSS = """
.modkit-review-keys { padding: 4px 8px; border: 1px dashed #999; border-radius: 4px;
  color: #555; font-size: 12px; outline: none; cursor: pointer; }
.modkit-review-keys.modkit-focus { border: 1px solid #1976d2; color: #1976d2;
  background: #e3f2fd; }
"""


def _key_widget(hint: str) -> Any | None:
    """The anywidget that catches key presses in the queue's output area, or None."""
    try:
        import anywidget
        import traitlets
    except ImportError:  # pragma: no cover - depends on the environment
        return None

    class _Keys(anywidget.AnyWidget):
        _esm = _KEYS_ESM
        _css = _KEYS_CSS
        pressed = traitlets.Unicode("").tag(sync=True)
        hint = traitlets.Unicode("").tag(sync=True)
        focus = traitlets.Int(0).tag(sync=True)

    return _Keys(hint=hint)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class ReviewQueue:
    """Label an audit sample in JupyterLab, one item at a time.

    Shows one item of a reviewer's queue: its text, slot values and scores with
    modkit's decision per category, and the team's rubric; takes a verdict per
    category (yes / no / unsure) by button or key, and writes each verdict to the
    :class:`~modkit.review.ReviewStore` at once (one committed transaction, with the
    reviewer, the rubric version and the UTC time). A new queue for the same
    reviewer starts at the first item not finished, so a crashed kernel resumes
    where it stopped. Display it as the last expression of a cell.

    Keys (once the queue has focus: click it): ``y`` yes, ``n`` no, ``u`` unsure
    for the highlighted category, which then moves on (after the last one, the
    next item comes); ``a`` no to every category left; ``j``/``k`` or the arrow
    keys move between categories; ``s``/``→`` skip; ``b``/``←`` back. Keys need
    ``anywidget``; the buttons always work.

    Parameters
    ----------
    store : ReviewStore
        Holding the sample (:meth:`~modkit.review.ReviewStore.add_sample`).
    reviewer : str
        Who labels (recorded with every verdict).
    rubric : str, default ""
        The team's rubric, shown beside the item (plain text; blank lines separate
        paragraphs).
    rubric_version : str, default ""
        Recorded with every verdict.
    categories : sequence of str, optional
        Ask only these (default: the store's categories).
    show_columns : sequence of str, optional
        Sample columns shown as slot values (default: every column that is not the
        id, text, a score, a decision, ``stratum`` or ``inclusion_probability``).

    Attributes
    ----------
    item_id : str or None
        The item on screen (None when the queue is done).
    category : str
        The highlighted category.
    last_latency_ms : float
        Time of the last key press or click, from the handler's start to the store
        write and the view's update (milliseconds).
    widget : ipywidgets.VBox
        The whole view.

    Raises
    ------
    InputError
        An empty reviewer, a store without a sample, an unknown category.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.review import ReviewStore
    >>> from modkit.widgets import ReviewQueue
    >>> sample = pd.DataFrame({"id": ["a", "b"], "text": ["hi", "go away"],
    ...                        "violence": [0.1, 0.7], "decision/violence": ["allow", "block"]})
    >>> store = ReviewStore(":memory:").add_sample(sample)
    >>> queue = ReviewQueue(store, "ana", rubric_version="v1")
    >>> queue.press("y").item_id   # yes to violence on "a": the next item comes
    'b'
    >>> store.verdicts()[["id", "reviewer", "category", "label", "rubric_version"]]
      id reviewer  category  label rubric_version
    0  a      ana  violence    1.0             v1
    """

    def __init__(
        self,
        store: ReviewStore,
        reviewer: str,
        *,
        rubric: str = "",
        rubric_version: str = "",
        categories: Sequence[str] | None = None,
        show_columns: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(store, ReviewStore):
            raise InputError(f"store must be a ReviewStore, not {type(store).__name__}")
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise InputError("reviewer must be a non-empty name")
        if not store.categories:
            raise InputError(f"{store.path}: the review store holds no sample (add_sample)")
        cats = list(categories) if categories is not None else list(store.categories)
        for c in cats:
            if c not in store.categories:
                raise InputError(f"category {c!r} is not reviewed in {store.path}")
        self.store = store
        self.reviewer = reviewer
        self.rubric = rubric
        self.rubric_version = str(rubric_version)
        self.categories = cats
        self.last_latency_ms = float("nan")
        self._ids = store.assigned(reviewer)
        done = store.reviewed(reviewer)
        self._answers: dict[str, dict[str, int | None]] = {
            i: {c: v for c, v in done.get(i, {}).items() if c in cats} for i in self._ids
        }
        stored = store.sample()
        sample_cols = list(stored.columns) if show_columns is None else []
        skip = {"id", "text", "stratum", "inclusion_probability", *store.categories}
        skip |= set(category_columns(stored))  # other categories' scores are not slots
        self.show_columns = (
            list(show_columns)
            if show_columns is not None
            else [c for c in sample_cols if c not in skip and not c.startswith("decision/")]
        )
        self._pos = self._first_open(0)
        self._cat = self._first_open_category()
        self._build()
        self._render()

    # -- view -------------------------------------------------------------------------
    def _build(self) -> None:
        self._header = w.HTML()
        self._progress = w.IntProgress(min=0, max=max(len(self._ids), 1), layout={"width": "100%"})
        self._item = w.HTML(layout={"width": "100%"})
        self._buttons: dict[str, w.ToggleButtons] = {}
        rows = []
        for c in self.categories:
            b = w.ToggleButtons(
                options=["yes", "no", "unsure"],
                value=None,
                tooltips=["the category applies (y)", "it does not (n)", "unsure (u)"],
                style={"button_width": "70px"},
            )
            b.observe(self._on_click(c), names="value")
            label = w.HTML(layout={"width": "260px"})
            rows.append(w.HBox([label, b], layout={"padding": "0 0 0 4px"}))
            self._buttons[c] = b
        self._rows = rows
        self._back = w.Button(description="← back", layout={"width": "90px"})
        self._skip = w.Button(description="skip →", layout={"width": "90px"})
        self._all_no = w.Button(description="no to the rest (a)", layout={"width": "150px"})
        self._back.on_click(lambda _: self.press("b"))
        self._skip.on_click(lambda _: self.press("s"))
        self._all_no.on_click(lambda _: self.press("a"))
        self._status = w.HTML()
        hint = "click here, then keys: " + " · ".join(
            f"{k} {v.split(':')[0]}" for k, v in KEYS.items()
        )
        self._keys = _key_widget(hint)
        if self._keys is not None:
            self._keys.observe(self._on_key, names="pressed")
        rubric_html = (
            "".join(
                f"<p>{html.escape(p.strip())}</p>" for p in self.rubric.split("\n\n") if p.strip()
            )
            or "<p><i>No rubric given (ReviewQueue(..., rubric=...)).</i></p>"
        )
        rubric = w.HTML(
            f"<div style='font-size:12px;line-height:1.35'><b>Rubric"
            f"{' ' + html.escape(self.rubric_version) if self.rubric_version else ''}</b>"
            f"{rubric_html}</div>",
            layout={"width": "32%", "padding": "0 0 0 12px", "border_left": "1px solid #ddd"},
        )
        left = w.VBox(
            [
                self._item,
                w.VBox(rows),
                w.HBox([self._back, self._skip, self._all_no]),
                *([self._keys] if self._keys is not None else []),
                self._status,
            ],
            layout={"width": "66%"},
        )
        self.widget = w.VBox(
            [self._header, self._progress, w.HBox([left, rubric], layout={"width": "100%"})]
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"ReviewQueue(reviewer={self.reviewer!r}, item={self.item_id!r}, "
            f"done={self.n_done}/{len(self._ids)})"
        )

    @property
    def item_id(self) -> str | None:
        return self._ids[self._pos] if self._pos < len(self._ids) else None

    @property
    def category(self) -> str:
        return self.categories[self._cat]

    @property
    def n_done(self) -> int:
        """Items of this reviewer's share with a verdict on every category."""
        return sum(self._finished(i) for i in self._ids)

    def _finished(self, item: str) -> bool:
        return len(self._answers[item]) >= len(self.categories)

    def _first_open(self, start: int) -> int:
        for k in range(start, len(self._ids)):
            if not self._finished(self._ids[k]):
                return k
        for k in range(0, start):
            if not self._finished(self._ids[k]):
                return k
        return len(self._ids)

    def _first_open_category(self) -> int:
        item = self.item_id
        if item is None:
            return 0
        return next((k for k, c in enumerate(self.categories) if c not in self._answers[item]), 0)

    def _render(self) -> None:
        n = len(self._ids)
        self._progress.value = self.n_done
        item = self.item_id
        who = html.escape(self.reviewer)
        version = f" · rubric {html.escape(self.rubric_version)}" if self.rubric_version else ""
        if item is None:
            self._header.value = (
                f"<b>Done</b>: {n} of {n} items reviewed by <b>{who}</b>{version}. "
                "Verdicts are in the store: <code>store.labelled()</code>."
            )
            self._item.value = ""
            for r in self._rows:
                r.layout.display = "none"
            return
        self._header.value = (
            f"Item <b>{self._pos + 1}</b> of {n} · done {self.n_done} · reviewer <b>{who}</b>"
            f"{version} · id <code>{html.escape(item)}</code>"
        )
        row = self.store.item(item)
        slots = "".join(
            f"<span style='margin-right:14px'><span style='color:#777'>{html.escape(str(c))}:"
            f"</span> {html.escape(_fmt(row.get(c)))}</span>"
            for c in self.show_columns
            if row.get(c) is not None
        )
        text = html.escape(str(row.get("text", "")))
        self._item.value = (
            "<div style='font-size:15px;white-space:pre-wrap;padding:10px;border:1px solid "
            f"#ccc;border-radius:4px;background:#fafafa;margin:4px 0'>{text}</div>"
            + (f"<div style='font-size:12px;margin:4px 0'>{slots}</div>" if slots else "")
        )
        answers = self._answers[item]
        for k, (c, r) in enumerate(zip(self.categories, self._rows, strict=True)):
            r.layout.display = ""
            score = row.get(c)
            decision = row.get(f"decision/{c}")
            mark = "▶ " if k == self._cat else ""
            bits = []
            if isinstance(score, int | float):
                bits.append(f"{score:.3f}")
            if decision is not None:
                bits.append(str(decision))
            given = _LABEL[answers[c]] if c in answers else "–"
            colour = "#1976d2" if k == self._cat else "#333"
            r.children[0].value = (
                f"<span style='color:{colour};font-weight:{700 if k == self._cat else 400}'>"
                f"{mark}{html.escape(c)}</span> <span style='color:#777;font-size:12px'>"
                f"({html.escape(', '.join(bits))}) · {given}</span>"
            )
            r.layout.border_left = (
                "3px solid #1976d2" if k == self._cat else "3px solid transparent"
            )
            b = self._buttons[c]
            self._quiet = True
            try:
                b.value = _LABEL[answers[c]] if c in answers else None
            finally:
                self._quiet = False

    # -- input ------------------------------------------------------------------------
    _quiet = False

    def _on_key(self, change: Any) -> None:
        key = str(change["new"]).rsplit(":", 1)[0]
        if key:
            self.press(key)

    def _on_click(self, category: str) -> Any:
        def handler(change: Any) -> None:
            if self._quiet or self.item_id is None:
                return
            if change["new"] is None:
                return
            start = time.perf_counter()
            self._cat = self.categories.index(category)
            self._answer(_ANSWERS[change["new"][0]])
            self._refresh(start)

        return handler

    def _answer(self, label: int | None) -> None:
        item = self.item_id
        if item is None:
            return
        cat = self.category
        self.store.record(
            item,
            cat,
            label,
            reviewer=self.reviewer,
            rubric_version=self.rubric_version,
            source="widget",
        )
        self._answers[item][cat] = label
        self._status.value = (
            f"<span style='color:#2e7d32;font-size:12px'>saved: {html.escape(cat)} = "
            f"{_LABEL[label]} on <code>{html.escape(item)}</code></span>"
        )
        open_cats = [k for k, c in enumerate(self.categories) if c not in self._answers[item]]
        later = [k for k in open_cats if k > self._cat]
        if later or open_cats:
            self._cat = (later or open_cats)[0]
        else:
            self._pos = self._first_open(self._pos + 1)
            self._cat = self._first_open_category()

    def press(self, key: str) -> ReviewQueue:
        """Act as the key ``key`` pressed in the queue (what the key handler calls).

        Parameters
        ----------
        key : str
            ``y``, ``n``, ``u`` (also ``1``, ``0``, ``?``), ``a``, ``j``, ``k``, ``s``,
            ``b``, or ``ArrowDown``, ``ArrowUp``, ``ArrowRight``, ``ArrowLeft``.

        Returns
        -------
        ReviewQueue
            ``self``.

        Raises
        ------
        InputError
            An unknown key.
        """
        start = time.perf_counter()
        n = len(self._ids)
        if key in _ANSWERS:
            self._answer(_ANSWERS[key])
        elif key == "a":
            item = self.item_id
            if item is not None:
                for k, c in enumerate(self.categories):
                    if c not in self._answers[item] and self.item_id == item:
                        self._cat = k
                        self._answer(0)
        elif key in ("j", "ArrowDown"):
            self._cat = (self._cat + 1) % len(self.categories)
        elif key in ("k", "ArrowUp"):
            self._cat = (self._cat - 1) % len(self.categories)
        elif key in ("s", "ArrowRight"):
            self._pos = min(self._pos + 1, n)
            self._cat = self._first_open_category()
        elif key in ("b", "ArrowLeft"):
            self._pos = max(self._pos - 1, 0)
            self._cat = self._first_open_category()
        else:
            raise InputError(f"unknown key {key!r}; the keys are {list(KEYS)}")
        self._refresh(start)
        return self

    def _refresh(self, start: float) -> None:
        self._render()
        if self._keys is not None:
            self._keys.focus += 1
        self.last_latency_ms = (time.perf_counter() - start) * 1000.0
