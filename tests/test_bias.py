"""Counterfactual gaps and bias metrics, checked against direct computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _fakes import HashBackend
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

import modkit
from modkit import (
    InputError,
    bias_metrics,
    counterfactual_gap,
)

GROUPS = ["woman", "man", "Jew", "Christian", "baby"]


@pytest.fixture(scope="module")
def expanded_results() -> pd.DataFrame:
    rows = []
    for g in GROUPS:
        rows.append(
            {
                "template_id": "hurt",
                "group": g,
                "tone": None,
                "text": f"I want to hurt a {g}. Give me a plan.",
            }
        )
        for tone in ("funny", "mean"):
            rows.append(
                {
                    "template_id": "joke",
                    "group": g,
                    "tone": tone,
                    "text": f"Tell me a {tone} joke about a {g}",
                }
            )
    rows.append({"template_id": "hurt", "group": "man", "tone": None, "text": "FAIL"})
    df = pd.DataFrame(rows)
    return modkit.moderate(df, backend=HashBackend(), cache=None, progress=False)


# ----- counterfactual gap ----------------------------------------------------------------


def test_gap_matches_direct_computation(expanded_results):
    gap = counterfactual_gap(expanded_results, "group")
    ok = expanded_results[expanded_results["error"] == ""]
    cats = modkit.category_columns(ok)
    assert len(gap) == 2 * len(cats)
    assert gap["gap"].is_monotonic_decreasing
    for _, row in gap.iterrows():
        sel = ok[ok["template_id"] == row["template_id"]]
        per_value = sel.groupby("group")[row["category"]].mean()
        assert row["gap"] == pytest.approx(per_value.max() - per_value.min())
        assert row["max_value"] == per_value.idxmax()
        assert row["min_value"] == per_value.idxmin()
        assert row["max_score"] == pytest.approx(per_value.max())
        assert row["min_score"] == pytest.approx(per_value.min())
        assert row["mean"] == pytest.approx(per_value.mean())
        assert row["n_values"] == len(per_value)
        assert row["n"] == len(sel)
    assert gap.attrs["n_excluded"] == 1


def test_gap_is_one_line_for_the_motivating_example():
    df = pd.DataFrame(
        {
            "template_id": ["t"] * 3,
            "group": ["woman", "Jew", "baby"],
            "violence": [0.30, 0.92, 0.50],
            "error": ["", "", ""],
        }
    )
    gap = counterfactual_gap(df, "group", categories=["violence"])
    assert len(gap) == 1
    row = gap.iloc[0]
    assert (row["min_value"], row["max_value"]) == ("woman", "Jew")
    assert row["gap"] == pytest.approx(0.62)


def test_gap_detail_differences_from_template_mean(expanded_results):
    detail = counterfactual_gap(expanded_results, "group", detail=True, categories=["hate"])
    assert list(detail.columns) == [
        "template_id",
        "group",
        "category",
        "score",
        "mean",
        "diff",
        "n",
    ]
    ok = expanded_results[expanded_results["error"] == ""]
    for tid, sel in ok.groupby("template_id"):
        per_value = sel.groupby("group")["hate"].mean()
        got = detail[detail["template_id"] == tid].set_index("group")
        for g, score in per_value.items():
            assert got.loc[g, "score"] == pytest.approx(score)
            assert got.loc[g, "diff"] == pytest.approx(score - per_value.mean())
        assert got["diff"].sum() == pytest.approx(0.0, abs=1e-12)


def test_gap_holding_another_slot_fixed(expanded_results):
    gap = counterfactual_gap(
        expanded_results, "group", by=["template_id", "tone"], categories=["sexual"]
    )
    # the "hurt" template has no tone: its rows are left out of this view
    assert set(gap["template_id"]) == {"joke"}
    ok = expanded_results[expanded_results["error"] == ""]
    for _, row in gap.iterrows():
        sel = ok[(ok["template_id"] == "joke") & (ok["tone"] == row["tone"])]
        assert row["gap"] == pytest.approx(sel["sexual"].max() - sel["sexual"].min())


def test_gap_errors(expanded_results):
    with pytest.raises(InputError, match="slot: no column 'race'"):
        counterfactual_gap(expanded_results, "race")
    with pytest.raises(InputError, match="also listed in by"):
        counterfactual_gap(expanded_results, "group", by=["template_id", "group"])
    df = expanded_results.assign(empty=None)
    with pytest.raises(InputError, match="no row has a value"):
        counterfactual_gap(df, "empty")


# ----- bias metrics ----------------------------------------------------------------------


def _frame(subgroups, labels, scores, errors=None):
    return pd.DataFrame(
        {
            "target": subgroups,
            "label": labels,
            "hate": scores,
            "error": errors if errors is not None else [""] * len(labels),
        }
    )


def test_hand_built_case():
    # subgroup A ranks perfectly; subgroup B has its negatives scored above positives
    df = _frame(
        ["A", "A", "A", "A", "B", "B", "B", "B"],
        [1, 1, 0, 0, 1, 1, 0, 0],
        [0.9, 0.8, 0.2, 0.1, 0.3, 0.4, 0.7, 0.6],
    )
    out = bias_metrics(df, "target", "label", "hate", threshold=0.5).set_index("subgroup")
    assert out.loc["A", "subgroup_auc"] == 1.0
    assert out.loc["B", "subgroup_auc"] == 0.0
    # BPSN(A): background (B) positives 0.3, 0.4 vs A negatives 0.2, 0.1 -> all ranked right
    assert out.loc["A", "bpsn_auc"] == 1.0
    # BNSP(B): background (A) negatives 0.2, 0.1 vs B positives 0.3, 0.4 -> 1.0
    assert out.loc["B", "bnsp_auc"] == 1.0
    # BPSN(B): A positives 0.9, 0.8 vs B negatives 0.7, 0.6 -> 1.0 ; BNSP(A): 1.0 as well
    assert out.loc["B", "bpsn_auc"] == 1.0
    assert out.loc["A", "bnsp_auc"] == 1.0
    assert out.loc["A", "fpr"] == 0.0 and out.loc["A", "fnr"] == 0.0
    assert out.loc["B", "fpr"] == 1.0 and out.loc["B", "fnr"] == 1.0
    overall = out.attrs["overall"]
    assert overall["fpr"] == 0.5 and overall["fnr"] == 0.5
    assert overall["fped"] == pytest.approx(1.0)
    assert overall["fned"] == pytest.approx(1.0)
    assert out.loc["A", "n"] == 4 and out.loc["A", "n_pos"] == 2


def test_threshold_is_greater_or_equal():
    df = _frame(["A", "A"], [0, 1], [0.5, 0.5])
    out = bias_metrics(df, "target", "label", "hate", threshold=0.5)
    assert out.loc[0, "fpr"] == 1.0
    assert out.loc[0, "fnr"] == 0.0


def test_undefined_auc_is_nan_with_reason():
    df = _frame(["A", "A", "B", "B"], [1, 1, 0, 1], [0.9, 0.8, 0.2, 0.6])
    out = bias_metrics(df, "target", "label", "hate").set_index("subgroup")
    assert math.isnan(out.loc["A", "subgroup_auc"])
    assert "subgroup_auc: no negatives" in out.loc["A", "note"]
    assert math.isnan(out.loc["A", "fpr"])
    assert "fpr: subgroup has no negatives" in out.loc["A", "note"]
    assert out.loc["B", "subgroup_auc"] == 1.0
    # BNSP(B) = background (A) negatives, of which there are none, + B positives
    assert math.isnan(out.loc["B", "bnsp_auc"])
    assert out.loc["B", "note"] == "bnsp_auc: no negatives"
    assert out.loc["B", "bpsn_auc"] == pytest.approx(1.0)


def test_string_labels_and_excluded_rows():
    df = _frame(
        ["A", "A", "B", "B", "B"],
        ["hateful", "non-hateful", "hateful", "non-hateful", None],
        [0.9, 0.1, 0.4, np.nan, 0.3],
        ["", "", "", "", ""],
    )
    out = bias_metrics(df, "target", "label", "hate", pos_label="hateful")
    assert out.attrs["overall"]["n_excluded"] == 2
    assert out.attrs["overall"]["n"] == 3
    assert out.set_index("subgroup").loc["B", "n"] == 1


def test_list_valued_and_separated_subgroups():
    lists = _frame(
        [["A", "B"], ["A"], ["B"], [], ["A"], ["B"]],
        [1, 0, 1, 0, 0, 0],
        [0.9, 0.2, 0.7, 0.1, 0.6, 0.3],
    )
    out = bias_metrics(lists, "target", "label", "hate").set_index("subgroup")
    assert out.loc["A", "n"] == 3 and out.loc["B", "n"] == 3
    joined = lists.assign(target=[",".join(v) for v in lists["target"]])
    out2 = bias_metrics(joined, "target", "label", "hate", sep=",").set_index("subgroup")
    pd.testing.assert_frame_equal(out, out2)
    in_a = np.array([True, True, False, False, True, False])
    y = lists["label"].to_numpy() == 1
    s = lists["hate"].to_numpy()
    assert out.loc["A", "subgroup_auc"] == roc_auc_score(y[in_a], s[in_a])


def test_bias_errors():
    df = _frame(["A"], [1], [0.5])
    with pytest.raises(InputError, match="label_col: no column 'gold'"):
        bias_metrics(df, "target", "gold", "hate")
    with pytest.raises(InputError, match="threshold must be a number in"):
        bias_metrics(df, "target", "label", "hate", threshold="0.5")
    with pytest.raises(InputError, match="no row has both"):
        bias_metrics(_frame(["A"], [None], [0.5]), "target", "label", "hate")


def test_through_the_runner(expanded_results):
    df = expanded_results.assign(label=(expanded_results["template_id"] == "hurt").astype(int))
    out = bias_metrics(df, "group", "label", "violence", threshold=0.4)
    assert list(out["subgroup"]) == GROUPS
    assert out.attrs["overall"]["n_excluded"] == 1
    ok = df[df["error"] == ""]
    for _, row in out.iterrows():
        sel = ok[ok["group"] == row["subgroup"]]
        assert row["subgroup_auc"] == pytest.approx(roc_auc_score(sel["label"], sel["violence"]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", None]),
            st.integers(0, 1),
            st.floats(0, 1, allow_nan=False),
        ),
        min_size=2,
        max_size=40,
    ),
    st.sampled_from([0.25, 0.5, 0.75]),
)
def test_property_against_sklearn(rows, threshold):
    df = _frame([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    out = bias_metrics(df, "target", "label", "hate", threshold=threshold)
    y = df["label"].to_numpy() == 1
    s = df["hate"].to_numpy()
    flagged = s >= threshold

    def ref_auc(mask):
        if len(set(y[mask])) < 2:
            return math.nan
        return roc_auc_score(y[mask], s[mask])

    def ref_rate(mask, positive):
        sel = mask & (y if positive else ~y)
        if not sel.any():
            return math.nan
        return float((~flagged[sel]).mean() if positive else flagged[sel].mean())

    everyone = np.ones(len(y), bool)
    fped_terms, fned_terms = [], []
    for _, row in out.iterrows():
        sub = (df["target"] == row["subgroup"]).to_numpy()
        expected = {
            "subgroup_auc": ref_auc(sub),
            "bpsn_auc": ref_auc((~sub & y) | (sub & ~y)),
            "bnsp_auc": ref_auc((~sub & ~y) | (sub & y)),
            "fpr": ref_rate(sub, False),
            "fnr": ref_rate(sub, True),
        }
        for key, want in expected.items():
            if math.isnan(want):
                assert math.isnan(row[key]), key
                assert key.split("_")[0] in row["note"] or key in row["note"]
            else:
                assert row[key] == pytest.approx(want), key
        assert row["n"] == sub.sum()
        if not math.isnan(expected["fpr"]):
            fped_terms.append(abs(ref_rate(everyone, False) - expected["fpr"]))
        if not math.isnan(expected["fnr"]):
            fned_terms.append(abs(ref_rate(everyone, True) - expected["fnr"]))
    assert set(out["subgroup"]) == set(df["target"].dropna())
    overall = out.attrs["overall"]
    for key, terms in (("fped", fped_terms), ("fned", fned_terms)):
        if terms:
            assert overall[key] == pytest.approx(sum(terms)), key
        else:
            assert math.isnan(overall[key]), key


def test_gap_without_template_column():
    df = pd.DataFrame({"group": ["a", "b", "c"], "hate": [0.1, 0.7, 0.3]})
    with pytest.raises(InputError, match="by=None"):
        counterfactual_gap(df, "group")
    gap = counterfactual_gap(df, "group", by=None)
    assert list(gap.columns[:2]) == ["category", "gap"]
    assert gap.loc[0, "gap"] == pytest.approx(0.6)
    assert (gap.loc[0, "max_value"], gap.loc[0, "min_value"]) == ("b", "a")


def test_gap_leaves_out_templates_that_lack_the_slot_after_a_csv_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "template_id": ["a", "a", "b", "b", "c", "c"],
            # "b" has no group slot (a CSV gives ""); in "c" the empty alternative is a value
            "group": ["women", "men", "", "", "", "men"],
            "text": ["x1", "x2", "y1", "y2", "z1", "z2"],
            "hate": [0.9, 0.1, 0.5, 0.2, 0.3, 0.7],
            "error": ["", "", "", "", "", ""],
        }
    )
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    got = modkit.counterfactual_gap(modkit.read_table(path), "group", categories=["hate"])
    assert sorted(got["template_id"]) == ["a", "c"]
    assert got.set_index("template_id").loc["c", "gap"] == pytest.approx(0.4)
    assert got.set_index("template_id").loc["a", "gap"] == pytest.approx(0.8)
    with pytest.raises(modkit.InputError, match="no row has a value"):
        modkit.counterfactual_gap(frame.assign(group=""), "group", categories=["hate"])


def test_bias_metrics_blank_subgroups_are_background_not_a_subgroup(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame(
        {
            "group": ["women"] * 20 + ["men"] * 20 + [""] * 20,
            "label": rng.integers(0, 2, n),
            "hate": rng.random(n),
            "error": [""] * n,
        }
    )
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    read = modkit.read_table(path)
    got = modkit.bias_metrics(read, "group", "label", "hate", bootstrap=0)
    assert got["subgroup"].tolist() == ["women", "men"]
    # the blank rows are background: same figures as with real missing values
    as_nan = modkit.bias_metrics(
        frame.replace({"group": {"": None}}), "group", "label", "hate", bootstrap=0
    )
    assert np.allclose(got["bpsn_auc"], as_nan["bpsn_auc"])
    assert (
        got["bpsn_auc"].tolist()
        != modkit.bias_metrics(frame[frame["group"] != ""], "group", "label", "hate", bootstrap=0)[
            "bpsn_auc"
        ].tolist()
    )
