"""The one parameter-validation layer: same rules, same wording, at every entry point."""

from __future__ import annotations

import asyncio
import math
from numbers import Integral, Real

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import InputError, bias_metrics, counterfactual_gap, crosstab
from modkit._validation import (
    PROB,
    Interval,
    MappingOf,
    SequenceOf,
    StrOptions,
    check_param,
    validate_params,
)


@pytest.fixture(scope="module")
def results():
    return pd.DataFrame(
        {
            "text": ["a", "b", "c", "d"],
            "template_id": ["t", "t", "u", "u"],
            "group": ["x", "y", "x", "y"],
            "label": [1, 0, 1, 0],
            "hate": [0.9, 0.1, 0.6, 0.2],
            "sexual": [0.0, 0.2, 0.1, 0.3],
            "error": ["", "", "", ""],
        }
    )


# --- the examples ------------------------------------------------------------


def test_crosstab_refuses_threshold_above_one(results):
    with pytest.raises(InputError) as info:
        crosstab(results, "group", "flag_rate", thresholds=1.5)
    msg = str(info.value)
    assert msg == (
        "crosstab: thresholds must be a number in [0, 1], a mapping of str to a number "
        "in [0, 1] or None; got 1.5"
    )


def test_crosstab_names_the_bad_key_of_a_mapping(results):
    with pytest.raises(InputError, match=r"crosstab: thresholds\['hate'\] must be a number "):
        crosstab(results, "group", "flag_rate", thresholds={"hate": 1.5, "sexual": 0.2})


def test_bias_metrics_refuses_negative_threshold(results):
    with pytest.raises(
        InputError, match=r"^bias_metrics: threshold must be a number in \[0, 1\]; got -3$"
    ):
        bias_metrics(results, "group", "label", "hate", threshold=-3)


def test_counterfactual_gap_checks_types(results):
    with pytest.raises(InputError, match="counterfactual_gap: detail must be True or False"):
        counterfactual_gap(results, "group", detail="yes")
    with pytest.raises(InputError, match=r"counterfactual_gap: by\[1\] must be str; got 3"):
        counterfactual_gap(results, "group", by=["template_id", 3])


def test_unknown_stat_lists_the_options(results):
    with pytest.raises(InputError, match=r"crosstab: stat must be one of \{'mean'"):
        crosstab(results, "group", "average")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "moderate: batch_size must be an integer >= 1 or None; got 0"),
        ({"concurrency": 2.5}, "moderate: concurrency must be an integer >= 1; got 2.5"),
        ({"errors": "ignore"}, "moderate: errors must be one of {'record', 'raise'}; got"),
        ({"max_retries": -1}, "moderate: max_retries must be an integer >= 0; got -1"),
        ({"progress": "no"}, "moderate: progress must be True or False; got 'no'"),
        ({"cache": 3}, "moderate: cache must be a Cache, a path or None; got 3"),
    ],
)
def test_moderate_parameters(kwargs, message):
    with pytest.raises(InputError) as info:
        modkit.moderate(["x"], **kwargs)
    assert str(info.value).startswith(message)


def test_amoderate_checks_before_running():
    with pytest.raises(InputError, match=r"^amoderate: batch_size"):
        asyncio.run(modkit.amoderate(["x"], batch_size=0, cache=None))


def test_valid_calls_still_work(results):
    out = crosstab(results, "group", "flag_rate", thresholds={"hate": 0.5, "sexual": 1})
    assert out.loc["x", "hate"] == 1.0
    assert out.loc["y", "sexual"] == 0.0
    assert bias_metrics(results, "group", "label", "hate", threshold=0).attrs["overall"][
        "fpr"
    ] == pytest.approx(1.0)


# --- properties ----------------------------------------------------------------------

out_of_range = st.one_of(
    st.floats(min_value=1.0, exclude_min=True, allow_nan=False),
    st.floats(max_value=0.0, exclude_max=True, allow_nan=False),
    st.integers(min_value=2),
    st.integers(max_value=-1),
    st.just(math.nan),
    st.booleans(),
    st.text(max_size=5),
)


@given(bad=out_of_range)
def test_out_of_range_thresholds_are_refused_everywhere(results, bad):
    with pytest.raises(InputError, match=r"^crosstab: thresholds must be"):
        crosstab(results, "group", "flag_rate", thresholds=bad)
    with pytest.raises(InputError, match=r"^crosstab: thresholds\['hate'\] must be"):
        crosstab(results, "group", "flag_rate", thresholds={"hate": bad, "sexual": 0.5})
    with pytest.raises(InputError, match=r"^bias_metrics: threshold must be"):
        bias_metrics(results, "group", "label", "hate", threshold=bad)


@given(good=st.floats(min_value=0.0, max_value=1.0))
def test_in_range_thresholds_are_accepted(results, good):
    out = crosstab(results, "group", "flag_rate", thresholds=good)
    expected = (results["hate"] >= good).groupby(results["group"]).mean()
    assert out["hate"].to_dict() == expected.to_dict()


@given(
    left=st.floats(-10, 10),
    width=st.floats(0.01, 10),
    closed=st.sampled_from(["left", "right", "both", "neither"]),
    value=st.floats(-30, 30),
)
def test_interval_agrees_with_its_definition(left, width, closed, value):
    right = left + width
    iv = Interval(Real, left, right, closed=closed)
    lo_ok = value >= left if closed in ("left", "both") else value > left
    hi_ok = value <= right if closed in ("right", "both") else value < right
    assert iv.is_satisfied_by(value) == (lo_ok and hi_ok)
    if not (lo_ok and hi_ok):
        with pytest.raises(InputError, match=r"^f: x must be a number in [\[(].*; got "):
            check_param("x", value, [iv], "f")


def test_integral_interval_refuses_floats_and_bools():
    iv = Interval(Integral, 0, None)
    assert iv.is_satisfied_by(3)
    assert not iv.is_satisfied_by(3.0)
    assert not iv.is_satisfied_by(True)
    assert str(iv) == "an integer >= 0"


def test_decorator_rejects_a_table_naming_unknown_parameters():
    with pytest.raises(ValueError, match="unknown params"):

        @validate_params({"y": [int]})
        def f(x):
            return x


def test_decorator_keeps_signature_errors_to_python():
    @validate_params({"x": [StrOptions(["a"])]})
    def f(x):
        return x

    with pytest.raises(TypeError):
        f()  # missing argument: Python's own error, not a validation one
    assert f("a") == "a"
    assert f.__modkit_constraints__ == {"x": [StrOptions(["a"])]}


def test_container_constraints_name_the_bad_entry():
    with pytest.raises(InputError, match=r"^g: m keys must be str; got 1$"):
        check_param("m", {1: 0.5}, [MappingOf(str, PROB)], "g")
    with pytest.raises(InputError, match=r"^g: s\[2\] must be str; got None$"):
        check_param("s", ["a", "b", None], [str, SequenceOf(str)], "g")
