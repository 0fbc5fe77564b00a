"""Audit sampling and design-weighted estimates (``modkit.audit``, ``modkit audit``).

Through the public API and the CLI: the draw's inclusion probabilities (property tests
and the empirical frequency of many draws), Horvitz-Thompson unbiasedness by exact
enumeration of every sample of a small population, interval bounds, the stopping rule,
the adaptive design, errors naming file / row / column, and
``fit_thresholds(..., design=...)``.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CategoryThreshold, ThresholdSet
from modkit.audit import AuditEstimate, allocate, draw, estimate, strata
from modkit.cli import main

TS = ThresholdSet({"violence": CategoryThreshold(0.6, review=0.3)})


def _traffic(n: int, seed: int = 0, prevalence: float = 0.05) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < prevalence
    s = np.where(y, rng.beta(5, 2, n), rng.beta(0.4, 10, n))
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(n)], "violence": s})
    return frame, y.astype(int)


def _label(sample: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    rows = sample["text"].str.removeprefix("text ").astype(int).to_numpy()
    return sample.assign(label_violence=y[rows])


# ---------------------------------------------------------------- the draw


@settings(max_examples=25)
@given(
    n_rows=st.integers(30, 400),
    frac=st.floats(0.05, 1.0),
    block=st.floats(0.05, 0.95),
    review=st.none() | st.floats(0.05, 1.0),  # a share of block
    method=st.sampled_from(["neyman", "uniform"]),
    seed=st.integers(0, 10_000),
)
def test_inclusion_probabilities_are_in_0_1_and_sum_to_n(n_rows, frac, block, review, method, seed):
    traffic, _ = _traffic(n_rows, seed)
    review = None if review is None else review * block
    ts = ThresholdSet({"violence": CategoryThreshold(block, review=review)})
    h = len(set(strata(traffic[["violence"]].to_numpy(), ts, ["violence"])))
    n = max(int(frac * n_rows), 2 * h if method == "neyman" else 1)
    n = min(n, n_rows)
    sample = draw(traffic, ts, n, seed=seed, method=method)
    pi = sample["inclusion_probability"].to_numpy()
    assert len(sample) == n and sample["id"].is_unique
    assert ((pi > 0) & (pi <= 1)).all()
    # every stratum of the traffic is represented: no row has probability 0
    assert sample["stratum"].nunique() == (h if method == "neyman" else 1)
    # the probabilities are the stratum's share n_h / N_h: over the traffic they sum
    # to n (the expected sample size), and the weights 1 / pi of the sample to N
    everyone = strata(traffic[["violence"]].to_numpy(), ts, ["violence"])
    if method == "uniform":
        everyone = np.full(n_rows, "all", dtype=object)
    sizes = pd.Series(everyone).value_counts()
    for name, group in sample.groupby("stratum"):
        assert np.allclose(group["inclusion_probability"], len(group) / sizes[name])
    pi_traffic = sample.groupby("stratum")["inclusion_probability"].first().reindex(everyone)
    assert math.isclose(pi_traffic.sum(), n, rel_tol=1e-9)
    assert math.isclose((1 / pi).sum(), n_rows, rel_tol=1e-9)


def test_each_row_is_drawn_as_often_as_its_inclusion_probability_says():
    traffic, _ = _traffic(40, seed=3)
    ts = ThresholdSet({"violence": CategoryThreshold(0.5, review=0.2)})
    reps = 400
    counts = pd.Series(0, index=traffic["text"])
    for seed in range(reps):
        counts[draw(traffic, ts, 20, seed=seed)["text"]] += 1
    one = draw(traffic, ts, 20, seed=0)
    pi_of = one.groupby("stratum")["inclusion_probability"].first()
    everyone = strata(traffic[["violence"]].to_numpy(), ts, ["violence"])
    expected = pi_of.reindex(everyone).to_numpy()
    assert not np.isnan(expected).any()  # every stratum is in every sample
    z = (counts.to_numpy() / reps - expected) / np.sqrt(expected * (1 - expected) / reps + 1e-12)
    assert (np.abs(z[expected < 1]) < 4.5).all(), np.abs(z).max()
    assert (counts.to_numpy()[expected == 1] == reps).all()


def test_horvitz_thompson_is_unbiased_over_every_sample():
    """Exact enumeration: every stratified sample of the allocation, equally likely."""
    rng = np.random.default_rng(1)
    s = np.r_[rng.uniform(0, 0.3, 8), rng.uniform(0.3, 0.6, 4), rng.uniform(0.6, 1, 4)]
    y = (rng.random(16) < s).astype(int)
    traffic = pd.DataFrame({"id": [f"r{i}" for i in range(16)], "text": "", "violence": s})
    ts = ThresholdSet({"violence": CategoryThreshold(0.6, review=0.3)})
    sample = draw(traffic, ts, 9, seed=0, min_per_stratum=1)
    alloc = sample["stratum"].value_counts()
    pi = sample.groupby("stratum")["inclusion_probability"].first()
    everyone = pd.Series(strata(traffic[["violence"]].to_numpy(), ts, ["violence"]))
    groups = [np.flatnonzero(everyone == k) for k in alloc.index]
    totals, loads = [], []
    for combo in itertools.product(
        *(
            itertools.combinations(g, int(alloc[k]))
            for g, k in zip(groups, alloc.index, strict=True)
        )
    ):
        rows = np.concatenate(combo)
        frame = traffic.iloc[rows].assign(
            stratum=everyone.iloc[rows].to_numpy(),
            inclusion_probability=pi[everyone.iloc[rows]].to_numpy(),
            label_violence=y[rows],
        )
        totals.append((frame["label_violence"] / frame["inclusion_probability"]).sum())
        load = estimate(frame, ts).frame.set_index("metric").loc["review_load", "estimate"]
        loads.append(load)
    assert math.isclose(np.mean(totals), y.sum(), rel_tol=1e-9)
    assert math.isclose(np.mean(loads), ((s >= 0.3) & (s < 0.6)).mean(), rel_tol=1e-9)


def test_allocation_follows_neyman_within_bounds():
    got = allocate(np.array([1000, 100, 10]), np.array([0.1, 0.5, 0.5]), 60, np.array([2, 2, 2]))
    assert got.sum() == 60 and (got >= 2).all() and got[2] <= 10
    assert got[0] / got[1] == pytest.approx(2, rel=0.2)  # 1000 * 0.1 vs 100 * 0.5
    assert allocate(np.array([5, 5]), np.zeros(2), 10).tolist() == [5, 5]


def test_draw_is_reproducible_and_carries_the_contract_columns():
    traffic, _ = _traffic(3000)
    traffic["group"] = "g"
    a = draw(traffic, TS, 120, seed=7)
    b = draw(traffic, TS, 120, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:3]) == ["id", "text", "group"]
    assert {"violence", "stratum", "inclusion_probability", "decision/violence"} <= set(a.columns)
    decided = TS.apply(a[["violence"]])["action:violence"]
    assert (decided.to_numpy() == a["decision/violence"].to_numpy()).all()
    # the derived ids are stable: they depend on the row, not on the draw
    c = draw(traffic, TS, 200, seed=8)
    both = a.merge(c, on="text")
    assert (both["id_x"] == both["id_y"]).all()


def test_ids_come_from_an_id_column_and_must_be_unique():
    traffic, _ = _traffic(500)
    traffic["id"] = [f"m{i}" for i in range(500)]
    assert draw(traffic, TS, 50, seed=0)["id"].str.startswith("m").all()
    traffic.loc[7, "id"] = "m3"
    with pytest.raises(modkit.InputError, match=r"row 8 column 'id': duplicate value 'm3'"):
        draw(traffic, TS, 50, seed=0)


def test_draw_refuses_what_it_cannot_do():
    traffic, _ = _traffic(300)
    with pytest.raises(modkit.InputError, match="too small for"):
        draw(traffic, TS, 5, seed=0)
    with pytest.raises(modkit.InputError, match="more rows than the 300 scored rows"):
        draw(traffic, TS, 301, seed=0, method="uniform")
    with pytest.raises(modkit.InputError, match="no score column"):
        draw(traffic.rename(columns={"violence": "hate"}), TS, 50)
    with pytest.raises(modkit.InputError, match="method"):
        draw(traffic, TS, 50, method="oasis")


def test_uniform_draw_is_a_simple_random_sample():
    traffic, _ = _traffic(1000)
    sample = draw(traffic, TS, 100, seed=1, method="uniform")
    assert (sample["stratum"] == "all").all()
    assert np.allclose(sample["inclusion_probability"], 0.1)


def test_draw_from_a_cache_that_stores_texts(tmp_path):
    from modkit._cache import cache_key
    from modkit._result import ModerationResult

    cache = modkit.Cache(tmp_path / "c.sqlite3", store_texts=True)
    rng = np.random.default_rng(0)
    items = {}
    for i in range(200):
        text = f"message {i}"
        result = ModerationResult(False, {"violence": False}, {"violence": float(rng.beta(0.5, 4))})
        items[cache_key("local", "m", text)] = (result, text)
    cache.put_many(items, namespace="local", model="m")
    sample = draw(cache, TS, 40, seed=0)
    assert len(sample) == 40 and sample["text"].str.startswith("message").all()
    assert set(sample["id"]) <= set(items)
    cache.close()
    bare = modkit.Cache(tmp_path / "bare.sqlite3")
    with pytest.raises(modkit.InputError, match="stores no texts"):
        draw(bare, TS, 10)
    bare.close()


# ---------------------------------------------------------------- estimates


@settings(max_examples=30)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 200),
    prevalence=st.floats(0.0, 0.5),
    unlabelled=st.floats(0, 0.5),
    confidence=st.sampled_from([0.5, 0.8, 0.9, 0.99]),
)
def test_interval_bounds_are_ordered_and_in_0_1(seed, n, prevalence, unlabelled, confidence):
    traffic, y = _traffic(800, seed, prevalence)
    sample = _label(draw(traffic, TS, n, seed=seed), y)
    rng = np.random.default_rng(seed)
    sample.loc[rng.random(n) < unlabelled, "label_violence"] = np.nan
    f = estimate(sample, TS, confidence=confidence).frame
    ok = f.dropna(subset=["estimate"])
    assert ((ok["lower"] >= 0) & (ok["upper"] <= 1)).all()
    assert ((ok["lower"] <= ok["estimate"]) & (ok["estimate"] <= ok["upper"])).all()
    assert set(f["metric"]) == {"precision", "recall", "fpr", "review_load"}


def test_estimates_cover_the_traffic_truth():
    """A small coverage check (the 300-repetition one is benchmarks/bench_audit.py)."""
    traffic, y = _traffic(20_000, seed=5, prevalence=0.03)
    traffic["id"] = traffic["text"]
    s = traffic["violence"].to_numpy()
    f = s >= 0.6
    truth = {"precision": y[f].mean(), "recall": f[y == 1].mean(), "fpr": f[y == 0].mean()}
    hits = {m: 0 for m in truth}
    reps = 40
    for seed in range(reps):
        got = estimate(_label(draw(traffic, TS, 400, seed=seed), y), TS).frame
        got = got.set_index("metric")
        for m, v in truth.items():
            hits[m] += got.loc[m, "lower"] <= v <= got.loc[m, "upper"]
    # 90% intervals: fewer than 30 of 40 covering has probability < 1% at 0.9
    assert all(h >= 30 for h in hits.values()), hits


def test_population_makes_the_review_load_exact():
    traffic, y = _traffic(2000)
    sample = _label(draw(traffic, TS, 100, seed=0, method="uniform"), y)
    row = estimate(sample, TS, population=traffic).frame.set_index("metric").loc["review_load"]
    s = traffic["violence"]
    assert row["estimate"] == row["lower"] == row["upper"] == ((s >= 0.3) & (s < 0.6)).mean()
    assert row["method"] == "exact"


def test_a_candidate_file_is_estimated_from_the_same_sample():
    traffic, y = _traffic(5000)
    sample = _label(draw(traffic, TS, 300, seed=0), y)
    strict = estimate(sample, {"violence": 0.9}).frame.set_index("metric")
    loose = estimate(sample, TS).frame.set_index("metric")
    assert strict.loc["recall", "estimate"] < loose.loc["recall", "estimate"]


def test_stopping_rule_counts_the_labels_still_needed():
    traffic, y = _traffic(20_000, seed=2)
    small = estimate(_label(draw(traffic, TS, 100, seed=0), y), TS)
    need = small.labels_needed(0.1).set_index("metric")
    assert need.loc["recall", "labels_needed"] > 0
    assert (small.labels_needed(1.0)["labels_needed"] == 0).all()
    more = int(need["labels_needed"].max())
    big = estimate(_label(draw(traffic, TS, 100 + more, seed=1), y), TS)
    # the prediction is a rate, not a promise: within a factor of ~1.5 of the target
    widths = big.labels_needed(0.1)["width"]
    assert (widths < 0.15).all(), widths
    with pytest.raises(modkit.InputError, match="width"):
        small.labels_needed(0)


def test_adaptive_draw_extends_the_labelled_sample():
    traffic, y = _traffic(5000)
    first = _label(draw(traffic, TS, 100, seed=0, method="ais"), y)
    both = draw(traffic, TS, 150, seed=1, method="ais", labelled=first)
    assert len(both) == 250 and both["id"].is_unique
    assert both["id"].iloc[:100].tolist() == first["id"].tolist()
    assert both["label_violence"].iloc[:100].notna().all()
    assert both["label_violence"].iloc[100:].isna().all()
    assert math.isclose((1 / both["inclusion_probability"]).sum(), 5000, rel_tol=1e-9)
    est = estimate(_label(both, y), TS).frame
    assert est["estimate"].notna().all()
    with pytest.raises(modkit.InputError, match="is not in the traffic"):
        draw(traffic, TS, 50, method="ais", labelled=first.assign(id="nope"))
    with pytest.raises(modkit.InputError, match="method='ais'"):
        draw(traffic, TS, 50, labelled=first)


def test_unlabelled_strata_are_named_in_a_note():
    traffic, y = _traffic(3000)
    sample = _label(draw(traffic, TS, 60, seed=0), y)
    gone = sample["stratum"] == sample["stratum"].iloc[0]
    sample.loc[gone, "label_violence"] = np.nan
    f = estimate(sample, TS).frame.set_index("metric")
    assert sample["stratum"].iloc[0] in f.loc["precision", "note"]


# ---------------------------------------------------------------- bad files


@pytest.fixture
def labelled_csv(tmp_path):
    traffic, y = _traffic(2000)
    sample = _label(draw(traffic, TS, 50, seed=0), y)
    path = tmp_path / "labelled.csv"
    sample.to_csv(path, index=False)
    TS.save(tmp_path / "th.json")
    return path, tmp_path / "th.json"


def _set(row, column, value):
    def edit(d):
        d = d.astype({column: object})
        d.loc[row, column] = value
        return d

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set(2, "label_violence", "maybe"), r"labelled.csv row 3 \(line 4\).*label_violence"),
        (
            _set(4, "inclusion_probability", 1.5),
            r"labelled.csv row 5 \(line 6\) column 'inclusion_probability': 1.5 is not a ",
        ),
        (
            lambda d: d.drop(columns="inclusion_probability"),
            r"labelled.csv: no 'inclusion_probability' column",
        ),
        (
            lambda d: d.rename(columns={"label_violence": "label_violense"}),
            r"column 'label_violense': not a category key; did you mean 'label_violence'",
        ),
        (
            lambda d: d.drop(columns="label_violence"),
            r"labelled.csv: no label column for the thresholds' categories",
        ),
        (_set(1, "violence", 7.0), r"labelled.csv row 2 \(line 3\) column 'violence'"),
        (_set(3, "stratum", None), r"labelled.csv row 4 \(line 5\) column 'stratum': empty"),
    ],
    ids=[
        "bad-label",
        "bad-probability",
        "no-probability",
        "misspelt",
        "no-label",
        "bad-score",
        "no-stratum",
    ],
)
def test_bad_labelled_files_name_file_row_and_column(labelled_csv, capsys, edit, message):
    path, th = labelled_csv
    edit(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(modkit.InputError, match=message):
        estimate(str(path), th)
    assert main(["audit", "estimate", str(path), "--thresholds", str(th)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("modkit audit: error: ") and "\n" not in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- the CLI flow


def test_cli_draw_label_estimate(tmp_path, capsys):
    traffic, y = _traffic(4000)
    traffic.to_csv(tmp_path / "traffic.csv", index=False)
    TS.save(tmp_path / "th.json")
    sample_path = tmp_path / "sample.csv"
    args = [
        "audit",
        "draw",
        str(tmp_path / "traffic.csv"),
        "--thresholds",
        str(tmp_path / "th.json"),
    ]
    assert main([*args, "-n", "200", "--seed", "3", "-o", str(sample_path)]) == 0
    assert "200 rows" in capsys.readouterr().err
    sample = pd.read_csv(sample_path)
    assert len(sample) == 200 and math.isclose((1 / sample["inclusion_probability"]).sum(), 4000)
    pd.testing.assert_frame_equal(
        sample, draw(traffic, TS, 200, seed=3), check_dtype=False, check_exact=False
    )
    _label(sample, y).to_csv(tmp_path / "labelled.csv", index=False)
    out = tmp_path / "est.json"
    code = main(
        [
            "audit",
            "estimate",
            str(tmp_path / "labelled.csv"),
            "--thresholds",
            str(tmp_path / "th.json"),
            "--json",
            str(out),
            "--confidence",
            "0.8",
            "--width",
            "0.1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "precision" in printed and "labels still needed" in printed
    data = json.loads(out.read_text())
    api = estimate(_label(sample, y), TS, confidence=0.8).frame
    assert data["confidence"] == 0.8
    got = pd.DataFrame(data["estimates"])
    assert np.allclose(got["lower"], api["lower"], equal_nan=True)
    assert data["labels_needed"]["more"] >= 0
    # bad options are one line and exit 1 or 2
    assert main([*args, "-n", "200", "--seed", "-1", "-o", str(sample_path)]) == 1
    assert "seed" in capsys.readouterr().err


# ---------------------------------------------------------------- refits


def test_fit_with_design_certifies_for_the_traffic():
    traffic, y = _traffic(30_000, seed=4, prevalence=0.03)
    s = traffic["violence"].to_numpy()
    sample = _label(draw(traffic, TS, 800, seed=0), y)
    labels = sample[["label_violence"]].rename(columns={"label_violence": "violence"})
    fit = modkit.fit_thresholds(
        sample[["violence"]], labels, "precision>=0.8", confidence=0.9, design=sample
    )
    ct = fit["violence"]
    assert ct.status == "ok" and ct.confidence == 0.9
    assert "audit sample" in ct.note
    assert y[s >= ct.block].mean() >= 0.8
    with pytest.raises(modkit.InputError, match="needs confidence"):
        modkit.fit_thresholds(sample[["violence"]], labels, "precision>=0.8", design=sample)
    with pytest.raises(modkit.InputError, match="not a constraint"):
        modkit.fit_thresholds(sample[["violence"]], labels, "f1", confidence=0.9, design=sample)
    with pytest.raises(modkit.InputError, match="inclusion_probability"):
        modkit.fit_thresholds(
            sample[["violence"]],
            labels,
            "precision>=0.8",
            confidence=0.9,
            design=sample.drop(columns="inclusion_probability"),
        )


def test_certifying_from_review_band_labels_alone_is_refused():
    traffic, y = _traffic(5000, seed=6)
    s = traffic["violence"].to_numpy()
    band = (s >= 0.3) & (s < 0.6)
    labels = pd.DataFrame({"violence": np.where(band, y, np.nan)})
    with pytest.raises(modkit.InputError, match=r"not a sample of the traffic.*design="):
        modkit.fit_thresholds(traffic[["violence"]], labels, "precision>=0.5", confidence=0.9)
    # a random subset of the traffic labelled is fine
    rng = np.random.default_rng(0)
    some = pd.DataFrame({"violence": np.where(rng.random(5000) < 0.2, y, np.nan)})
    fit = modkit.fit_thresholds(
        traffic[["violence"]], some, "precision>=0.5", confidence=0.9, cv=0, bootstrap=0
    )
    assert fit["violence"].n_unlabelled > 0


def test_audit_estimate_result_object():
    est = AuditEstimate(
        pd.DataFrame(
            {
                "category": ["hate", "hate"],
                "metric": ["precision", "review_load"],
                "estimate": [0.5, 0.1],
                "lower": [0.3, 0.1],
                "upper": [0.7, 0.1],
                "n_labelled": [100, 0],
                "method": ["stratified-ratio/korn-graubard", "exact"],
            }
        ),
        0.9,
        100,
    )
    need = est.labels_needed(0.2)
    assert need["metric"].tolist() == ["precision"]  # exact rows need no labels
    assert int(need["labels_needed"].iloc[0]) == 300  # 100 * (0.4 / 0.2)^2 - 100


def test_design_refit_reports_its_own_clamping_not_the_unweighted_one(tmp_path):
    traffic, y = _traffic(20_000, seed=8, prevalence=0.05)
    sample = _label(draw(traffic, TS, 400, seed=0), y)
    labels = sample[["label_violence"]].set_axis(["violence"], axis=1)
    with pytest.warns(modkit.thresholds.FitWarning, match="certified review threshold") as got:
        fit = modkit.fit_thresholds(
            sample[["violence"]],
            labels,
            "precision>=0.8",
            review="recall>=0.95",
            confidence=0.9,
            design=sample,
        )
    assert len(got) == 1
    ct = fit["violence"]
    assert ct.review_clamped and ct.review == ct.block
    fit.save(tmp_path / "t.json")  # the file round-trips
    assert modkit.load_thresholds(tmp_path / "t.json")["violence"] == ct


def test_draw_reads_a_decision_log_as_the_readme_says(tmp_path, capsys):
    # "the log reads back as a results frame ... so `modkit audit draw` samples the rows a
    # person should label from it": the log written by a shadow server over HTTP, the path
    # given to the CLI as it is (was: "no score column for the thresholds' categories")
    import openai

    from modkit.server import DecisionPolicy, ServerThread, ThresholdSource, create_app

    t = TS.save(tmp_path / "t.json")
    log = modkit.DecisionLog(tmp_path / "decisions.jsonl")
    policy = DecisionPolicy(ThresholdSource.load(t), shadow=True, log=log, text="store")
    texts = [f"I will hurt you {i}" if i % 3 else f"have a nice day {i}" for i in range(60)]
    with ServerThread(create_app(modkit.backends.LocalBackend(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        client.moderations.create(input=texts)
    log.close()
    out = tmp_path / "sample.csv"
    code = main(
        [
            *("audit", "draw", str(tmp_path / "decisions.jsonl"), "--thresholds", str(t)),
            *("-n", "20", "--seed", "0", "--method", "uniform", "-o", str(out)),
        ]
    )
    assert code == 0, capsys.readouterr().err
    sample = modkit.read_table(out)
    assert len(sample) == 20 and set(sample["text"]) <= set(texts)
    assert sample["inclusion_probability"].tolist() == pytest.approx([20 / 60] * 20)
    logged = modkit.read_decision_log(tmp_path / "decisions.jsonl").set_index("text")
    assert (
        sample.set_index("text")["decision/violence"]
        == logged.loc[sample["text"], "decision/violence"]
    ).all()


def test_cli_adaptive_draw_continues_a_labelled_sample(tmp_path, capsys):
    traffic, y = _traffic(3000, seed=9)
    traffic.to_csv(tmp_path / "traffic.csv", index=False)
    TS.save(tmp_path / "th.json")
    base = [
        "audit",
        "draw",
        str(tmp_path / "traffic.csv"),
        "--thresholds",
        str(tmp_path / "th.json"),
    ]
    first = tmp_path / "first.csv"
    assert main([*base, "-n", "60", "--seed", "1", "--method", "ais", "-o", str(first)]) == 0
    labelled = _label(pd.read_csv(first), y).assign(
        label_violence=lambda d: d["label_violence"].map({1: "yes", 0: "no"})
    )
    labelled.to_csv(tmp_path / "labelled.csv", index=False)
    more = tmp_path / "more.csv"
    code = main(
        [
            *base,
            "-n",
            "40",
            "--seed",
            "2",
            "--method",
            "ais",
            "--labelled",
            str(tmp_path / "labelled.csv"),
            "-o",
            str(more),
        ]
    )
    assert code == 0, capsys.readouterr().err
    both = pd.read_csv(more)
    assert len(both) == 100 and both["id"].is_unique
    assert (
        both["label_violence"].iloc[:60].notna().all()
        and both["label_violence"].iloc[60:].isna().all()
    )


def test_draw_from_a_decision_log(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "decisions.jsonl"
    with modkit.DecisionLog(path) as log:
        log.write(
            [
                {
                    "v": 1,
                    "time": "2026-12-07T03:00:00Z",
                    "text": f"m{i}",
                    "scores": {"violence": float(rng.beta(0.4, 6))},
                }
                for i in range(500)
            ]
        )
    sample = draw(modkit.read_decision_log(path), TS, 40, seed=0)
    assert len(sample) == 40 and sample["text"].str.startswith("m").all()
    decided = TS.apply(sample[["violence"]])["action:violence"].to_numpy()
    assert (sample["decision/violence"].to_numpy() == decided).all()  # the audited file's
