"""One label convention: modkit.parse_labels and everything that reads labels through it.

Labels sit beside the texts as ``label_<category>`` columns (a bare category key is renamed
to that by ``moderate``), or in a separate table joined ``on="id"``; values 1/0,
true/false, yes/no, blank. Checked through the public API and the CLI.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, InputError, parse_labels
from modkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "labels.csv"

#: Every accepted way of writing each canonical value.
SPELLINGS = {
    1.0: [1, 1.0, True, np.int64(1), "1", "1.0", "true", "TRUE", "True", "yes", "Yes", " YES "],
    0.0: [0, 0.0, False, np.float64(0), "0", "0.0", "false", "False", "no", "NO", " no "],
    None: [None, np.nan, pd.NA, "", "   "],
}
VALUES = [1.0, 0.0, None]


@st.composite
def label_tables(draw):
    """A canonical label frame and one table spelling it in any accepted way."""
    n = draw(st.integers(0, 12))
    cats = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True))
    canon = {c: [draw(st.sampled_from(VALUES)) for _ in range(n)] for c in cats}
    table: dict[str, list] = {"id": list(range(n)), "text": [f"t{i}" for i in range(n)]}
    for c in cats:
        name = draw(st.sampled_from([c, f"label_{c}"]))
        table[name] = [draw(st.sampled_from(SPELLINGS[v])) for v in canon[c]]
    table["notes"] = ["x"] * n  # a column that is not a label
    names = list(table)
    order = draw(st.permutations(names))
    frame = pd.DataFrame({k: pd.Series(table[k], dtype=object) for k in order})
    expected = pd.DataFrame(
        {c: [np.nan if v is None else v for v in canon[c]] for c in CATEGORIES if c in canon},
        index=frame.index,
        dtype=float,
    )
    return frame, expected


@settings(max_examples=150, deadline=None)
@given(label_tables())
def test_any_mix_of_accepted_spellings_parses_to_the_same_canonical_frame(case):
    frame, expected = case
    got = parse_labels(frame)
    pd.testing.assert_frame_equal(got, expected)
    # the same through the texts -> label_<category> path moderate takes
    beside = modkit.labels_beside_texts(frame)
    sources = [c for c in frame.columns if c not in ("id", "text", "notes")]
    renamed = ["label_" + c.removeprefix("label_") for c in sources]
    assert [c for c in beside.columns if c.startswith("label_")] == renamed  # kept in place
    pd.testing.assert_frame_equal(parse_labels(beside, columns="prefixed"), expected)


@settings(max_examples=30, deadline=None)
@given(label_tables())
def test_a_csv_round_trip_parses_to_the_same_frame(tmp_path_factory, case):
    frame, expected = case
    path = tmp_path_factory.mktemp("labels") / "labels.csv"
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(parse_labels(modkit.read_table(path)), expected)


BAD = st.one_of(
    st.sampled_from(["maybe", "2", "-1", "y", "n", "0.5", "ja", "nan?", "1 0"]),
    st.integers().filter(lambda v: v not in (0, 1)),
    st.floats(allow_nan=False).filter(lambda v: v not in (0.0, 1.0)),
)


@settings(max_examples=150, deadline=None)
@given(label_tables(), st.data())
def test_any_invalid_value_is_named_by_row_and_column(case, data):
    frame, _ = case
    label_cols = [c for c in frame.columns if c not in ("id", "text", "notes")]
    if not len(frame):
        return
    i = data.draw(st.integers(0, len(frame) - 1))
    col = data.draw(st.sampled_from(label_cols))
    bad = data.draw(BAD)
    frame = frame.copy()
    frame[col] = frame[col].astype(object)
    frame.iat[i, frame.columns.get_loc(col)] = bad
    first = i  # the error names the first bad cell in column order; only this one is bad
    with pytest.raises(InputError) as err:
        parse_labels(frame, source="labels.csv", row_name=lambda k: f"row {k + 1}")
    msg = str(err.value)
    assert msg.startswith(f"labels.csv row {first + 1} column {col!r}: label "), msg
    assert "is not 1/0, true/false, yes/no or blank" in msg


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            ["label_violense"],
            "column 'label_violense' names no category key; did you mean 'label_violence'?",
        ),
        (
            ["self_harm_intent"],
            "column 'self_harm_intent' is not a category key; did you mean 'self-harm/intent'?",
        ),
        (
            ["violence", "label_violence"],
            "columns 'violence' and 'label_violence' both hold labels of 'violence'",
        ),
    ],
)
def test_unknown_or_doubled_label_columns_are_named(columns, message):
    frame = pd.DataFrame({"text": ["a"], **{c: [1] for c in columns}})
    with pytest.raises(InputError, match=re.escape(message)):
        parse_labels(frame, source="labels.csv")


def test_columns_far_from_any_category_are_not_labels():
    frame = pd.DataFrame({"label_gold": ["hateful"], "label": [1], "violence": ["yes"]})
    got = parse_labels(frame)
    assert list(got.columns) == ["violence"] and got.attrs["columns"] == {"violence": "violence"}
    mapped = parse_labels(frame.assign(is_violent="no"), columns={"is_violent": "violence"})
    assert mapped["violence"].tolist() == [0.0]
    with pytest.raises(InputError, match="'violent' is not a category key; did you mean"):
        parse_labels(frame.assign(v=1), columns={"v": "violent"})


def _results(labelled: pd.DataFrame) -> pd.DataFrame:
    return modkit.moderate(labelled, backend="local", cache=None, progress=False)


@pytest.fixture(scope="module")
def example_results() -> pd.DataFrame:
    return _results(modkit.read_table(EXAMPLE))


def test_example_labels_file_travels_with_the_texts(example_results):
    table = modkit.read_table(EXAMPLE)
    assert {"violence", "hate", "harassment"} <= set(table.columns)
    res = example_results
    for c in ("violence", "hate", "harassment"):
        expected = parse_labels(table)[c].to_numpy()
        np.testing.assert_array_equal(res[f"label_{c}"].to_numpy(), expected)
        assert res[c].between(0, 1).all()  # the bare key is the score


@pytest.mark.filterwarnings("ignore::modkit.thresholds.FitWarning")  # 16 rows
def test_fit_reads_labels_beside_scores_or_a_table_on_id_the_same(example_results):
    res = example_results
    beside = modkit.fit_thresholds(res, objective="f1", cv=2, bootstrap=0, min_positives=2)
    table = modkit.read_table(EXAMPLE)
    shuffled = table.sample(frac=1.0, random_state=1).reset_index(drop=True)
    texts_only = res.drop(columns=[c for c in res.columns if c.startswith("label_")])
    joined = modkit.fit_thresholds(
        texts_only, shuffled, "f1", cv=2, bootstrap=0, min_positives=2, on="id"
    )
    assert beside.labels_sha256 == joined.labels_sha256
    for c in ("violence", "hate", "harassment"):
        assert beside[c].block == joined[c].block
        assert (beside[c].n_pos, beside[c].n_neg) == (joined[c].n_pos, joined[c].n_neg)
    with pytest.raises(InputError, match="fit_thresholds: no labels"):
        modkit.fit_thresholds(texts_only, objective="f1")
    with pytest.raises(InputError, match="objective is required"):
        modkit.fit_thresholds(res)


@pytest.mark.filterwarnings("ignore::modkit.thresholds.FitWarning")  # 16 rows
def test_check_reads_labels_beside_scores(example_results):
    res = example_results
    ts = modkit.fit_thresholds(res, objective="recall>=0.5", cv=0, bootstrap=0, min_positives=2)
    beside = modkit.check_thresholds(ts, res)
    table = modkit.read_table(EXAMPLE).iloc[::-1].reset_index(drop=True)
    joined = modkit.check_thresholds(ts, res, labels=table, on="id")
    assert [(c.name, c.status, c.measured) for c in beside.checks] == [
        (c.name, c.status, c.measured) for c in joined.checks
    ]
    assert any(c.kind == "promise" and c.status != "skip" for c in beside.checks)


@pytest.mark.filterwarnings("ignore::modkit.thresholds.FitWarning")  # 16 rows
def test_cli_moderate_fit_check_with_labels_beside_the_texts(tmp_path, capsys):
    scored, out = tmp_path / "scored.csv", tmp_path / "t.json"
    assert main(["moderate", str(EXAMPLE), "-o", str(scored), "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "'violence' -> 'label_violence'" in err
    head = scored.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert head[:5] == ["id", "text", "label_violence", "label_hate", "label_harassment"]
    argv = ["fit", str(scored), "-o", str(out), "--objective", "recall>=0.5", "--cv", "2"]
    assert main([*argv, "--bootstrap", "0", "--min-positives", "2"]) == 0
    beside = modkit.load_thresholds(out)
    # the same labels as a separate table, matched on id, in another order
    table = tmp_path / "labels.csv"
    modkit.read_table(EXAMPLE).iloc[::-1].to_csv(table, index=False)
    out2 = tmp_path / "t2.json"
    argv2 = ["fit", str(scored), str(table), "-o", str(out2), "--objective", "recall>=0.5"]
    argv2 += ["--cv", "2"]
    assert main([*argv2, "--bootstrap", "0", "--min-positives", "2"]) == 0
    joined = modkit.load_thresholds(out2)
    assert beside.labels_sha256 == joined.labels_sha256
    assert {c: beside[c].block for c in beside.categories} == {
        c: joined[c].block for c in joined.categories
    }
    capsys.readouterr()
    code = main(["check", str(out), "--scores", str(scored), "--json", str(tmp_path / "r.json")])
    assert code in (0, 1)
    assert '"kind": "promise"' in (tmp_path / "r.json").read_text(encoding="utf-8")


def test_cli_labels_from_and_errors_name_file_row_and_column(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["a", "b"], "is_violent": ["yes", "no"], "violence": [0.3, 0.7]}).to_csv(
        src, index=False
    )
    out = tmp_path / "o.csv"
    # 'violence' here is not a label: only the listed column is
    code = main(
        ["moderate", str(src), "-o", str(out), "--no-cache", "--labels-from", "is_violent=violence"]
    )
    assert code == 1
    assert "column 'violence' is named by a category key" in capsys.readouterr().err
    pd.DataFrame({"text": ["a", "b"], "is_violent": ["yes", "no"]}).to_csv(src, index=False)
    assert (
        main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--no-cache",
                "--labels-from",
                "is_violent=violence",
            ]
        )
        == 0
    )
    assert modkit.read_table(out)["label_violence"].tolist() == [1.0, 0.0]
    pd.DataFrame({"text": ["a", "b"], "label_hate": ["no", "perhaps"]}).to_csv(src, index=False)
    assert main(["moderate", str(src), "-o", str(out), "--no-cache"]) == 1
    err = capsys.readouterr().err
    assert f"{src} row 2 (line 3) column 'label_hate': label 'perhaps' is not" in err
    assert "Traceback" not in err
    # fit without labels anywhere says where they go
    pd.DataFrame({"text": ["a"], "violence": [0.2]}).to_csv(src, index=False)
    assert main(["fit", str(src), "-o", str(tmp_path / "t.json"), "--objective", "f1"]) == 1
    assert "no label_<category> columns" in capsys.readouterr().err


def test_notebook_style_labels_from_a_dataset_loader_keep_working():
    data = pd.DataFrame(
        {"text": ["a", "b", "c"], "violence": [1.0, 0.0, np.nan], "hate": [np.nan, 1.0, 0.0]}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        beside = modkit.labels_beside_texts(data)
    assert list(beside.columns) == ["text", "label_violence", "label_hate"]
    pd.testing.assert_frame_equal(
        parse_labels(beside, columns="prefixed"), parse_labels(data[["violence", "hate"]])
    )


def test_plots_and_explorer_read_labels_beside_the_scores(example_results):
    pytest.importorskip("plotly")
    from modkit.plots._thresholds import labelled_scores
    from modkit.widgets import ThresholdExplorer

    res = example_results
    separate = parse_labels(modkit.read_table(EXAMPLE))
    for c in ("violence", "hate"):
        a = labelled_scores(res, res, c)
        b = labelled_scores(res, separate, c)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    explorer = ThresholdExplorer(res, res)
    assert {"violence", "hate", "harassment"} <= set(explorer.category_dropdown.options)


def test_labels_beside_conversations_travel_with_them():
    conv = [
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": "hi, how can I help?"},
        {"role": "user", "content": "I will find you and hurt you."},
    ]
    data = pd.DataFrame({"text": [conv, "have a nice day"], "violence": ["yes", "no"]})
    df = modkit.moderate(data, backend="local", cache=None, progress=False)
    assert df["label_violence"].tolist() == [1.0, 0.0]
    assert df["violence"].between(0, 1).all() and len(df) == 2
