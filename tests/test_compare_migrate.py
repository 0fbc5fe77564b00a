"""Providers side by side and migration between them: properties on synthetic frames,
and end to end on the local fakes over real HTTP."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

import modkit
from modkit import (
    InputError,
    agreement,
    compare_providers,
    default_mapping,
    fit_migration,
    provider_decisions,
    provider_gaps,
)
from modkit._compare import kappa_from_counts
from modkit.backends import AzureContentSafetyBackend, PerspectiveBackend
from modkit.providers import PROVIDERS, crosswalk
from modkit.testing import AzureContentSafetyFake, PerspectiveFake


def _frame(scores: dict[str, np.ndarray], texts=None, flags=None, model="m") -> pd.DataFrame:
    n = len(next(iter(scores.values())))
    texts = texts if texts is not None else [f"t{i}" for i in range(n)]
    rows = []
    for i in range(n):
        cats = {c: bool(flags[c][i]) if flags else bool(v[i] >= 0.5) for c, v in scores.items()}
        rows.append(
            json.dumps(
                {
                    "flagged": any(cats.values()),
                    "categories": cats,
                    "category_scores": {c: float(v[i]) for c, v in scores.items()},
                }
            )
        )
    return pd.DataFrame({"text": texts, **scores, "model": model, "result_json": rows})


# ---------------------------------------------------------------- crosswalk


def test_crosswalk_covers_every_api_key_once_per_provider():
    table = crosswalk()
    assert set(table["relation"]) <= {"exact", "partial", "absent"}
    counts = table.groupby("provider")["api_key"].nunique()
    assert (counts == len(modkit.CATEGORIES)).all()
    for row in table.to_dict("records"):  # every named native category exists
        natives = [n for n in row["native"].split(" + ") if n]
        assert (row["relation"] == "absent") == (not natives)
        assert set(natives) <= set(PROVIDERS[row["provider"]].categories)


def test_scales_check_thresholds():
    eight = modkit.providers.provider_scale(
        "azure", "content-safety-2023-10-01:EightSeverityLevels"
    )
    four = modkit.providers.provider_scale("azure", "content-safety-2023-10-01:FourSeverityLevels")
    assert eight.levels == tuple(float(i) for i in range(8)) and four.levels == (0, 2, 4, 6)
    assert four.check_threshold(4) == 4.0
    with pytest.raises(InputError, match="not a level"):
        four.check_threshold(3)
    with pytest.raises(InputError, match="outside"):
        modkit.providers.provider_scale("perspective").check_threshold(1.5)
    assert modkit.providers.Scale.from_dict(four.to_dict()) == four


# ---------------------------------------------------------------- decisions and kappa


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=2, max_size=60))
def test_kappa_from_counts_is_sklearns(pairs):
    a, b = np.array(pairs).T
    n11, n10 = int(((a == 1) & (b == 1)).sum()), int(((a == 1) & (b == 0)).sum())
    n01, n00 = int(((a == 0) & (b == 1)).sum()), int(((a == 0) & (b == 0)).sum())
    k = kappa_from_counts(np.array([n11]), np.array([n10]), np.array([n01]), np.array([n00]))[0]
    if len(set(a) | set(b)) == 1:  # one value everywhere: chance agreement is 1
        assert np.isnan(k)
    else:
        assert k == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@settings(max_examples=40)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=30), st.floats(0.05, 0.95))
def test_decision_on_a_key_is_any_mapped_native_flag(values, thr):
    v = np.array(values)
    w = v[::-1].copy()
    frame = _frame({"INSULT": v, "TOXICITY": w, "THREAT": v})
    dec = provider_decisions(frame, thresholds={"INSULT": thr, "TOXICITY": thr, "THREAT": thr})
    # harassment <- INSULT + TOXICITY (partial): flagged when either is
    assert dec["harassment"].tolist() == ((v >= thr) | (w >= thr)).astype(float).tolist()
    assert dec["violence"].tolist() == (v >= thr).astype(float).tolist()
    assert "self-harm" not in dec  # absent for Perspective
    exact = provider_decisions(frame, thresholds={"INSULT": thr}, relations=["exact"])
    assert exact.shape[1] == 0  # Perspective maps nothing exactly


def test_compare_flag_rates_gaps_and_agreement():
    rng = np.random.default_rng(3)
    n = 200
    group = np.array(["a", "b"])[rng.integers(0, 2, n)]
    base = rng.random(n)
    p = _frame({"IDENTITY_ATTACK": base, "THREAT": base})
    p["group"] = group
    az_hate = np.clip(np.floor(base * 8) + (group == "b") * 2, 0, 7)  # flags b more often
    a = _frame({"Hate": az_hate, "Violence": np.floor(base * 8)})
    a["group"] = group
    results = {"perspective": p, "azure": a}
    thr = {
        "perspective": {"IDENTITY_ATTACK": 0.5, "THREAT": 0.5},
        "azure": {"Hate": 4, "Violence": 4},
    }
    table = compare_providers(results, "group", thresholds=thr)
    row = table[(table.provider == "azure") & (table.category == "hate") & (table.group == "b")]
    expect = (az_hate[group == "b"] >= 4).mean()
    assert row["flag_rate"].iloc[0] == pytest.approx(expect)
    gaps = provider_gaps(table)
    top = gaps[(gaps.category == "hate") & (gaps.group == "b")].iloc[0]
    assert top["most"] == "azure" and top["spread"] > 0
    agree = agreement(results, thresholds=thr, n_boot=300)
    viol = agree[agree.category == "violence"].iloc[0]
    x = (base >= 0.5).astype(int)
    y = (np.floor(base * 8) >= 4).astype(int)
    assert viol["kappa"] == pytest.approx(cohen_kappa_score(x, y))
    assert viol["kappa_low"] <= viol["kappa"] <= viol["kappa_high"]


def test_frames_of_different_texts_are_refused():
    a = _frame({"TOXICITY": np.array([0.1, 0.9])}, texts=["x", "y"])
    b = _frame({"Hate": np.array([0.0, 6.0])}, texts=["x", "z"])
    with pytest.raises(InputError, match="row 1 has another text"):
        agreement({"perspective": a, "azure": b})
    with pytest.raises(InputError, match="rows"):
        fit_migration(a, b.iloc[:1])


# ---------------------------------------------------------------- migration


@settings(max_examples=25)
@given(
    st.lists(st.floats(0, 0.999), min_size=20, max_size=80, unique=True),
    st.integers(1, 6),
    st.sampled_from(["EightSeverityLevels", "FourSeverityLevels"]),
)
def test_migration_reproduces_a_monotone_successor_exactly(values, level, output_type):
    v = np.array(values)
    eight = np.floor(v * 8)
    sev = eight if output_type == "EightSeverityLevels" else (eight // 2) * 2
    levels = sorted(set(sev))
    cut = levels[min(level, len(levels) - 1)]
    src = _frame({"IDENTITY_ATTACK": v})
    src_thr = {"IDENTITY_ATTACK": float(v[sev >= cut].min())}  # A flags exactly sev >= cut
    tgt = _frame({"Hate": sev}, model=f"content-safety-2023-10-01:{output_type}")
    m = fit_migration(src, tgt, source_thresholds=src_thr, mapping={"Hate": "IDENTITY_ATTACK"})
    thr = m.thresholds["Hate"]
    if sev.min() == sev.max() or cut == sev.min():
        return  # A flags all or nothing: nothing to learn
    assert thr == cut and thr in m.scale.levels
    assert m.diff.empty
    # Out of fold the cut is learnt without the held-out rows; with 20-80 rows a fold can hold
    # most rows of the levels next to the cut, so a few of those may land on the other side.
    near = np.isin(sev, [lv for lv in levels if abs(levels.index(lv) - levels.index(cut)) <= 1])
    assert m.report["agreement"].iloc[0] >= 1 - near.mean()


def test_default_mapping_prefers_the_strongest_pairs():
    mapping = default_mapping("perspective", "azure")
    assert mapping["Hate"] == "IDENTITY_ATTACK" and mapping["Violence"] == "THREAT"
    assert "SelfHarm" not in mapping  # Perspective measures no self-harm


def test_perspective_to_azure_migration_end_to_end(tmp_path):
    prompts = modkit.expand(
        "I {verb: hate|love|will hurt|met|want to kill} {group: women|men|Jews|Muslims|bakers}"
        " {tail: today|again|now|at the shop}."
    )
    with PerspectiveFake(api_key="p") as pf, AzureContentSafetyFake(api_key="a") as af:
        with PerspectiveBackend(base_url=pf.url, api_key="p") as pb:
            old = modkit.moderate(prompts, backend=pb, cache=None, progress=False)
        with AzureContentSafetyBackend(af.url, api_key="a") as ab:
            new = modkit.moderate(prompts, backend=ab, cache=None, progress=False)
    assert modkit.category_columns(new) == ["Hate", "SelfHarm", "Sexual", "Violence"]
    assert "IDENTITY_ATTACK" in modkit.category_columns(old)
    by_group = modkit.crosstab(new, "group", stat="mean")  # analysis works on native columns
    assert by_group.loc["Jews", "Hate"] == pytest.approx(
        new.loc[new.group == "Jews", "Hate"].mean()
    )
    m = fit_migration(old, new, source_thresholds={"IDENTITY_ATTACK": 0.5, "THREAT": 0.5})
    assert m.source == "perspective" and m.target == "azure"
    assert set(m.thresholds) == {"Hate", "Violence"}
    assert all(t in m.scale.levels for t in m.thresholds.values() if t is not None)
    assert (m.report["kappa"] > 0.5).all()  # the fakes share a harm signal
    # the diff lists exactly the rows where the decisions differ
    for r in m.diff.to_dict("records"):
        s = float(old.loc[r["row"], r["source_category"]] >= 0.5)
        t = float(new.loc[r["row"], r["target_category"]] >= m.thresholds[r["target_category"]])
        assert s == r["source"] and t == r["target"] and s != t
    assert "reproduces IDENTITY_ATTACK" in m.summary()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=10, max_size=60), st.floats(0.05, 0.95))
def test_migration_decides_with_the_one_rule(values, cut):
    """Report rate and diff follow score >= threshold, as crosstab's flag_rate does."""
    v = np.array(values)
    src = _frame({"IDENTITY_ATTACK": v})
    tgt = _frame({"TOXICITY": np.round(v, 1)})
    m = fit_migration(
        src,
        tgt,
        source_thresholds={"IDENTITY_ATTACK": cut},
        mapping={"TOXICITY": "IDENTITY_ATTACK"},
    )
    thr = m.thresholds["TOXICITY"]
    rate = m.report["target_rate"].iloc[0]
    if thr is None:
        assert rate == 0.0
        return
    tgt["all"] = "all"
    expected = modkit.crosstab(tgt, "all", "flag_rate", thresholds={"TOXICITY": thr})
    assert rate == pytest.approx(expected.loc["all", "TOXICITY"])
    assert set(m.diff["target"]) <= {0, 1}


def test_provider_thresholds_go_through_the_one_converter(tmp_path):
    azure = pd.DataFrame(
        {"Hate": [0, 4, 2, 6], "Violence": [0, 2, 6, 0], "SelfHarm": 0, "Sexual": 0}
    )
    by_map = modkit.provider_decisions(azure, thresholds={"Hate": 4, "Violence": 4})
    ts = modkit.ThresholdSet.from_thresholds({"Hate": 4, "Violence": 4}, provider="azure")
    path = ts.save(tmp_path / "azure.json")
    for spec in (ts, path, str(path)):
        pd.testing.assert_frame_equal(modkit.provider_decisions(azure, thresholds=spec), by_map)
    with pytest.raises(modkit.InputError, match="Hatred"):  # a misspelt key is named
        modkit.provider_decisions(azure, thresholds={"Hatred": 4})
    with pytest.raises(modkit.InputError, match="not a level"):  # off the severity scale
        modkit.provider_decisions(azure, thresholds={"Hate": 4.5})
