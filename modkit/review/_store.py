"""ReviewStore: an append-only SQLite log of reviewers' verdicts on an audit sample."""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .._errors import InputError
from ._agreement import agreement_table
from ._interchange import read_verdicts
from ._labels import LABEL_PREFIX, label_value, sample_categories

__all__ = ["RESOLUTIONS", "ReviewStore"]

#: How verdicts of several reviewers become one label (see :meth:`ReviewStore.labelled`).
RESOLUTIONS = ("unanimous", "majority")
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    row TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    PRIMARY KEY (id, reviewer)
);
CREATE TABLE IF NOT EXISTS verdicts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    category TEXT NOT NULL,
    label INTEGER,
    rubric_version TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_item ON verdicts (id, reviewer, category);
"""

_VERDICT_COLUMNS = [
    "seq",
    "id",
    "reviewer",
    "category",
    "label",
    "rubric_version",
    "recorded_at",
    "source",
]


_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Run a store method under the store's lock: ipykernel delivers widget messages
    on another thread than the cell's, and one SQLite connection serves both."""

    @functools.wraps(method)
    def wrapper(self: ReviewStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cell(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


class ReviewStore:
    """Reviewers' verdicts on an audit sample, in an append-only SQLite file.

    The file holds the sample (one row per item, with its ``id``), who reviews what
    (:meth:`assign`) and every verdict ever given: one row per (item, reviewer,
    category) with the label (1, 0, or NULL for unsure), the reviewer, the rubric
    version and the UTC time. Verdicts are never updated or deleted; a reviewer's
    later verdict on the same item and category supersedes the earlier one.

    Each :meth:`record` is one committed transaction in WAL mode with
    ``synchronous=FULL``: once it returns, the verdict survives a crash of the
    process (a kernel killed with ``kill -9``) and of the machine. Several processes
    (reviewers' kernels) may write the same file at once.

    Parameters
    ----------
    path : str or PathLike
        The SQLite file (created if missing; ``":memory:"`` for a throwaway store).

    Attributes
    ----------
    path : str
    categories : list of str
        The categories verdicts are asked on (set by :meth:`add_sample`).

    Raises
    ------
    InputError
        When the file is not a review store (another SQLite file, or not SQLite).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.review import ReviewStore
    >>> sample = pd.DataFrame({"id": ["a", "b"], "text": ["hi", "go away"],
    ...                        "violence": [0.1, 0.7], "decision/violence": ["allow", "block"]})
    >>> store = ReviewStore(":memory:").add_sample(sample)
    >>> store.record("b", "violence", 1, reviewer="ana", rubric_version="v1")
    1
    >>> store.queue("ana")
    ['a']
    >>> store.labelled()[["id", "label_violence"]]
      id  label_violence
    0  a             NaN
    1  b             1.0
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(_SCHEMA)
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(_SCHEMA_VERSION))
            elif int(version) != _SCHEMA_VERSION:
                raise InputError(
                    f"{self.path}: review store schema version {version}; this modkit "
                    f"reads version {_SCHEMA_VERSION}"
                )
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a review store ({exc})") from None
        cats = self._meta("categories")
        self.categories: list[str] = json.loads(cats) if cats else []

    # -- plumbing ---------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @_locked
    def close(self) -> None:
        """Close the file (every recorded verdict is already committed)."""
        self._conn.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_locked
    def __repr__(self) -> str:
        n = self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        v = self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        return f"ReviewStore({self.path!r}, items={n}, verdicts={v}, categories={self.categories})"

    # -- the sample -------------------------------------------------------------------
    @_locked
    def add_sample(
        self, sample: pd.DataFrame, *, categories: Sequence[str] | None = None
    ) -> ReviewStore:
        """Put the items of an audit sample in the store (one transaction).

        Adding the same sample again changes nothing; new ids are appended after the
        stored ones. Columns ``label_<category>`` are not stored with the items (they
        are verdicts: see :meth:`import_verdicts`).

        Parameters
        ----------
        sample : DataFrame
            :func:`modkit.audit.draw`'s frame: a unique string ``id`` column, ``text``,
            slot columns, scores, ``stratum``, ``inclusion_probability``,
            ``decision/<category>``.
        categories : sequence of str, optional
            Default: :func:`sample_categories`. Must match the stored categories if
            the store already has some.

        Returns
        -------
        ReviewStore
            ``self``.

        Raises
        ------
        InputError
            No ``id`` column, an empty or duplicate id, an id already stored with
            other values, or categories other than the stored ones.
        """
        if not isinstance(sample, pd.DataFrame):
            raise InputError(f"sample must be a DataFrame, not {type(sample).__name__}")
        if "id" not in sample.columns:
            raise InputError("the sample has no 'id' column (modkit.audit.draw writes one)")
        cats = list(categories) if categories is not None else sample_categories(sample)
        if self.categories and cats != self.categories:
            raise InputError(
                f"{self.path}: the store reviews categories {self.categories}; the sample "
                f"asks {cats}"
            )
        keep = [c for c in sample.columns if not str(c).startswith(LABEL_PREFIX)]
        ids = sample["id"].astype(object)
        seen: dict[str, int] = {}
        rows = []
        for i, (raw_id, rec) in enumerate(
            zip(ids.tolist(), sample[keep].to_dict(orient="records"), strict=True)
        ):
            if _cell(raw_id) is None or str(raw_id).strip() == "":
                raise InputError(f"sample row {i + 1} field 'id': empty")
            item = str(raw_id)
            if item in seen:
                raise InputError(
                    f"sample row {i + 1} field 'id': duplicate of row {seen[item] + 1} ({item!r})"
                )
            seen[item] = i
            rec = {str(k): _cell(v) for k, v in rec.items()}
            rec["id"] = item
            rows.append((item, json.dumps(rec, ensure_ascii=False, default=str)))
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for item, payload in rows:
                old = self._conn.execute("SELECT row FROM items WHERE id = ?", (item,)).fetchone()
                if old is None:
                    self._conn.execute("INSERT INTO items (id, row) VALUES (?, ?)", (item, payload))
                elif json.loads(old[0]) != json.loads(payload):
                    raise InputError(
                        f"{self.path}: item {item!r} is stored with other values than the "
                        "sample's (a different sample? use a new store)"
                    )
            if not self.categories:
                self._set_meta("categories", json.dumps(cats))
                self._set_meta("columns", json.dumps([str(c) for c in keep]))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self.categories = cats
        return self

    @_locked
    def ids(self) -> list[str]:
        """The item ids, in sample order.

        Returns
        -------
        list of str
        """
        return [r[0] for r in self._conn.execute("SELECT id FROM items ORDER BY position")]

    @_locked
    def item(self, item_id: str) -> dict[str, Any]:
        """One item's stored row (id, text, slots, scores, decisions).

        Parameters
        ----------
        item_id : str

        Returns
        -------
        dict

        Raises
        ------
        InputError
            When the id is not in the store.
        """
        row = self._conn.execute("SELECT row FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise InputError(f"{self.path}: unknown item id {item_id!r}")
        return dict(json.loads(row[0]))

    @_locked
    def sample(self) -> pd.DataFrame:
        """The stored sample, without verdicts.

        Returns
        -------
        DataFrame
            One row per item in sample order, the columns as added.
        """
        cols = json.loads(self._meta("columns") or '["id"]')
        recs = [
            json.loads(r[0]) for r in self._conn.execute("SELECT row FROM items ORDER BY position")
        ]
        return pd.DataFrame.from_records(recs, columns=cols)

    # -- assignment -------------------------------------------------------------------
    @_locked
    def assign(self, reviewers: Sequence[str], *, overlap: int = 0, seed: int = 0) -> pd.DataFrame:
        """Split the items among reviewers, with an overlap set every reviewer sees.

        ``overlap`` items, drawn at random (``seed``), go to every reviewer (their
        agreement is measured on them, :meth:`agreement`); the others are dealt in
        turn in sample order. Replaces any earlier assignment (verdicts are kept).
        Without an assignment every reviewer's queue holds every item.

        Parameters
        ----------
        reviewers : sequence of str
            At least one, distinct and non-empty.
        overlap : int, default 0
            Items every reviewer labels (at most the number of items).
        seed : int, default 0

        Returns
        -------
        DataFrame
            ``id``, ``reviewer``: one row per assignment.

        Raises
        ------
        InputError
            No reviewers, an empty or repeated name, or a bad ``overlap``.
        """
        names = [str(r) for r in reviewers]
        if not names or any(not r.strip() for r in names) or len(set(names)) != len(names):
            raise InputError(f"reviewers must be distinct non-empty names, got {names!r}")
        ids = self.ids()
        if not (isinstance(overlap, int) and 0 <= overlap <= len(ids)):
            raise InputError(f"overlap must be an integer in [0, {len(ids)}], got {overlap!r}")
        rng = np.random.default_rng(seed)
        shared = (
            set(rng.choice(len(ids), size=overlap, replace=False).tolist()) if overlap else set()
        )
        pairs = []
        turn = 0
        for i, item in enumerate(ids):
            if i in shared:
                pairs += [(item, r) for r in names]
            else:
                pairs.append((item, names[turn % len(names)]))
                turn += 1
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM assignments")
            self._conn.executemany("INSERT INTO assignments (id, reviewer) VALUES (?, ?)", pairs)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return pd.DataFrame(pairs, columns=["id", "reviewer"])

    @_locked
    def assigned(self, reviewer: str) -> list[str]:
        """The ids in ``reviewer``'s share, in sample order (every id without an assignment).

        Parameters
        ----------
        reviewer : str

        Returns
        -------
        list of str
        """
        if self._conn.execute("SELECT COUNT(*) FROM assignments").fetchone()[0] == 0:
            return self.ids()
        return [
            r[0]
            for r in self._conn.execute(
                "SELECT items.id FROM items JOIN assignments ON items.id = assignments.id "
                "WHERE assignments.reviewer = ? ORDER BY items.position",
                (reviewer,),
            )
        ]

    @_locked
    def queue(self, reviewer: str) -> list[str]:
        """The ids ``reviewer`` has still to finish, in sample order.

        An item is finished when the reviewer gave a verdict (unsure counts) on every
        category; the first id is where a resumed session starts.

        Parameters
        ----------
        reviewer : str

        Returns
        -------
        list of str
        """
        done = self.reviewed(reviewer)
        return [i for i in self.assigned(reviewer) if len(done.get(i, {})) < len(self.categories)]

    @_locked
    def reviewed(self, reviewer: str) -> dict[str, dict[str, int | None]]:
        """``reviewer``'s latest verdicts: ``{id: {category: 1 / 0 / None}}``.

        Parameters
        ----------
        reviewer : str

        Returns
        -------
        dict
        """
        out: dict[str, dict[str, int | None]] = {}
        for item, cat, label in self._conn.execute(
            "SELECT id, category, label FROM verdicts WHERE reviewer = ? ORDER BY seq", (reviewer,)
        ):
            out.setdefault(item, {})[cat] = label
        return out

    # -- verdicts ---------------------------------------------------------------------
    def _check(self, item: str, category: str, reviewer: str, where: str) -> None:
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise InputError(f"{where} field 'reviewer': empty")
        if category not in self.categories:
            raise InputError(
                f"{where} field 'category': unknown category {category!r} (the store "
                f"reviews {self.categories})"
            )
        if self._conn.execute("SELECT 1 FROM items WHERE id = ?", (item,)).fetchone() is None:
            raise InputError(f"{where} field 'id': unknown item id {item!r}")

    @_locked
    def record(
        self,
        item_id: str,
        category: str,
        label: Any,
        *,
        reviewer: str,
        rubric_version: str = "",
        source: str = "api",
    ) -> int:
        """Store one verdict, committed before this returns.

        Parameters
        ----------
        item_id : str
        category : str
            One of :attr:`categories`.
        label : 1, 0, None or str
            1: the category applies; 0: it does not; None or ``"unsure"``: unsure (see
            :func:`label_value` for the spellings accepted).
        reviewer : str
        rubric_version : str, default ""
            The version of the rubric the reviewer applied.
        source : str, default "api"
            Where the verdict came from (``"widget"``, an imported file's name).

        Returns
        -------
        int
            The verdict's sequence number (increasing).

        Raises
        ------
        InputError
            An unknown id or category, an empty reviewer, a value that is no verdict.
        """
        where = f"verdict on {item_id!r}"
        self._check(str(item_id), category, reviewer, where)
        value = None if label is None else label_value(label, where=f"{where} field 'label'")
        cur = self._conn.execute(
            "INSERT INTO verdicts (id, reviewer, category, label, rubric_version, recorded_at, "
            "source) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(item_id), reviewer, category, value, str(rubric_version), _now(), source),
        )
        return int(cur.lastrowid or 0)

    @_locked
    def record_many(self, verdicts: pd.DataFrame, *, source: str = "import") -> int:
        """Store many verdicts in one transaction: all of them, or none on an error.

        Parameters
        ----------
        verdicts : DataFrame
            ``id``, ``reviewer``, ``category``, ``label`` (1 / 0 / NaN for unsure);
            optional ``rubric_version``, ``recorded_at`` (ISO time; default now) and
            ``where`` (how errors name the row, e.g. ``"file.csv row 3"``).
        source : str, default "import"

        Returns
        -------
        int
            The number of verdicts stored.

        Raises
        ------
        InputError
            The first bad row (unknown id or category, empty reviewer), named by its
            ``where``; nothing is stored then.
        """
        need = {"id", "reviewer", "category", "label"}
        if missing := need - set(verdicts.columns):
            raise InputError(f"verdicts lack columns {sorted(missing)}")
        rows = []
        for i, rec in enumerate(verdicts.to_dict(orient="records")):
            where = str(rec.get("where") or f"verdict {i + 1}")
            item = str(rec["id"])
            self._check(item, str(rec["category"]), str(rec["reviewer"] or ""), where)
            label = _cell(rec["label"])
            value = None if label is None else label_value(label, where=f"{where} field 'label'")
            rows.append(
                (
                    item,
                    str(rec["reviewer"]),
                    str(rec["category"]),
                    value,
                    str(_cell(rec.get("rubric_version")) or ""),
                    str(_cell(rec.get("recorded_at")) or _now()),
                    source,
                )
            )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO verdicts (id, reviewer, category, label, rubric_version, "
                "recorded_at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return len(rows)

    @_locked
    def import_verdicts(self, path: str | os.PathLike[str], *, reviewer: str | None = None) -> int:
        """Read a file of verdicts (:func:`modkit.review.read_verdicts`) and store them.

        Validated against the stored sample (unknown ids and categories, duplicate
        and conflicting rows are errors naming file, row and field) and stored in one
        transaction: on any error nothing is added and nothing stored is lost.

        Parameters
        ----------
        path : str or PathLike
            Label Studio's JSON export, Argilla v2 records JSON, or modkit's CSV.
        reviewer : str, optional
            For CSV rows without a ``reviewer``.

        Returns
        -------
        int
            The number of verdicts stored.

        Raises
        ------
        InputError
        """
        found = read_verdicts(path, ids=self.ids(), categories=self.categories, reviewer=reviewer)
        return self.record_many(found, source=Path(path).name)

    @_locked
    def verdicts(self, *, latest: bool = True) -> pd.DataFrame:
        """The verdicts, oldest first.

        Parameters
        ----------
        latest : bool, default True
            Only each reviewer's latest verdict per item and category; False: every
            verdict ever recorded (the append-only log).

        Returns
        -------
        DataFrame
            ``seq``, ``id``, ``reviewer``, ``category``, ``label`` (1.0, 0.0, NaN for
            unsure), ``rubric_version``, ``recorded_at`` (ISO 8601 UTC), ``source``.
        """
        sql = "SELECT " + ", ".join(_VERDICT_COLUMNS) + " FROM verdicts"
        if latest:
            sql += " WHERE seq IN (SELECT MAX(seq) FROM verdicts GROUP BY id, reviewer, category)"
        frame = pd.DataFrame(
            self._conn.execute(sql + " ORDER BY seq").fetchall(), columns=_VERDICT_COLUMNS
        )
        frame["label"] = pd.to_numeric(frame["label"], errors="coerce").astype(float)
        return frame

    @_locked
    def conflicts(self) -> pd.DataFrame:
        """Items and categories on which reviewers' latest definite verdicts differ.

        Returns
        -------
        DataFrame
            ``id``, ``category``, ``yes`` and ``no`` (the reviewers on each side,
            comma-separated), ``n_reviewers``.
        """
        v = self.verdicts()
        v = v[v["label"].notna()]
        rows = []
        for (item, cat), g in v.groupby(["id", "category"], sort=False):
            if g["label"].nunique() > 1:
                rows.append(
                    {
                        "id": item,
                        "category": cat,
                        "yes": ",".join(sorted(g.loc[g["label"] == 1, "reviewer"])),
                        "no": ",".join(sorted(g.loc[g["label"] == 0, "reviewer"])),
                        "n_reviewers": len(g),
                    }
                )
        return pd.DataFrame(rows, columns=["id", "category", "yes", "no", "n_reviewers"])

    @_locked
    def labelled(self, *, resolution: str = "unanimous") -> pd.DataFrame:
        """The labelled sample: the stored sample plus ``label_<category>`` columns.

        Each reviewer's latest verdict counts; unsure verdicts count as none. With
        ``resolution="unanimous"`` a label is set when every reviewer who gave a
        definite verdict agrees, and NaN when they disagree (a conflict, listed by
        :meth:`conflicts`: settle it by recording an adjudicating verdict and
        dropping the loser's, or with another rule). ``"majority"`` takes the strict
        majority of the definite verdicts (a tie is NaN).

        Parameters
        ----------
        resolution : {"unanimous", "majority"}

        Returns
        -------
        DataFrame
            The sample's columns, then ``label_<category>`` (1.0 / 0.0 / NaN:
            unsure, not reviewed or unresolved) and ``n_reviewers`` (reviewers with a
            verdict on the item).

        Raises
        ------
        InputError
            An unknown ``resolution``.
        """
        if resolution not in RESOLUTIONS:
            raise InputError(f"resolution must be one of {list(RESOLUTIONS)}, got {resolution!r}")
        out = self.sample()
        v = self.verdicts()
        for cat in self.categories:
            sub = v[(v["category"] == cat) & v["label"].notna()]
            stats = sub.groupby("id")["label"].agg(["sum", "count"])
            yes, n = stats["sum"], stats["count"]
            if resolution == "unanimous":
                lab = pd.Series(
                    np.where(yes == n, 1.0, np.where(yes == 0, 0.0, np.nan)), index=stats.index
                )
            else:
                lab = pd.Series(
                    np.where(2 * yes > n, 1.0, np.where(2 * yes < n, 0.0, np.nan)),
                    index=stats.index,
                )
            out[LABEL_PREFIX + cat] = out["id"].map(lab).astype(float)
        out["n_reviewers"] = (
            out["id"].map(v.groupby("id")["reviewer"].nunique()).fillna(0).astype(int)
        )
        return out

    @_locked
    def agreement(self) -> pd.DataFrame:
        """Agreement per category on the items two or more reviewers labelled.

        Returns
        -------
        DataFrame
            See :func:`modkit.review.agreement_table`: ``n_items``,
            ``percent_agreement``, ``cohen_kappa``, ``krippendorff_alpha``.
        """
        return agreement_table(self.verdicts(), self.categories)

    @_locked
    def progress(self) -> pd.DataFrame:
        """Per reviewer: items assigned, finished, and verdicts given.

        Returns
        -------
        DataFrame
            ``reviewer``, ``assigned``, ``done``, ``verdicts``, ``unsure``.
        """
        v = self.verdicts()
        names = sorted(
            set(v["reviewer"])
            | {r[0] for r in self._conn.execute("SELECT DISTINCT reviewer FROM assignments")}
        )
        rows = []
        for r in names:
            assigned = self.assigned(r)
            rows.append(
                {
                    "reviewer": r,
                    "assigned": len(assigned),
                    "done": len(assigned) - len(self.queue(r)),
                    "verdicts": int((v["reviewer"] == r).sum()),
                    "unsure": int(((v["reviewer"] == r) & v["label"].isna()).sum()),
                }
            )
        return pd.DataFrame(rows, columns=["reviewer", "assigned", "done", "verdicts", "unsure"])
