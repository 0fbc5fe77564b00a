"""Monitoring a decision log: rates per period with intervals, shadow would-block against
did-block, review load against the file's forecast, score drift (PSI and KS), limits.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._decision_log import (
    DECISION_PREFIX,
    ENFORCED_PREFIX,
    is_decision_log,
    read_decision_log,
)
from ._errors import InputError
from ._frame import category_columns, scored_rows
from ._io import read_table
from ._text import xml_safe
from ._validation import LEVEL, Interval, StrOptions, validate_params
from .thresholds import ThresholdFile, load_threshold_file

__all__ = ["PERIODS", "MonitorReport", "clopper_pearson", "monitor", "psi"]

#: Periods :func:`monitor` groups records by (pandas offset aliases in UTC).
PERIODS = {"hour": "h", "day": "D"}
#: Smallest bin share in :func:`psi` (empty bins would make the log infinite).
PSI_EPS = 1e-4


def clopper_pearson(k: Any, n: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Clopper-Pearson ("exact") interval of a binomial proportion ``k / n``.

    Parameters
    ----------
    k, n : int or array of int
        Successes and trials (``0 <= k <= n``); ``n == 0`` gives NaN bounds.
    level : float, default 0.95
        Confidence level, in (0, 1).

    Returns
    -------
    lo, hi : ndarray of float
        The bounds, the shape of ``k`` and ``n`` broadcast.

    Raises
    ------
    InputError
        ``level`` outside (0, 1), a negative ``k`` or ``k > n``.

    Notes
    -----
    Clopper & Pearson (1934), Biometrika 26(4): the beta quantiles
    ``Beta(a/2; k, n-k+1)`` and ``Beta(1-a/2; k+1, n-k)``. Coverage is at least
    ``level`` for every true proportion (conservative); ``benchmarks/monitor_coverage.py``
    measures it over simulated repetitions.

    Examples
    --------
    >>> from modkit._monitor import clopper_pearson
    >>> lo, hi = clopper_pearson(5, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0164, 0.1128)
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1); got {level!r}")
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise InputError("clopper_pearson: need 0 <= k <= n")
    from scipy import stats  # imported here: scipy.stats costs ~0.8 s of `import modkit`

    a = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k_arr > 0, stats.beta.ppf(a / 2, k_arr, n_arr - k_arr + 1), 0.0)
        hi = np.where(k_arr < n_arr, stats.beta.ppf(1 - a / 2, k_arr + 1, n_arr - k_arr), 1.0)
    empty = n_arr == 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def psi(
    expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray, bins: int = 10
) -> float:
    """Population stability index of ``actual`` scores against ``expected`` ones.

    Parameters
    ----------
    expected : sequence of float
        The reference scores (calibration data or a baseline period); NaN ignored.
    actual : sequence of float
        The scores to compare; NaN ignored.
    bins : int, default 10
        Bins at the quantiles of ``expected`` (ties merged, so fewer when scores
        repeat); the outer bins are open-ended.

    Returns
    -------
    float
        ``sum((a_i - e_i) * ln(a_i / e_i))`` over bins, with each share at least
        ``1e-4``; NaN when either side has no score. 0 means the same distribution;
        by the usual rule of thumb < 0.1 is stable, 0.1-0.25 a moderate shift, > 0.25
        a large one (Siddiqi 2006, *Credit Risk Scorecards*, ch. 8; Yurdakul 2018,
        "Statistical properties of population stability index").

    Raises
    ------
    InputError
        ``bins`` below 2.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit._monitor import psi
    >>> rng = np.random.default_rng(0)
    >>> base = rng.beta(1, 8, 5000)
    >>> round(psi(base, rng.beta(1, 8, 5000)), 3) < 0.01
    True
    >>> psi(base, rng.beta(2, 3, 5000)) > 0.25
    True
    """
    if bins < 2:
        raise InputError(f"psi: bins must be at least 2; got {bins}")
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e, a = e[~np.isnan(e)], a[~np.isnan(a)]
    if e.size == 0 or a.size == 0:
        return math.nan
    # edges from the empirical CDF alone (inverted_cdf): the same shares give the same bins
    inner = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))
    e_share = np.bincount(np.searchsorted(inner, e, side="right"), minlength=inner.size + 1)
    a_share = np.bincount(np.searchsorted(inner, a, side="right"), minlength=inner.size + 1)
    p = np.maximum(e_share / e.size, PSI_EPS)
    q = np.maximum(a_share / a.size, PSI_EPS)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class MonitorReport:
    """What :func:`modkit.monitor` found in a decision log.

    Attributes
    ----------
    rates : DataFrame
        One row per (``period``, ``category``): ``n``, ``block`` and ``flag_rate``
        (share decided ``block`` by the logged threshold file) with ``flag_lo`` /
        ``flag_hi``, ``review`` and ``review_rate`` with ``review_lo`` / ``review_hi``
        (Clopper-Pearson intervals at ``level``), ``did_block_rate`` (share the
        enforced decision blocked), ``baseline_flag_rate`` and ``flag_rate_change``
        (``flag_rate - baseline_flag_rate``).
    overall : DataFrame
        One row per ``period``: ``n``, ``would_block`` and ``did_block`` (shares of
        inputs the logged file would block and the enforced decision blocked), their
        intervals, ``review_rate``, ``review_per_day`` (review decisions per 24 h of the
        period), ``forecast_review_rate`` and ``forecast_review_per_day`` (from the
        threshold file's ``bands`` and ``review_per_day``, when it records them) and
        ``review_load`` (``review_rate / forecast_review_rate``).
    drift : DataFrame
        One row per (``period``, ``category``): ``n``, ``baseline_n``, ``psi``
        (:func:`psi`), ``ks_statistic`` and ``ks_pvalue`` (two-sample
        Kolmogorov-Smirnov, :func:`scipy.stats.ks_2samp`), against the baseline.
    breaches : list of dict
        One per limit crossed: ``limit``, ``period``, ``category``, ``value``,
        ``max`` and ``message``.
    checks : list of dict
        Every limit check made (``status`` ``pass`` / ``fail`` / ``skip``), for JUnit.
    meta : dict
        ``period``, ``level``, ``baseline`` (what the drift and rate changes compare
        with), ``records``, ``torn_lines``, ``limits``.

    Examples
    --------
    Made by :func:`modkit.monitor`:

    >>> import pandas as pd
    >>> import modkit
    >>> log = pd.DataFrame({
    ...     "time": pd.to_datetime(["2026-12-01T10:00Z", "2026-12-02T10:00Z"] * 50),
    ...     "violence": [0.1, 0.8] * 50,
    ...     "decision": ["allow", "block"] * 50, "decision/violence": ["allow", "block"] * 50,
    ...     "enforced": ["allow"] * 100, "enforced/violence": ["allow"] * 100})
    >>> report = modkit.monitor(log, max_flag_rate_change=0.5)
    >>> report.ok, report.rates["flag_rate"].tolist()
    (False, [0.0, 1.0])
    """

    rates: pd.DataFrame
    overall: pd.DataFrame
    drift: pd.DataFrame
    breaches: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no limit was crossed."""
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``ok``, ``meta``, ``breaches``, ``checks`` and the three tables
        as lists of records (periods as ISO 8601 strings, NaN as null).

        Returns
        -------
        dict
        """

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = frame.copy()
            if "period" in out:
                out["period"] = out["period"].map(lambda t: t.isoformat())
            return json.loads(out.to_json(orient="records", double_precision=6))

        return {
            "ok": self.ok,
            "meta": self.meta,
            "breaches": self.breaches,
            "checks": self.checks,
            "overall": records(self.overall),
            "rates": records(self.rates),
            "drift": records(self.drift),
        }

    def to_junit_xml(self, suite: str = "modkit monitor") -> str:
        """A JUnit XML report: one ``testcase`` per limit check, ``failure`` when crossed.

        Parameters
        ----------
        suite : str, default "modkit monitor"

        Returns
        -------
        str
            Well-formed XML 1.0 whatever the names hold: a character XML forbids is
            written as a visible escape (``\\x1b``).
        """
        fails = sum(c["status"] == "fail" for c in self.checks)
        skips = sum(c["status"] == "skip" for c in self.checks)
        x = xml_safe  # what XML 1.0 forbids (ESC, lone surrogates) as a visible escape
        root = ET.Element("testsuites", name=x(suite))
        ts = ET.SubElement(
            root,
            "testsuite",
            name=x(suite),
            tests=str(len(self.checks)),
            failures=str(fails),
            skipped=str(skips),
            errors="0",
        )
        for c in self.checks:
            limit, message = x(str(c["limit"])), x(str(c["message"]))
            case = ET.SubElement(ts, "testcase", classname=f"modkit.monitor.{limit}")
            case.set("name", x(str(c["name"])))
            if c["status"] == "fail":
                ET.SubElement(case, "failure", message=message, type=limit).text = message
            elif c["status"] == "skip":
                ET.SubElement(case, "skipped", message=message)
            else:
                ET.SubElement(case, "system-out").text = message
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"

    def summary(self) -> str:
        """A plain-text summary for a cron mail or CI log.

        Returns
        -------
        str
        """
        m = self.meta
        lines = [
            f"modkit monitor: {m.get('records', 0)} records, {len(self.overall)} "
            f"{m.get('period')} period(s), baseline: {m.get('baseline')}"
        ]
        for _, row in self.overall.iterrows():
            lines.append(
                f"  {row['period'].isoformat()}: n={row['n']} would_block={row['would_block']:.4f}"
                f" did_block={row['did_block']:.4f} review={row['review_rate']:.4f}"
            )
        if self.breaches:
            lines.append(f"{len(self.breaches)} limit(s) crossed:")
            lines += [f"  {b['message']}" for b in self.breaches]
        else:
            lines.append("no limit crossed")
        return "\n".join(lines)


def _load(source: Any, what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if is_decision_log(path):
        return read_decision_log(path)
    if not path.exists():
        raise InputError(f"{what} {path}: file not found")
    return read_table(path)


def _periods(frame: pd.DataFrame, period: str, where: str) -> pd.Series:
    if "time" not in frame.columns:
        raise InputError(f"{where}: no 'time' column (is it a decision log?)")
    t = pd.to_datetime(frame["time"], utc=True)
    return t.dt.floor(PERIODS[period])


def _block_share(frame: pd.DataFrame, cat: str, decided: pd.DataFrame | None) -> float:
    col = DECISION_PREFIX + cat
    if col in frame.columns:
        v = frame[col].dropna()
        return float((v == "block").mean()) if len(v) else math.nan
    if decided is not None and f"action:{cat}" in decided.columns:
        v = decided[f"action:{cat}"]
        v = v[v != ""]
        return float((v == "block").mean()) if len(v) else math.nan
    return math.nan


def _decide_baseline(
    base: pd.DataFrame, log: pd.DataFrame, thresholds: ThresholdFile | None
) -> pd.DataFrame | None:
    """Decide a baseline of scores by the file's profile that decided the log (or its first)."""
    if thresholds is None or not thresholds.profiles:
        return None
    if any(c.startswith(DECISION_PREFIX) for c in base.columns):
        return None
    names = list(thresholds.profiles)
    logged = log["profile"].dropna() if "profile" in log.columns else pd.Series([], dtype=object)
    logged = logged[logged.isin(names)]
    name = str(logged.mode().iloc[0]) if len(logged) else names[0]
    return thresholds.profiles[name].apply(base, missing="ignore")


@validate_params(
    {
        "log": ["path", pd.DataFrame],
        "baseline": [None, "path", pd.DataFrame],
        "period": [StrOptions(tuple(PERIODS))],
        "thresholds": [None, "path", ThresholdFile],
        "level": [LEVEL],
        "bins": [Interval(Integral, 2, None)],
        "max_psi": [None, Interval(Real, 0, None)],
        "max_flag_rate_change": [None, Interval(Real, 0, None)],
        "max_review_load": [None, Interval(Real, 0, None)],
    }
)
def monitor(
    log: str | os.PathLike[str] | pd.DataFrame,
    baseline: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    period: str = "day",
    thresholds: str | os.PathLike[str] | ThresholdFile | None = None,
    level: float = 0.95,
    bins: int = 10,
    max_psi: float | None = None,
    max_flag_rate_change: float | None = None,
    max_review_load: float | None = None,
) -> MonitorReport:
    """Rates, shadow comparison, review load and score drift of a decision log, per period.

    Parameters
    ----------
    log : path or DataFrame
        A decision log (``modkit serve --decision-log``; read with
        :func:`modkit.read_decision_log`) or its frame.
    baseline : path or DataFrame, optional
        What drift and rate changes compare with: another decision log, or a results
        file of scores (the calibration data: ``modkit moderate`` output). Default: the
        log's first period.
    period : {"day", "hour"}, default "day"
        UTC periods the records are grouped by.
    thresholds : path or ThresholdFile, optional
        The threshold file: its ``bands`` and ``review_per_day`` are the review
        forecast; with a baseline of scores only, the profile that decided the log
        (else the file's first) decides the baseline as :meth:`ThresholdSet.apply`
        does, categories without a threshold by its ``unthresholded`` policy from the
        baseline's own ``flagged/<category>`` columns, which gives its flag rates.
    level : float, default 0.95
        Level of the Clopper-Pearson intervals.
    bins : int, default 10
        Quantile bins of the baseline for :func:`psi`.
    max_psi : float, optional
        Limit: a (period, category) whose PSI exceeds it is a breach.
    max_flag_rate_change : float, optional
        Limit on ``|flag_rate - baseline_flag_rate|`` (absolute, e.g. 0.02 = two
        percentage points) per (period, category).
    max_review_load : float, optional
        Limit on ``review_load``: a period's review rate over the file's forecast review
        rate (1.5 = half again the forecast). Skipped when the file records no forecast.

    Returns
    -------
    MonitorReport

    Raises
    ------
    InputError
        An unknown ``period``, a log without records or ``time``, a baseline without
        the log's categories, or a negative limit.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> log = pd.DataFrame({
    ...     "time": pd.to_datetime(["2026-12-01T10:00Z"] * 4 + ["2026-12-02T10:00Z"] * 4),
    ...     "violence": [0.1, 0.2, 0.1, 0.3, 0.7, 0.8, 0.9, 0.6],
    ...     "decision": ["allow"] * 4 + ["block"] * 4,
    ...     "decision/violence": ["allow"] * 4 + ["block"] * 4})
    >>> report = modkit.monitor(log, max_psi=0.25)
    >>> report.ok, bool(report.drift["psi"].iloc[-1] > 0.25)
    (False, True)
    """
    _check_limits(period, max_psi, max_flag_rate_change, max_review_load)
    frame, _ = scored_rows(_load_log(log))
    file = (
        thresholds
        if isinstance(thresholds, ThresholdFile) or thresholds is None
        else load_threshold_file(thresholds)
    )
    cats = category_columns(frame)
    keys = _periods(frame, period, "log" if isinstance(log, pd.DataFrame) else f"log {log}")
    frame = frame.assign(_period=keys.to_numpy())
    order = sorted(frame["_period"].unique())
    base, base_name = _baseline(baseline, frame, order, period, cats)
    base_decided = _decide_baseline(base, frame, file)
    rate_rows, drift_rows, overall_rows = [], [], []
    forecast = _forecast(file)
    hours = 1 if period == "hour" else 24
    for p in order:
        part = frame[frame["_period"] == p]
        overall_rows.append(_overall_row(p, part, level, forecast, hours))
        for c in cats:
            rate_rows.append(_rate_row(p, c, part, _block_share(base, c, base_decided), level))
            drift_rows.append(_drift_row(p, c, part, base, bins))
    rates = pd.DataFrame(rate_rows, columns=_RATE_COLUMNS)
    drift = pd.DataFrame(drift_rows, columns=_DRIFT_COLUMNS)
    overall = pd.DataFrame(overall_rows)
    checks = _checks(rates, drift, overall, max_psi, max_flag_rate_change, max_review_load)
    return MonitorReport(
        rates=rates,
        overall=overall,
        drift=drift,
        breaches=[c for c in checks if c["status"] == "fail"],
        checks=checks,
        meta={
            "period": period,
            "level": level,
            "baseline": base_name,
            "records": len(frame),
            "torn_lines": int(frame.attrs.get("torn_lines", 0)),
            **_METHODS,
            "limits": {
                "max_psi": max_psi,
                "max_flag_rate_change": max_flag_rate_change,
                "max_review_load": max_review_load,
            },
        },
    )


#: The methods named in :attr:`MonitorReport.meta`.
_METHODS = {
    "interval": "Clopper-Pearson",
    "drift_tests": "PSI on baseline quantile bins; two-sample Kolmogorov-Smirnov",
}


def _load_log(log: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """The decision log's frame; :class:`InputError` if it holds no record."""
    frame = _load(log, "log")
    if len(frame) == 0:
        raise InputError("the decision log holds no record")
    return frame


def _check_limits(
    period: str,
    max_psi: float | None,
    max_flag_rate_change: float | None,
    max_review_load: float | None,
) -> None:
    """Raise :class:`InputError` for an unknown period or a negative limit."""
    if period not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    for name, value in (
        ("max_psi", max_psi),
        ("max_flag_rate_change", max_flag_rate_change),
        ("max_review_load", max_review_load),
    ):
        if value is not None and not value >= 0:
            raise InputError(f"{name} must be a number >= 0; got {value!r}")


def _baseline(
    baseline: str | os.PathLike[str] | pd.DataFrame | None,
    frame: pd.DataFrame,
    order: list[Any],
    period: str,
    cats: list[str],
) -> tuple[pd.DataFrame, str]:
    """The baseline's scored rows (default: the log's first period) and how to name it."""
    if baseline is None:
        base = frame[frame["_period"] == order[0]]
        return base, f"the log's first {period} ({pd.Timestamp(order[0]).isoformat()})"
    base = _load(baseline, "baseline")
    base, _ = scored_rows(base)
    base_name = str(baseline) if not isinstance(baseline, pd.DataFrame) else "a frame"
    lacking = [c for c in cats if c not in base.columns]
    if len(lacking) == len(cats) and cats:
        raise InputError(
            f"baseline {base_name}: none of the log's categories ({', '.join(cats)}) is a column"
        )
    return base, base_name


def _overall_row(
    p: Any, part: pd.DataFrame, level: float, forecast: tuple[float, float], hours: int
) -> dict[str, Any]:
    """One period's would-block / did-block shares (with intervals) and review load."""
    forecast_rate, forecast_day = forecast
    n = len(part)
    dec = part["decision"] if "decision" in part else pd.Series([None] * n)
    enf = part["enforced"] if "enforced" in part else pd.Series([None] * n)
    wb, db = int((dec == "block").sum()), int((enf == "block").sum())
    rv = int((dec == "review").sum())
    (wlo, whi), (dlo, dhi) = clopper_pearson(wb, n, level), clopper_pearson(db, n, level)
    review_rate = rv / n
    enforced = enf.notna().any()
    return {
        "period": p,
        "n": n,
        "would_block": wb / n,
        "would_block_lo": float(wlo),
        "would_block_hi": float(whi),
        "did_block": db / n if enforced else math.nan,
        "did_block_lo": float(dlo) if enforced else math.nan,
        "did_block_hi": float(dhi) if enforced else math.nan,
        "review_rate": review_rate,
        "review_per_day": rv * 24 / hours,
        "forecast_review_rate": forecast_rate,
        "forecast_review_per_day": forecast_day,
        "review_load": review_rate / forecast_rate
        if forecast_rate and not math.isnan(forecast_rate)
        else math.nan,
    }


def _rate_row(p: Any, c: str, part: pd.DataFrame, base_rate: float, level: float) -> dict[str, Any]:
    """One (period, category)'s block and review rates with intervals, and the change."""
    col = part.get(DECISION_PREFIX + c)
    decided = col.dropna() if col is not None else pd.Series([], dtype=object)
    k = len(decided)
    blk, rev = int((decided == "block").sum()), int((decided == "review").sum())
    flo, fhi = clopper_pearson(blk, k, level)
    rlo, rhi = clopper_pearson(rev, k, level)
    ecol = part.get(ENFORCED_PREFIX + c)
    enforced = ecol.dropna() if ecol is not None else pd.Series([], dtype=object)
    flag_rate = blk / k if k else math.nan
    return {
        "period": p,
        "category": c,
        "n": k,
        "block": blk,
        "flag_rate": flag_rate,
        "flag_lo": float(flo),
        "flag_hi": float(fhi),
        "review": rev,
        "review_rate": rev / k if k else math.nan,
        "review_lo": float(rlo),
        "review_hi": float(rhi),
        "did_block_rate": float((enforced == "block").mean()) if len(enforced) else math.nan,
        "baseline_flag_rate": base_rate,
        "flag_rate_change": flag_rate - base_rate,
    }


def _drift_row(p: Any, c: str, part: pd.DataFrame, base: pd.DataFrame, bins: int) -> dict[str, Any]:
    """One (period, category)'s score drift from the baseline: PSI and two-sample KS."""
    now = pd.to_numeric(part[c], errors="coerce").dropna().to_numpy()
    ref = (
        pd.to_numeric(base[c], errors="coerce").dropna().to_numpy()
        if c in base.columns
        else np.array([])
    )
    if now.size and ref.size:
        from scipy import stats

        ks = stats.ks_2samp(ref, now)
        ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
    else:
        ks_stat = ks_p = math.nan
    return {
        "period": p,
        "category": c,
        "n": int(now.size),
        "baseline_n": int(ref.size),
        "psi": psi(ref, now, bins) if ref.size else math.nan,
        "ks_statistic": ks_stat,
        "ks_pvalue": ks_p,
    }


_RATE_COLUMNS = [
    "period",
    "category",
    "n",
    "block",
    "flag_rate",
    "flag_lo",
    "flag_hi",
    "review",
    "review_rate",
    "review_lo",
    "review_hi",
    "did_block_rate",
    "baseline_flag_rate",
    "flag_rate_change",
]
_DRIFT_COLUMNS = ["period", "category", "n", "baseline_n", "psi", "ks_statistic", "ks_pvalue"]


def _forecast(file: ThresholdFile | None) -> tuple[float, float]:
    """The file's forecast review share and review items per day (NaN: none recorded)."""
    if file is None:
        return math.nan, math.nan
    shares: list[float] = [
        float(ts.bands["review"])
        for ts in file.profiles.values()
        if isinstance(ts.bands, dict) and ts.bands.get("review") is not None
    ]
    days = [ts.review_per_day for ts in file.profiles.values() if ts.review_per_day is not None]
    # several profiles: their mean share (the log does not weigh profiles by traffic)
    share = float(np.mean(shares)) if shares else math.nan
    return share, float(sum(days)) if days else math.nan


def _check(
    limit: str, name: str, value: float, bound: float, what: str, **where: Any
) -> dict[str, Any]:
    """One limit checked: ``skip`` without a value, ``fail`` above ``bound``, else ``pass``."""
    if math.isnan(value):
        status, message = "skip", f"{name}: no value to check ({what})"
    elif value > bound:
        status, message = "fail", f"{name}: {what} {value:.4g} > max {bound:g}"
    else:
        status, message = "pass", f"{name}: {what} {value:.4g} <= max {bound:g}"
    return {
        "limit": limit,
        "name": name,
        "status": status,
        "value": None if math.isnan(value) else value,
        "max": bound,
        "message": message,
        **where,
    }


def _checks(
    rates: pd.DataFrame,
    drift: pd.DataFrame,
    overall: pd.DataFrame,
    max_psi: float | None,
    max_change: float | None,
    max_load: float | None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(limit: str, name: str, value: float, bound: float, what: str, **where: Any) -> None:
        out.append(_check(limit, name, value, bound, what, **where))

    if max_psi is not None:
        for _, r in drift.iterrows():
            stamp = r["period"].isoformat()
            add(
                "max_psi",
                f"{stamp} {r['category']}",
                float(r["psi"]),
                max_psi,
                "PSI",
                period=stamp,
                category=r["category"],
            )
    if max_change is not None:
        for _, r in rates.iterrows():
            stamp = r["period"].isoformat()
            add(
                "max_flag_rate_change",
                f"{stamp} {r['category']}",
                abs(float(r["flag_rate_change"])),
                max_change,
                f"flag rate change (now {r['flag_rate']:.4g}, baseline "
                f"{r['baseline_flag_rate']:.4g})",
                period=stamp,
                category=r["category"],
            )
    if max_load is not None:
        for _, r in overall.iterrows():
            stamp = r["period"].isoformat()
            add(
                "max_review_load",
                stamp,
                float(r["review_load"]),
                max_load,
                "review load (review rate / the file's forecast)",
                period=stamp,
                category=None,
            )
    return out
