"""A constrained objective added by one registry entry: parsed, fitted, certified.

Specificity >= q is the same constraint as FPR <= 1 - q, so a kind registered for it
must choose exactly the thresholds ``fpr<=1-q`` chooses, with and without confidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import InputError
from modkit.thresholds import (
    OBJECTIVE_KINDS,
    Constraint,
    constrained_kind,
    fit_thresholds,
    register_objective,
)

SPECIFICITY = constrained_kind(
    "min_specificity",
    "specificity",
    ">=",
    (0.0, 1.0, True, False),
    Constraint(
        "specificity",
        ">=",
        lambda c: c.n_neg - c.fp,
        lambda c: np.broadcast_to(c.n_neg, np.shape(c.fp)),
        lambda t: t,
        "down",
        "recall",
        "labelled negatives",
        label="TNR",
        require_tp=True,  # as fpr<=X: flagging no positive meets it trivially
    ),
)


@pytest.fixture(scope="module")
def specificity():
    register_objective(SPECIFICITY)
    yield SPECIFICITY
    del OBJECTIVE_KINDS["min_specificity"]


def test_a_new_kind_before_registration_is_unknown():
    if "min_specificity" in OBJECTIVE_KINDS:
        pytest.skip("registered by another test of this module")
    with pytest.raises(InputError, match="unknown objective 'specificity'"):
        modkit.parse_objective("specificity>=0.9")


def test_it_parses_spells_and_reads_in_words(specificity):
    obj = modkit.parse_objective(" specificity >= 0.95")
    assert (obj.kind, obj.target, str(obj)) == ("min_specificity", 0.95, "specificity>=0.95")
    assert obj.describe() == "maximise recall subject to TNR >= 0.95"
    assert obj.constrained
    with pytest.raises(InputError, match=r"position 13 must be in \(0, 1\]"):
        modkit.parse_objective("specificity>=1.5")
    with pytest.raises(InputError, match=r"specificity>=X"):  # the grammar lists it now
        modkit.parse_objective("nope")


def test_a_clashing_token_is_refused(specificity):
    other = constrained_kind(
        "other", "specificity", ">=", (0, 1, True, False), SPECIFICITY.constraint
    )
    with pytest.raises(InputError, match="already objective kind 'min_specificity'"):
        register_objective(other)
    bad = constrained_kind("bad", "fixed", ">=", (0, 1, True, False), SPECIFICITY.constraint)
    with pytest.raises(InputError, match="must be a lower-case identifier other than"):
        register_objective(bad)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    q=st.sampled_from([0.5, 0.75, 0.875, 0.9375]),  # 1 - q exact in binary
    confidence=st.sampled_from([None, 0.9]),
)
def test_it_fits_as_fpr_at_most_one_minus_q(specificity, seed, q, confidence):
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.random(n) < 0.3
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1).round(3)
    scores = pd.DataFrame({"text": [f"t{i}" for i in range(n)], "violence": score})
    labels = pd.DataFrame({"violence": y.astype(float)})
    kw = dict(cv=2, bootstrap=0, confidence=confidence, min_positives=5)
    mine = fit_thresholds(scores, labels, f"specificity>={q}", **kw)
    same = fit_thresholds(scores, labels, f"fpr<={1 - q!r}", **kw)
    assert mine["violence"].block == same["violence"].block


@settings(max_examples=300, deadline=None)
@given(
    tp=st.integers(0, 500), fn=st.integers(0, 500), fp=st.integers(0, 500), tn=st.integers(0, 500)
)
def test_a_constraint_value_is_the_rate_of_the_builtin_metrics(tp, fn, fp, tn):
    # fitting and `modkit check` read the metric from the registry entry: the very floats
    # rates() gives (a boundary decision must not move by a rounding difference)
    from modkit.thresholds import Counts, rates

    counts = Counts(tp=np.array([tp]), fp=np.array([fp]), n_pos=tp + fn, n_neg=fp + tn)
    r = rates(counts)
    for spec in ("precision>=0.5", "recall>=0.5", "fpr<=0.5", "npv>=0.5"):
        con = modkit.parse_objective(spec).constraint
        np.testing.assert_array_equal(con.value(counts), r[con.metric])
