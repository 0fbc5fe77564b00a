"""TemplateExplorer: pick a template, see its cross-tab, drill into the prompts."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from .._crosstab import STATISTICS, crosstab
from .._errors import InputError
from .._frame import category_columns, is_result_column, scored_rows
from ..plots import heatmap
from ..plots._figures import row_label

__all__ = ["TemplateExplorer"]

ALL = "(all)"
_NOT_SLOTS = {"text", "test_case", "case_templ", "template", "phrase", "prompt"}


def _figure_widget_available() -> bool:
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


class TemplateExplorer:
    """An ipywidgets view of a results frame of expanded templates.

    Pick a template, the slot whose values make the rows, and a statistic to see the
    cross-tab heatmap; pick a cell (the row value and category dropdowns, or a click
    on the heatmap) to list the prompts behind it, and one prompt to read the
    endpoint's full JSON result. Display it in a notebook as the last expression of a
    cell (or ``display(explorer)``).

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame from :func:`modkit.moderate` of expanded prompts.
    slot_columns : list of str or dict of str to list of str, optional
        The slot columns, for all templates (list) or per template id (dict).
        Default: ``results.attrs["slots"]`` if present (as set by
        :func:`modkit.expand`), else the text columns other than the known ones whose
        value varies within the template.
    template_column : str, default "template_id"
        The column naming each prompt's template. If absent, the frame is one
        template called ``"(all)"``.
    categories : list of str, optional
        Category keys to show (default: every category column).
    thresholds : float or dict, optional
        Passed to :func:`modkit.crosstab` for the ``flag_rate`` statistic.
    max_rows : int, default 50
        Most prompts listed in the table.
    figure_widget : bool, optional
        Draw the heatmap as a ``plotly.graph_objects.FigureWidget`` (clickable; needs
        ``anywidget``). Default: when ``anywidget`` is installed; otherwise a static
        figure in an ``ipywidgets.Output``.

    Attributes
    ----------
    table : pandas.DataFrame
        The cross-tab on screen.
    figure : plotly.graph_objects.Figure or FigureWidget
        The heatmap on screen.
    selected_prompts : pandas.DataFrame
        The rows of ``results`` behind the selected cell, highest score first.
    json_text : str
        The pretty-printed ``result_json`` of the selected prompt (or its error).
    widget : ipywidgets.VBox
        The whole view.

    Raises
    ------
    InputError
        When ``results`` is not a DataFrame or has no rows, a category is not one of its
        columns, or it has no category score column.

    Examples
    --------
    >>> import modkit
    >>> from modkit.widgets import TemplateExplorer
    >>> prompts = modkit.expand("I want to hurt a {group: woman|man}.")
    >>> prompts["violence"] = [0.9, 0.3]
    >>> explorer = TemplateExplorer(prompts, figure_widget=False)
    >>> explorer.slots_of("t1")
    ['group']
    >>> explorer.select_cell("man", "violence")
    >>> explorer.selected_prompts["text"].tolist()
    ['I want to hurt a man.']
    """

    def __init__(
        self,
        results: pd.DataFrame,
        slot_columns: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        *,
        template_column: str = "template_id",
        categories: Sequence[str] | None = None,
        thresholds: float | Mapping[str, float] | None = None,
        max_rows: int = 50,
        figure_widget: bool | None = None,
    ) -> None:
        if not isinstance(results, pd.DataFrame):
            raise InputError(f"results must be a pandas DataFrame, not {type(results).__name__}")
        self.results = results
        self.categories = list(categories) if categories is not None else category_columns(results)
        missing = [c for c in self.categories if c not in results.columns]
        if missing:
            raise InputError(f"category {missing[0]!r} is not a column of the results")
        if not self.categories:
            raise InputError("the results have no category score columns")
        self.template_column = template_column if template_column in results.columns else None
        self.thresholds = thresholds
        self.max_rows = max_rows
        self._slots = self._resolve_slots(slot_columns)
        self._busy = False
        self.table = pd.DataFrame()
        self.selected_prompts = results.iloc[0:0]
        self.json_text = ""
        self._row_values: dict[str, Any] = {}

        templates = list(self._slots)
        self.template_dropdown = w.Dropdown(
            options=templates, value=templates[0], description="template"
        )
        self.slot_dropdown = w.Dropdown(options=[], description="rows")
        self.stat_dropdown = w.Dropdown(
            options=list(STATISTICS), value="mean", description="statistic"
        )
        self.value_dropdown = w.Dropdown(options=[], description="row value")
        self.category_dropdown = w.Dropdown(
            options=self.categories, value=self.categories[0], description="category"
        )
        self.prompt_dropdown = w.Dropdown(
            options=[], description="prompt", layout=w.Layout(width="95%")
        )
        self.status = w.HTML()
        self.prompts_html = w.HTML()
        self.json_view = w.HTML()
        use_fw = _figure_widget_available() if figure_widget is None else figure_widget
        self.figure: Any = None
        self._figure_widget = bool(use_fw)
        if self._figure_widget:
            import plotly.graph_objects as go

            self.figure = go.FigureWidget(heatmap(self._blank_table()))
            self.figure.data[0].on_click(self.on_heatmap_click)
            self.heatmap_view: Any = self.figure
        else:
            self.heatmap_view = w.Output()

        self.template_dropdown.observe(self.on_template_change, names="value")
        self.slot_dropdown.observe(self.on_slot_change, names="value")
        self.stat_dropdown.observe(self.on_stat_change, names="value")
        self.value_dropdown.observe(self.on_cell_change, names="value")
        self.category_dropdown.observe(self.on_cell_change, names="value")
        self.prompt_dropdown.observe(self.on_prompt_change, names="value")

        self.widget = w.VBox(
            [
                w.HBox([self.template_dropdown, self.slot_dropdown, self.stat_dropdown]),
                self.status,
                self.heatmap_view,
                w.HBox([self.value_dropdown, self.category_dropdown]),
                self.prompts_html,
                self.prompt_dropdown,
                self.json_view,
            ]
        )
        self.on_template_change()

    # ----- display -------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (
            f"TemplateExplorer({len(self._slots)} templates, "
            f"template={self.template_dropdown.value!r})"
        )

    # ----- state helpers -------------------------------------------------------------
    @property
    def template(self) -> str:
        """The template id on screen."""
        return self.template_dropdown.value

    def slots_of(self, template: str) -> list[str]:
        """The slot columns of one template.

        Parameters
        ----------
        template : str
            A template id of the results (``"(all)"`` without a template column).

        Returns
        -------
        list of str
            Its slot columns, in the order the row picker offers them.

        Raises
        ------
        KeyError
            For a template id the results do not hold.
        """
        return list(self._slots[template])

    def _rows(self, template: str) -> pd.DataFrame:
        if self.template_column is None:
            return self.results
        col = self.results[self.template_column]
        return self.results.loc[col.astype(str) == template]

    def _resolve_slots(self, slot_columns: Any) -> dict[str, list[str]]:
        if self.template_column is None:
            templates = [ALL]
        else:
            templates = [str(t) for t in self.results[self.template_column].dropna().unique()]
        if not templates:
            raise InputError("the results have no rows to explore")
        if slot_columns is None and isinstance(self.results.attrs.get("slots"), Mapping):
            slot_columns = self.results.attrs["slots"]
        out: dict[str, list[str]] = {}
        for t in templates:
            if slot_columns is None:
                cols = self._infer_slots(self._rows(t))
            elif isinstance(slot_columns, Mapping):
                given = {str(k): v for k, v in slot_columns.items()}
                cols = list(given.get(t, []))
            else:
                cols = [slot_columns] if isinstance(slot_columns, str) else list(slot_columns)
            bad = [c for c in cols if c not in self.results.columns]
            if bad:
                raise InputError(f"template {t!r}: slot column {bad[0]!r} is not in the results")
            out[t] = cols
        return out

    def _infer_slots(self, rows: pd.DataFrame) -> list[str]:
        skip = set(self.categories) | {c for c in rows.columns if is_result_column(c)} | _NOT_SLOTS
        if self.template_column:
            skip.add(self.template_column)
        cols = []
        for c in rows.columns:
            if c in skip or pd.api.types.is_numeric_dtype(rows[c]):
                continue
            if pd.api.types.is_bool_dtype(rows[c]):
                continue
            values = rows[c].dropna()
            try:
                distinct = values.nunique()
            except TypeError:  # unhashable cells (lists)
                continue
            if distinct < 2:
                continue
            if (
                "text" in rows.columns
                and (values.astype(str) == rows.loc[values.index, "text"]).all()
            ):
                continue
            cols.append(c)
        return cols

    def _blank_table(self) -> pd.DataFrame:
        table = pd.DataFrame(
            [[float("nan")] * len(self.categories)],
            columns=self.categories,
            index=pd.Index([ALL], name="rows"),
        )
        table.attrs["stat"] = "mean"
        return table

    # ----- handlers ------------------------------------------------------------------
    def on_template_change(self, change: Any = None) -> None:
        """A template was picked: offer its slots, redraw, select the first cell.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        slots = self.slots_of(self.template)
        self._busy = True
        try:
            self.slot_dropdown.options = slots or [ALL]
            self.slot_dropdown.value = (slots or [ALL])[0]
        finally:
            self._busy = False
        self.on_slot_change()

    def on_slot_change(self, change: Any = None) -> None:
        """The row slot changed: recompute the cross-tab and the cell picker.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        if self._busy:
            return
        self._refresh_table()
        self._busy = True
        try:
            labels = list(self._row_values)
            self.value_dropdown.options = labels
            self.value_dropdown.value = labels[0] if labels else None
        finally:
            self._busy = False
        self.on_cell_change()

    def on_stat_change(self, change: Any = None) -> None:
        """The statistic changed: recompute and redraw the heatmap.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        if self._busy:
            return
        self._refresh_table()

    def on_cell_change(self, change: Any = None) -> None:
        """A cell (row value, category) was picked: list the prompts behind it.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        if self._busy:
            return
        rows = self._rows(self.template)
        slot = self.slot_dropdown.value
        label = self.value_dropdown.value
        category = self.category_dropdown.value
        if label is None:
            selected = rows.iloc[0:0]
        elif slot == ALL or slot not in rows.columns:
            selected = rows
        else:
            value = self._row_values[label]
            selected = rows.loc[rows[slot].astype(object).map(row_label) == row_label(value)]
        selected = selected.sort_values(
            category, ascending=False, na_position="last", kind="stable"
        )
        self.selected_prompts = selected
        self._render_prompts(selected, category)
        options = [
            (f"{i}: {self._short(t)}", i)
            for i, t in zip(
                selected.index[: self.max_rows], selected["text"].iloc[: self.max_rows], strict=True
            )
        ]
        self._busy = True
        try:
            self.prompt_dropdown.options = options
            self.prompt_dropdown.value = options[0][1] if options else None
        finally:
            self._busy = False
        self.on_prompt_change()

    def on_prompt_change(self, change: Any = None) -> None:
        """A prompt was picked: show the endpoint's full JSON result for it.

        Parameters
        ----------
        change : dict, optional
            The ipywidgets change notification (not read; ``None`` when called
            directly).
        """
        if self._busy:
            return
        idx = self.prompt_dropdown.value
        if idx is None:
            self.json_text = ""
            self.json_view.value = ""
            return
        row = self.results.loc[idx]
        err = row.get("error", "")
        if isinstance(err, str) and err:
            self.json_text = json.dumps({"error": err}, indent=2)
        else:
            raw = row.get("result_json", "")
            try:
                self.json_text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
            except (TypeError, ValueError):
                self.json_text = str(raw)
        header = html.escape(str(row.get("text", "")))
        meta = " · ".join(
            f"{k}: {html.escape(str(row[k]))}"
            for k in ("model", "moderation_id")
            if k in row.index and row[k]
        )
        self.json_view.value = (
            f"<b>{header}</b><br><small>{meta}</small>"
            f"<pre style='max-height:24em;overflow:auto'>{html.escape(self.json_text)}</pre>"
        )

    def on_heatmap_click(self, trace: Any, points: Any, state: Any = None) -> None:
        """Handle a click on the heatmap (a plotly ``on_click`` callback).

        Parameters
        ----------
        trace : plotly.graph_objects.Heatmap
            The clicked trace (not read).
        points : plotly.callbacks.Points
            The clicked points; the first one's ``ys`` / ``xs`` select the cell.
        state : plotly.callbacks.InputDeviceState, optional
            The mouse state (not read).

        Raises
        ------
        InputError
            As :meth:`select_cell`, for a point that is not a cell of the cross-tab.
        """
        ys = list(getattr(points, "ys", []) or [])
        xs = list(getattr(points, "xs", []) or [])
        if not ys or not xs:
            return
        self.select_cell(ys[0], xs[0])

    def select_cell(self, row: Any, category: str) -> None:
        """Select a cell by its row value (or row label) and category key.

        Parameters
        ----------
        row : object
            A value of the row slot, or its label (tuples joined by ``" · "``).
        category : str
            One of the explorer's categories.

        Raises
        ------
        InputError
            For a row or category that is not in the cross-tab on screen.
        """
        label = row_label(row)
        if label not in self._row_values:
            raise InputError(f"no row {label!r} in the cross-tab (rows: {list(self._row_values)})")
        if category not in self.categories:
            raise InputError(f"unknown category {category!r} (categories: {self.categories})")
        self._busy = True
        try:
            self.value_dropdown.value = label
            self.category_dropdown.value = category
        finally:
            self._busy = False
        self.on_cell_change()

    # ----- rendering -----------------------------------------------------------------
    def _refresh_table(self) -> None:
        rows = self._rows(self.template)
        slot = self.slot_dropdown.value
        frame = rows
        by = slot
        if slot == ALL or slot is None:
            frame = rows.assign(_all=ALL)
            by = "_all"
        stat = self.stat_dropdown.value
        thresholds = self.thresholds if stat == "flag_rate" else None
        table = crosstab(frame, by, stat, categories=self.categories, thresholds=thresholds)
        if by == "_all":
            table.index = table.index.rename("rows")
        self.table = table
        self._row_values = {row_label(v): v for v in table.index}
        _, n_excluded = scored_rows(rows)
        self.status.value = (
            f"<small>template <b>{html.escape(self.template)}</b>: {len(rows)} prompts"
            + (f", {n_excluded} unscored (excluded from the statistics)" if n_excluded else "")
            + "</small>"
        )
        fig = heatmap(table, title=f"{self.template}: {stat} by {slot}")
        if self._figure_widget:
            with self.figure.batch_update():
                trace = self.figure.data[0]
                new = fig.data[0]
                trace.z, trace.x, trace.y = new.z, new.x, new.y
                trace.zmin, trace.zmax = new.zmin, new.zmax
                trace.texttemplate, trace.hovertemplate = new.texttemplate, new.hovertemplate
                trace.colorbar = new.colorbar
                self.figure.layout = fig.layout
        else:
            self.figure = fig
            self._show_static(fig)

    def _show_static(self, fig: Any) -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        if get_ipython() is None:
            return
        from IPython.display import display

        self.heatmap_view.clear_output(wait=True)
        with self.heatmap_view:
            display(fig)

    def _render_prompts(self, selected: pd.DataFrame, category: str) -> None:
        slots = [c for c in self.slots_of(self.template) if c in selected.columns]
        cols = ["text", *slots, category]
        if "error" in selected.columns:
            cols.append("error")
        shown = selected[cols].head(self.max_rows)
        more = len(selected) - len(shown)
        note = (
            f"<small>{len(selected)} prompts"
            + (f", first {len(shown)} shown" if more > 0 else "")
            + "</small>"
        )
        self.prompts_html.value = note + shown.to_html(
            escape=True, float_format=lambda v: f"{v:.4f}", na_rep="", border=0
        )

    @staticmethod
    def _short(text: Any, width: int = 90) -> str:
        s = str(text)
        return s if len(s) <= width else s[: width - 1] + "…"
