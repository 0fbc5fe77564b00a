"""Training of the local scorer's heads: reproducibility, thresholds, committed metadata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _training import FAST, _fixture
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

import modkit
import modkit.cli
from modkit import CATEGORIES, OPENAI_1680_CODES, DatasetError
from modkit.backends import LocalBackend
from modkit.training._train import (
    DERIVED,
    FEATURES,
    SST_AREAS,
    TrainingData,
    _best_f1_threshold,
    build_tasks,
    load_training_data,
    rewritten_digest,
    train,
    training_digest,
)

PACKAGE = Path(modkit.__file__).parent / "backends" / "local"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model")
    return out, train(out, data=_fixture(), **FAST)


def test_training_is_reproducible_bit_for_bit(tmp_path, trained):
    first, a = trained
    b = train(tmp_path / "b", data=_fixture(), **FAST)
    for name in ("heads.json", "model.json"):
        assert (first / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a == b
    # and the result loads and scores through the public backend
    backend = LocalBackend(model_dir=first)
    res = backend.score(["a post about punching and stabbing a stranger"])[0]
    assert set(res.category_scores) == set(CATEGORIES)
    assert backend.cache_namespace == f"local/{a['heads_sha256'][:16]}"


def test_heads_learn_the_fixture(trained):
    first, _ = trained
    backend = LocalBackend(model_dir=first)
    on, off = backend.score(
        ["Story 9: a post about cutting my own arms.", "Note 9: I wrote about baking bread."]
    )
    assert on.category_scores["self-harm"] > off.category_scores["self-harm"]


def test_metadata_counts_match_the_data(trained):
    out, meta = trained
    data = _fixture()
    cats = meta["categories"]
    for cat in OPENAI_1680_CODES.values():
        col = data.oai[cat]
        assert cats[cat]["status"] == "trained"
        assert cats[cat]["positives"] == int((col == 1).sum())
        assert cats[cat]["negatives"] == int((col == 0).sum())
    for cat, (rule, sources, _) in DERIVED.items():
        assert cats[cat]["status"] == "derived"
        assert cats[cat]["rule"] == rule and cats[cat]["from"] == list(sources)
    n_area = data.sst["harm_area"].value_counts()
    assert cats["illicit"]["positives"] == sum(
        n_area[SST_AREAS[k]] for k in ("illegal", "scams", "physical")
    )
    assert cats["self-harm/intent"]["positives"] == n_area[SST_AREAS["self-harm"]]
    heads = json.loads((out / "heads.json").read_text())
    assert sorted(heads["categories"]) == sorted(c for c in CATEGORIES if c not in DERIVED)
    assert heads["features"] == FEATURES
    assert len(heads["coef"][0]) == heads["dim"] == 3 * 768 + 2  # mean, max; 2 cues x them


def test_unknown_harm_area_is_a_dataset_error():
    data = _fixture()
    sst = data.sst.copy()
    sst.loc[0, "harm_area"] = "Something new"
    with pytest.raises(DatasetError, match="Something new"):
        build_tasks(TrainingData(data.oai, sst, {}))


def test_cli_rejects_bad_folds(tmp_path, capsys):
    from modkit.cli._train import run

    with pytest.raises(modkit.InputError, match="--folds"):
        run(_ns(output_dir=str(tmp_path), data_dir=None, seed=0, folds=1))
    with pytest.raises(SystemExit):
        modkit.cli.main(["train", "--folds", "x", str(tmp_path)])


def _ns(**kw):
    import argparse

    return argparse.Namespace(**kw)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=40).filter(
        lambda r: any(y for y, _ in r)
    )
)
def test_best_f1_threshold_is_the_brute_force_optimum(rows):
    y = np.array([r[0] for r in rows])
    p = np.array([r[1] / 20 for r in rows])
    thr, f1 = _best_f1_threshold(y, p)
    assert f1 == pytest.approx(f1_score(y, p >= thr))
    pred = p[None, :] >= np.unique(p)[:, None]  # every distinct cut, by plain counting
    tp = (pred & (y[None, :] == 1)).sum(axis=1)
    best = (2 * tp / (pred.sum(axis=1) + y.sum())).max()
    assert f1 == pytest.approx(best)


def _registry_or_skip() -> None:
    from modkit.datasets import dataset_path

    try:
        for name in ("openai-moderation-1680", "simplesafetytests"):
            dataset_path(name, download=False)
    except DatasetError as exc:
        pytest.skip(f"data sets not available offline: {exc}")


def test_committed_heads_were_trained_on_the_registry_data():
    _registry_or_skip()
    from modkit.datasets import dataset_info
    from modkit.training import contrast_sha256

    meta = json.loads((PACKAGE / "model.json").read_text())
    data = load_training_data()
    assert meta["training_data"]["registry_sha256"] == {
        name: dataset_info(name).file().sha256 for name in data.sources if name != "contrast"
    }
    assert meta["training_data"]["contrast_sha256"] == contrast_sha256() == data.sources["contrast"]
    tasks = build_tasks(data)
    assert meta["training_data"]["inputs_sha256"] == training_digest(data.texts, tasks)
    # what the encoder read: a change to the text rewrites (``_text.py``) that changes a
    # training text's reading fails here until the heads are retrained
    assert meta["text_input_sha256"] == rewritten_digest(data.texts, meta["text_input"])
    # counts against the data set's own README (positives / labelled rows)
    readme = {
        "sexual": (237, 984),
        "hate": (162, 771),
        "violence": (94, 1450),
        "harassment": (76, 1444),
        "self-harm": (51, 1447),
        "sexual/minors": (85, 994),
        "hate/threatening": (41, 761),
        "violence/graphic": (24, 1447),
    }
    by_cat = {t.category: t for t in tasks}
    for cat, (pos, labelled) in readme.items():
        task = by_cat[cat]
        reg = task.rows < data.n_registry
        assert (int(task.y[reg].sum()), int(reg.sum())) == (pos, labelled)
    for cat, task in by_cat.items():  # the metadata counts registry and contrast rows
        entry = meta["categories"][cat]
        assert (entry["positives"], entry["negatives"]) == (
            int(task.y.sum()),
            int(len(task.y) - task.y.sum()),
        )
        assert entry["contrast_rows"] == int((task.rows >= data.n_registry).sum()) > 0


def test_hatecheck_is_never_in_the_training_texts():
    _registry_or_skip()
    from modkit.datasets import dataset_path, load_dataset

    try:
        dataset_path("hatecheck", download=False)
    except DatasetError as exc:
        pytest.skip(str(exc))
    hc = set(load_dataset("hatecheck")["text"])
    data = load_training_data()
    texts = set(data.texts)
    assert len(texts & hc) <= 5  # only incidental short phrases may coincide
    meta = json.loads((PACKAGE / "model.json").read_text())
    never = meta["training_data"]["never_trained_on"]
    assert {"hatecheck", "multilingual-hatecheck", "contrast heldout split"} <= set(never)


def test_fit_head_chooses_c_by_inner_cv_deterministically():
    from sklearn.linear_model import LogisticRegression

    from modkit.training._train import fit_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 8))
    y = (x[:, 0] + 0.5 * rng.normal(size=120) > 0.8).astype(np.int64)
    groups = np.arange(120) // 2
    grid = (0.01, 1.0, 100.0)
    coef, b, c = fit_head(x, y, groups, n_splits=4, c_grid=grid)
    again = fit_head(x, y, groups, n_splits=4, c_grid=grid)
    assert c in grid and again[2] == c
    assert np.array_equal(coef, again[0]) and b == again[1]
    ref = LogisticRegression(C=c).fit(x, y)
    np.testing.assert_allclose(coef, ref.coef_[0], rtol=1e-6, atol=1e-8)
    assert np.argmax(np.abs(coef)) == 0  # the informative feature dominates


def test_cross_fitted_scores_come_from_heads_that_never_saw_the_row(trained):
    """Each row's score equals a head retrained by scikit-learn without that row's fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from modkit.backends.local._features import lexical_cues
    from modkit.training._train import cross_fitted_results

    model_dir, meta = trained
    data = _fixture()
    res = cross_fitted_results(data=data, model_dir=model_dir, n_splits=3, seed=0)
    direct = modkit.moderate(
        data.oai[["text"]], backend=LocalBackend(model_dir=model_dir), cache=None, progress=False
    )
    assert list(res.columns) == list(direct.columns)
    assert res["model"].str.contains("cross-fitted").all() and (res["error"] == "").all()
    # an independent recomputation for one trained head ("violence")
    backend = LocalBackend(model_dir=model_dir)
    emb, owner = backend.embed(data.texts)
    mean = np.zeros((len(data.texts), 384))
    np.add.at(mean, owner, emb[:, :384])
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    mx = np.full((len(data.texts), 384), -np.inf)
    np.maximum.at(mx, owner, emb[:, 384:])
    base = np.hstack([mean, mx / 4.0])
    cues = lexical_cues(data.texts)
    ident, neg = cues[:, :1], cues[:, 1:]
    pooled = np.hstack([base, ident, base * ident, neg, base * neg])
    n = len(data.oai)
    groups = pd.factorize(pd.Series(data.texts, dtype=object))[0][:n]
    y = data.oai["violence"].to_numpy()
    folds = GroupKFold(n_splits=3, shuffle=True, random_state=0).split(np.zeros(n), groups=groups)
    c = meta["categories"]["violence"]["C"]
    for _, held in folds:
        train_rows = np.setdiff1d(np.flatnonzero(~np.isnan(y)), held)
        lr = LogisticRegression(C=c, solver="lbfgs", max_iter=2000)
        lr.fit(pooled[train_rows], y[train_rows].astype(int))
        one_window = np.bincount(owner, minlength=len(data.texts))[held] == 1
        expected = lr.predict_proba(pooled[held[one_window]])[:, 1]
        got = res.loc[held[one_window], "violence"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    # in-sample scores differ: the shipped heads saw these rows
    assert not np.allclose(res["violence"], direct["violence"])


def _with_contrast() -> TrainingData:
    base = _fixture()
    rows = []
    for i in range(8):
        rows.append({"text": f"How do I kill a stuck job number {i}?", "template_id": "safe-a"})
        rows.append({"text": f"Tonight I will make stranger {i} bleed.", "template_id": "bad-b"})
    contrast = pd.DataFrame(rows)
    for c in CATEGORIES:
        contrast[c] = 0.0
    bad = contrast["template_id"] == "bad-b"
    contrast.loc[bad, "violence"] = 1.0
    contrast.loc[bad, "hate"] = np.nan  # unlabelled: left out of the hate head
    return TrainingData(base.oai, base.sst, {}, contrast)


def test_contrast_rows_join_every_head_where_labelled_with_their_weight():
    from modkit.training import reweight
    from modkit.training._train import CONTRAST_WEIGHT

    data = _with_contrast()
    tasks = {t.category: t for t in build_tasks(data)}
    n_reg = data.n_registry
    assert len(data.texts) == n_reg + 16
    viol = tasks["violence"]
    extra = viol.rows >= n_reg
    assert extra.sum() == 16 and viol.y[extra].sum() == 8
    assert np.allclose(viol.w[extra], CONTRAST_WEIGHT) and np.allclose(viol.w[~extra], 1.0)
    assert (tasks["hate"].rows >= n_reg).sum() == 8  # the NaN rows are not in the hate head
    heavier = reweight(viol, 0.7, n_reg)
    assert np.allclose(heavier.w[extra], 0.7) and np.allclose(heavier.w[~extra], 1.0)
    assert (heavier.rows == viol.rows).all() and (heavier.y == viol.y).all()
    assert "contrast" in viol.source
    # all fillings of one template share a fold group; registry duplicates share one too
    groups = data.groups()
    assert len(set(groups[n_reg:])) == 2
    texts = data.texts
    dup = [i for i in range(n_reg) if texts.count(texts[i]) > 1]
    assert len({groups[i] for i in dup}) == 1


def test_training_with_contrast_caps_false_flags_and_records_the_rule(tmp_path):
    from modkit.training._train import CONTRAST_FPR, THRESHOLD_RULE, WEIGHT_RULE

    grid = (0.1, 1.0)
    meta = train(tmp_path, data=_with_contrast(), weight_grid=grid, **FAST)
    # every head with contrast rows chose its weight from the grid by the recorded criterion
    assert meta["contrast_weight_rule"] == WEIGHT_RULE
    assert set(meta["contrast_weight"]) == set(meta["contrast_weight_criterion"])
    for cat, weight in meta["contrast_weight"].items():
        crit = meta["contrast_weight_criterion"][cat]
        assert set(crit) == {"0.1", "1.0"} and weight in grid
        best = max(crit.values())
        assert crit[repr(weight)] == best
        assert all(v < best for k, v in crit.items() if float(k) < weight)  # ties: smaller
        assert f"(weight {weight})" in meta["categories"][cat]["source"]
    viol = meta["categories"]["violence"]
    assert viol["contrast_rows"] == 16
    assert viol["threshold_rule"] == THRESHOLD_RULE == meta["threshold_rule"]
    assert viol["oof_contrast_safe_flagged"] <= CONTRAST_FPR
    assert meta["model"] == LocalBackend(model_dir=tmp_path).model


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 30), st.booleans()), min_size=3),
)
def test_threshold_rule_caps_the_safe_contrast_share(rows):
    from modkit.training._train import CONTRAST_FPR, _best_f1_threshold, _threshold

    y = np.array([r[0] for r in rows])
    p = np.array([r[1] / 30 for r in rows])
    contrast = np.array([r[2] for r in rows])
    if y.sum() == 0:
        return
    safe = contrast & (y == 0)
    thr, f1 = _threshold(y, p, safe)
    if safe.any():
        assert np.mean(p[safe] >= thr) <= CONTRAST_FPR + 1e-12
    assert thr >= _best_f1_threshold(y, p)[0]  # only ever raised
    assert f1 == pytest.approx(f1_score(y, p >= thr, zero_division=0.0))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1), st.booleans()), min_size=4),
)
def test_weight_criterion_is_the_mean_of_registry_ap_and_lookalike_auc(rows):
    from sklearn.metrics import average_precision_score, roc_auc_score

    from modkit.training import Task, weight_criterion

    y = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    contrast = np.array([r[2] for r in rows])
    registry = ~contrast
    if y[registry].sum() == 0:
        return
    n_reg = 1000
    task = Task("hate", np.where(registry, 0, n_reg) + np.arange(len(y)), y, "x")
    got = weight_criterion(task, p, n_reg)
    ap = average_precision_score(y[registry], p[registry])
    safe = contrast & (y == 0)
    if safe.any():
        both = safe | (y == 1)
        expected = (ap + roc_auc_score(y[both], p[both])) / 2
    else:
        expected = ap
    assert got == pytest.approx(expected)
    assert 0.0 <= got <= 1.0
