"""fit_thresholds: choices equal a brute-force search over scikit-learn's curves, edges, CV."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import precision_recall_curve, roc_curve

import modkit
from modkit.thresholds import binary_curve, fit_thresholds, parse_objective

OBJECTIVES = [
    "f1",
    "fbeta:0.5",
    "fbeta:2",
    "precision>=0.8",
    "precision>=0.95",
    "recall>=0.9",
    "recall>=0.5",
    "fpr<=0.01",
    "fpr<=0.1",
    "cost:fp=1,fn=10",
    "cost:fp=5,fn=1",
    "cost:fp=100,fn=1",
]

# These tests pin the choice itself; FitWarning (small samples, ignored columns) has its
# own tests in test_fit_guarantees.py.
pytestmark = pytest.mark.filterwarnings("ignore::modkit.thresholds.FitWarning")


def _highest(thresholds: np.ndarray, ok: np.ndarray) -> float | None:
    """The highest threshold among ``ok`` (``None`` for +inf, i.e. never flag)."""
    t = float(np.max(thresholds[ok]))
    return None if np.isinf(t) else t


def brute_force(objective: str, s: np.ndarray, y: np.ndarray) -> float | None:
    """Independent choice from sklearn's curves; ties go to the highest threshold."""
    obj = parse_objective(objective)
    prec, rec, thr = precision_recall_curve(y, s)
    prec, rec = prec[:-1], rec[:-1]  # the last point has no threshold
    fpr, tpr, rthr = roc_curve(y, s, drop_intermediate=False)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if obj.kind == "min_precision":
        ok = prec >= obj.target
        if not ok.any():
            return None
        best = rec[ok].max()
        return _highest(thr, ok & (rec == best))
    if obj.kind == "min_recall":
        ok = rec >= obj.target
        if not ok.any():
            return None
        best = prec[ok].max()
        return _highest(thr, ok & (prec == best))
    if obj.kind == "max_fpr":
        ok = fpr <= obj.target
        best = tpr[ok].max()
        return _highest(rthr, ok & (tpr == best))
    if obj.kind == "fbeta":
        b2 = obj.beta**2
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.nan_to_num((1 + b2) * prec * rec / (b2 * prec + rec))
        return _highest(thr, f >= f.max() - 1e-12)
    if obj.kind == "cost":
        tp, fp = np.rint(tpr * n_pos), np.rint(fpr * n_neg)
        cost = obj.fp_cost * fp + obj.fn_cost * (n_pos - tp)
        return _highest(rthr, cost <= cost.min() + 1e-9)
    raise AssertionError(obj.kind)


def _synthetic(n: int, seed: int, prevalence: float = 0.2, decimals: int = 2):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    s = np.where(y == 1, rng.beta(4, 2, n), rng.beta(1.5, 5, n)).round(decimals)
    return s, y


def _fit_one(s, y, objective, **kw):
    kw.setdefault("cv", 0)
    kw.setdefault("bootstrap", 0)
    kw.setdefault("min_positives", 1)
    ts = fit_thresholds(
        pd.DataFrame({"violence": s}), pd.DataFrame({"violence": y}), objective, **kw
    )
    return ts["violence"]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_choice_equals_sklearn_brute_force(objective, seed):
    s, y = _synthetic(600 + 100 * seed, seed, decimals=2 if seed < 2 else 6)
    ct = _fit_one(s, y, objective)
    assert ct.block == brute_force(objective, s, y)
    assert ct.status in ("ok", "infeasible")
    assert (ct.status == "infeasible") == (
        ct.block is None and objective.startswith(("precision", "recall", "fpr"))
    )


@pytest.fixture(scope="module")
def openai_1680():
    if "MODKIT_DATA_DIR" not in os.environ:
        local = Path(__file__).resolve().parents[3] / "shared" / "datasets"
        if local.is_dir():
            os.environ["MODKIT_DATA_DIR"] = str(local)
    from modkit.datasets import load_dataset

    labels = load_dataset("openai-moderation-1680")
    cats = [c for c in labels.columns if c in modkit.CATEGORIES]
    rng = np.random.default_rng(7)
    scores = pd.DataFrame(
        {
            c: np.where(
                labels[c].fillna(0) == 1, rng.beta(3, 2, len(labels)), rng.beta(1, 4, len(labels))
            ).round(3)
            for c in cats
        }
    )
    return scores, labels[cats]


@pytest.mark.parametrize(
    "objective", ["f1", "precision>=0.9", "recall>=0.95", "fpr<=0.02", "cost:fp=1,fn=20"]
)
def test_realistic_labels_with_missing_values(openai_1680, objective):
    scores, labels = openai_1680
    ts = fit_thresholds(scores, labels, objective, cv=0, bootstrap=0, min_positives=1)
    assert list(ts) == modkit._taxonomy.order_categories(labels.columns)
    for c in labels.columns:
        keep = labels[c].notna()
        s, y = scores.loc[keep, c].to_numpy(), labels.loc[keep, c].to_numpy().astype(int)
        ct = ts[c]
        assert (ct.n_pos, ct.n_neg) == (int(y.sum()), int(len(y) - y.sum()))
        assert ct.n_unlabelled == int((~keep).sum())
        assert ct.block == brute_force(objective, s, y), c


def test_in_sample_and_baselines_match_pandas(openai_1680):
    scores, labels = openai_1680
    flags = scores > 0.6
    ts = fit_thresholds(scores, labels, "f1", cv=0, bootstrap=0, endpoint_flags=flags)
    for c in labels.columns:
        keep = labels[c].notna()
        y = labels.loc[keep, c] == 1
        for key, pred in (
            ("in_sample", scores.loc[keep, c] >= ts[c].block),
            ("fixed_0.5", scores.loc[keep, c] >= 0.5),
            ("endpoint_flagged", flags.loc[keep, c]),
        ):
            got = ts[c].in_sample if key == "in_sample" else ts[c].baselines[key]
            assert got["tp"] == int((pred & y).sum())
            assert got["fp"] == int((pred & ~y).sum())
            assert got["fn"] == int((~pred & y).sum())
            assert got["tn"] == int((~pred & ~y).sum())
            assert got["precision"] == pytest.approx((pred & y).sum() / pred.sum())


def test_endpoint_flags_read_from_result_json():
    s, y = _synthetic(300, 3)
    flags = s > 0.4
    raw = [
        f'{{"flagged":{str(f).lower()},"categories":{{"violence":{str(f).lower()}}},'
        f'"category_scores":{{"violence":{v}}}}}'
        for f, v in zip(flags, s, strict=True)
    ]
    scores = pd.DataFrame({"violence": s, "result_json": raw, "model": "omni-x"})
    ts = fit_thresholds(scores, pd.DataFrame({"violence": y}), "f1", cv=0, bootstrap=0)
    got = ts["violence"].baselines["endpoint_flagged"]
    assert got["tp"] == int((flags & (y == 1)).sum())
    assert got["fp"] == int((flags & (y == 0)).sum())
    assert ts.model == "omni-x"


@pytest.mark.parametrize("result_json", [True, False])
def test_endpoint_baseline_from_a_frame_straight_out_of_moderate(result_json):
    from _fakes import HashBackend

    texts = [f"text {i}" for i in range(200)] + ["FAIL once"]
    frame = modkit.moderate(
        texts, backend=HashBackend(), cache=None, progress=False, result_json=result_json
    )
    assert ("result_json" in frame.columns) == result_json
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({"violence": (rng.random(len(frame)) < 0.3).astype(int)})
    ts = fit_thresholds(frame, labels, "f1", cv=0, bootstrap=0)
    got = ts["violence"].baselines["endpoint_flagged"]
    flags = frame["flagged/violence"].astype("boolean")
    keep = flags.notna().to_numpy() & frame["violence"].notna().to_numpy()
    f, y = flags.to_numpy(dtype=bool, na_value=False)[keep], labels["violence"].to_numpy()[keep]
    assert got is not None
    assert (got["tp"], got["fp"]) == (int((f & (y == 1)).sum()), int((f & (y == 0)).sum()))
    assert ts.model == "hash-1"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]), min_size=1, max_size=40),
    st.data(),
)
def test_binary_curve_counts_and_order_equal_an_argsort(values, data):
    s = np.array(values)
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(s), max_size=len(s))))
    curve = binary_curve(s, y)
    order = np.argsort(s, kind="stable")[::-1]
    ss, ys = s[order], y[order]
    ends = np.append(np.flatnonzero(ss[1:] != ss[:-1]), len(ss) - 1)
    assert curve.sorted_scores.tolist() == ss.tolist()
    assert curve.ends.tolist() == ends.tolist() and curve.thresholds.tolist() == ss[ends].tolist()
    assert curve.tp.tolist() == np.cumsum(ys)[ends].tolist()
    assert curve.fp.tolist() == (ends + 1 - np.cumsum(ys)[ends]).tolist()
    assert curve.order.tolist() == order.tolist()
    assert curve.sorted_labels.tolist() == ys.tolist()


def test_out_of_fold_equals_independent_fits_on_the_training_folds():
    from modkit.thresholds._oof import sorted_folds

    s, y = _synthetic(800, 5)
    k = 4
    ct = _fit_one(s, y, "precision>=0.8", cv=k, bootstrap=200, random_state=3)
    # The fold assignment is the library's (each class's ids in descending score
    # order); everything else is recomputed here.
    rng = np.random.default_rng([3, modkit.CATEGORIES.index("violence")])
    pos_folds, neg_folds = sorted_folds(binary_curve(s, y), k, rng)
    order = np.argsort(-s, kind="stable")
    fold = np.empty(len(y), dtype=np.int64)
    fold[order[y[order] == 1]] = pos_folds
    fold[order[y[order] == 0]] = neg_folds
    for cls in (0, 1):  # stratified: each class's fold sizes differ by at most one
        sizes = np.bincount(fold[y == cls], minlength=k)
        assert sizes.max() - sizes.min() <= 1
    pred = np.zeros(len(y), dtype=bool)
    chosen = []
    for f in range(k):
        train = fold != f
        t = _fit_one(s[train], y[train], "precision>=0.8").block
        chosen.append(t)
        if t is not None:
            pred[~train] = s[~train] >= t
    oof = ct.out_of_fold
    assert oof["folds"] == k
    assert oof["tp"] == int((pred & (y == 1)).sum())
    assert oof["fp"] == int((pred & (y == 0)).sum())
    assert oof["recall"] == pytest.approx((pred & (y == 1)).sum() / y.sum())
    real = [t for t in chosen if t is not None]
    assert ct.threshold_spread["min"] == min(real)
    assert ct.threshold_spread["max"] == max(real)
    assert ct.threshold_spread["std"] == pytest.approx(np.std(real))
    # The procedure's estimate: no interval is claimed for it (selection_ci is the
    # exported threshold's).
    assert oof["interval"] == "none" and set(oof["ci"].values()) == {None}


def test_exported_threshold_is_chosen_on_all_rows():
    s, y = _synthetic(500, 11)
    with_cv = _fit_one(s, y, "recall>=0.9", cv=5, bootstrap=50)
    without = _fit_one(s, y, "recall>=0.9")
    assert with_cv.block == without.block == brute_force("recall>=0.9", s, y)


def test_insufficient_data_and_fixed():
    s, y = _synthetic(400, 2, prevalence=0.01)
    n_pos = int(y.sum())
    assert 0 < n_pos < 10
    ct = _fit_one(s, y, "f1", min_positives=10, cv=5)
    assert ct.status == "insufficient_data" and ct.block is None
    assert str(n_pos) in ct.note and ct.n_pos == n_pos
    assert ct.out_of_fold is None
    fixed = _fit_one(s, y, "fixed:0.7", min_positives=10)
    assert fixed.status == "fixed" and fixed.block == 0.7
    none = _fit_one(s, np.zeros_like(y), "precision>=0.9", min_positives=1)
    assert none.status == "insufficient_data" and none.n_pos == 0


def test_infeasible_is_reported_with_best_value():
    s, y = _synthetic(500, 4)
    s = s.copy()
    s[np.argmax(s * (y == 0))] = 1.0  # a negative at the very top: precision 1 is unreachable
    ct = _fit_one(s, y, "precision>=1")
    assert ct.status == "infeasible" and ct.block is None
    assert "best precision" in ct.note
    assert ct.in_sample["tp"] == ct.in_sample["fp"] == 0


def test_ties_move_together():
    s = np.array([0.9, 0.7, 0.7, 0.7, 0.2, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0])
    ct = _fit_one(s, y, "recall>=1")
    assert ct.block == 0.7  # recall 1 at 0.7 flags all three tied rows
    assert ct.in_sample["fp"] == 1 and ct.in_sample["tp"] == 3


def test_review_band_bands_and_queue():
    s, y = _synthetic(1000, 8)
    other = np.random.default_rng(1).random(1000).round(2)
    scores = pd.DataFrame({"violence": s, "hate": other})
    labels = pd.DataFrame({"violence": y, "hate": (other > 0.8).astype(float)})
    labels.loc[::3, "violence"] = np.nan  # unlabelled rows still count for traffic
    ts = fit_thresholds(
        scores,
        labels,
        "precision>=0.9",
        review="recall>=0.95",
        daily_volume=20000,
        cv=0,
        bootstrap=0,
    )
    for c in ("violence", "hate"):
        ct = ts[c]
        assert ct.review is not None and ct.review <= ct.block
        col = scores[c]
        b = ct.bands
        assert b["block"] == pytest.approx((col >= ct.block).mean())
        assert b["review"] == pytest.approx(((col >= ct.review) & (col < ct.block)).mean())
        assert b["allow"] + b["review"] + b["block"] == pytest.approx(1)
    decided = ts.apply(scores)
    assert ts.bands["review"] == pytest.approx((decided["action"] == "review").mean())
    assert ts.bands["block"] == pytest.approx((decided["action"] == "block").mean())
    assert ts.review_per_day == pytest.approx(20000 * (decided["action"] == "review").mean())


def test_review_above_block_is_clamped():
    s, y = _synthetic(500, 9)
    ct = _fit_one(s, y, "recall>=0.5", review="precision>=0.99")
    assert ct.review_clamped and ct.review == ct.block


def test_per_category_objectives_and_errors():
    s, y = _synthetic(300, 1)
    scores = pd.DataFrame({"violence": s, "hate": s[::-1]})
    labels = pd.DataFrame({"violence": y, "hate": y[::-1]})
    ts = fit_thresholds(scores, labels, {"*": "f1", "hate": "fixed:0.3"}, cv=0, bootstrap=0)
    assert ts["hate"].block == 0.3 and ts["violence"].objective == "f1"
    with pytest.raises(modkit.InputError, match=r"no objective .*violence"):
        fit_thresholds(scores, labels, {"hate": "f1"}, cv=0)
    with pytest.raises(modkit.InputError, match="viol"):
        fit_thresholds(scores, labels, {"viol": "f1"}, cv=0)
    bad = labels.astype(object)
    bad.loc[17, "violence"] = 2
    with pytest.raises(modkit.InputError, match=r"row 17 column 'violence': label 2"):
        fit_thresholds(scores, bad, "f1")
    with pytest.raises(modkit.InputError, match=r"row 4 column 'hate': score 1.5"):
        fit_thresholds(scores.assign(hate=np.where(np.arange(300) == 4, 1.5, s)), labels, "f1")
    with pytest.raises(modkit.InputError, match="not in scores"):
        fit_thresholds(scores, labels.set_axis(range(1, 301)), "f1")
    with pytest.raises(modkit.InputError, match="confidence"):
        fit_thresholds(scores, labels, "f1", confidence=1.5)


def test_labels_sha256_is_the_canonical_csv():
    labels = pd.DataFrame({"violence": [1, 0, np.nan], "hate": [np.nan, 1, 0]})
    scores = pd.DataFrame({"violence": [0.1, 0.2, 0.3], "hate": [0.4, 0.5, 0.6]})
    ts = fit_thresholds(scores, labels, "fixed:0.5", cv=0, bootstrap=0)
    text = (
        labels[sorted(labels.columns)]
        .map(lambda v: "" if pd.isna(v) else str(int(v)))
        .to_csv(index=False, lineterminator="\n")
    )
    assert ts.labels_sha256 == hashlib.sha256(text.encode()).hexdigest()


def _true_precision(t, prev, pos, neg):
    tp = prev * stats.beta.sf(t, *pos)
    fp = (1 - prev) * stats.beta.sf(t, *neg)
    return tp / (tp + fp)


def test_confidence_keeps_the_precision_promise_on_the_true_distribution():
    """Scores ~ Beta(5,2) | positive, Beta(2,5) | negative, prevalence 0.3: precision at t
    is known in closed form. With confidence=0.9 the promise holds in >= 90% of runs."""
    rng = np.random.default_rng(2024)
    prev, pos, neg, target, n, reps = 0.3, (5, 2), (2, 5), 0.9, 1000, 200
    held = point_held = 0
    for _ in range(reps):
        y = (rng.random(n) < prev).astype(int)
        s = np.where(y == 1, rng.beta(*pos, n), rng.beta(*neg, n))
        ct = _fit_one(s, y, f"precision>={target}", confidence=0.9)
        held += ct.block is None or _true_precision(ct.block, prev, pos, neg) >= target
        pt = _fit_one(s, y, f"precision>={target}")
        point_held += pt.block is None or _true_precision(pt.block, prev, pos, neg) >= target
    assert held / reps >= 0.9
    assert point_held < held  # the point estimate alone breaks the promise far more often
