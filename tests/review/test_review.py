"""modkit.review: the verdict store, agreement, and `modkit review export|import|status`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from modkit import InputError
from modkit.cli import main
from modkit.review import (
    ReviewStore,
    agreement_table,
    export_sample,
    krippendorff_alpha,
    read_verdicts,
)

ROOT = Path(__file__).resolve().parents[2]
CATS = ["violence", "self-harm/intent"]


def make_sample(n: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"{i:04d}" for i in range(n)],
            "text": [f"text number {i}" for i in range(n)],
            "group": ["a", "b"] * (n // 2),
            "violence": rng.random(n).round(3),
            "self-harm/intent": rng.random(n).round(3),
            "stratum": ["violence:block-1"] * n,
            "inclusion_probability": [0.5] * n,
            "decision/violence": ["block", "allow"] * (n // 2),
            "decision/self-harm/intent": ["allow"] * n,
        }
    )


# -- the store ------------------------------------------------------------------------
def test_store_records_latest_verdict_per_reviewer_and_resumes(tmp_path):
    path = tmp_path / "review.sqlite"
    with ReviewStore(path) as store:
        store.add_sample(make_sample())
        assert store.categories == CATS
        store.record("0000", "violence", 1, reviewer="ana", rubric_version="v1")
        store.record("0000", "violence", 0, reviewer="ana", rubric_version="v2")  # changes mind
        store.record("0000", "self-harm/intent", "unsure", reviewer="ana")
    with ReviewStore(path) as store:  # reopened: as a new kernel would
        log = store.verdicts(latest=False)
        assert len(log) == 3  # append-only: the superseded verdict is kept
        latest = store.verdicts()
        assert latest["category"].tolist() == ["violence", "self-harm/intent"]
        assert latest["label"].tolist()[0] == 0.0 and np.isnan(latest["label"].tolist()[1])
        assert latest["rubric_version"].tolist() == ["v2", ""]
        assert latest["reviewer"].tolist() == ["ana", "ana"]
        assert latest["recorded_at"].str.endswith("Z").all()
        # unsure counts as reviewed: ana's queue starts at the second item
        assert store.queue("ana")[0] == "0001"
        assert store.queue("bo")[0] == "0000"
        labelled = store.labelled()
        assert labelled.loc[0, "label_violence"] == 0.0
        assert np.isnan(labelled.loc[0, "label_self-harm/intent"])  # unsure: NaN
        assert list(labelled.columns[: len(make_sample().columns)]) == list(make_sample().columns)


def test_store_refuses_unknown_ids_categories_values_and_other_samples(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite").add_sample(make_sample())
    with pytest.raises(InputError, match="field 'id': unknown item id 'nope'"):
        store.record("nope", "violence", 1, reviewer="ana")
    with pytest.raises(InputError, match="unknown category 'hate'"):
        store.record("0000", "hate", 1, reviewer="ana")
    with pytest.raises(InputError, match="'maybe' is not a verdict"):
        store.record("0000", "violence", "maybe", reviewer="ana")
    with pytest.raises(InputError, match="field 'reviewer': empty"):
        store.record("0000", "violence", 1, reviewer=" ")
    other = make_sample()
    other.loc[0, "text"] = "changed"
    with pytest.raises(InputError, match="stored with other values"):
        store.add_sample(other)
    dup = make_sample()
    dup.loc[1, "id"] = "0000"
    with pytest.raises(InputError, match="sample row 2 field 'id': duplicate of row 1"):
        ReviewStore(":memory:").add_sample(dup)
    assert len(store.verdicts()) == 0
    store.add_sample(make_sample())  # the same sample again: nothing changes
    assert len(store.ids()) == 6


def test_resolution_rules_and_conflicts():
    store = ReviewStore(":memory:").add_sample(make_sample())
    for who, lab in (("ana", 1), ("bo", 1), ("cy", 0)):
        store.record("0000", "violence", lab, reviewer=who)
    store.record("0001", "violence", 1, reviewer="ana")
    store.record("0001", "violence", None, reviewer="bo")  # unsure: not a vote
    unanimous = store.labelled()
    majority = store.labelled(resolution="majority")
    assert np.isnan(unanimous.loc[0, "label_violence"]) and majority.loc[0, "label_violence"] == 1
    assert unanimous.loc[1, "label_violence"] == 1 and majority.loc[1, "label_violence"] == 1
    assert unanimous.loc[0, "n_reviewers"] == 3
    conflicts = store.conflicts()
    assert conflicts.to_dict("records") == [
        {"id": "0000", "category": "violence", "yes": "ana,bo", "no": "cy", "n_reviewers": 3}
    ]
    with pytest.raises(InputError, match="resolution must be one of"):
        store.labelled(resolution="loudest")


def test_assignment_gives_every_reviewer_the_overlap_set():
    store = ReviewStore(":memory:").add_sample(make_sample(20))
    pairs = store.assign(["ana", "bo"], overlap=4, seed=1)
    counts = pairs.groupby("id")["reviewer"].nunique()
    assert (counts == 2).sum() == 4 and (counts == 1).sum() == 16
    assert len(store.assigned("ana")) == len(store.assigned("bo")) == 4 + 8
    assert store.assigned("cy") == []
    with pytest.raises(InputError, match="overlap must be"):
        store.assign(["ana"], overlap=21)
    with pytest.raises(InputError, match="distinct non-empty"):
        store.assign(["ana", "ana"])


# -- agreement ------------------------------------------------------------------------
def test_krippendorff_alpha_worked_example_and_edges():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C.
    nan = np.nan
    data = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    assert krippendorff_alpha(data) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha([[1, 0, 1, 0], [1, 0, 1, 0]]) == 1.0
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # no variation
    assert np.isnan(krippendorff_alpha([[1, nan], [nan, 0]]))  # nothing pairable


def test_cohen_kappa_matches_the_textbook_example():
    # Cohen's kappa, the 50-item example (20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no):
    # p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    v = pd.DataFrame(
        {
            "id": [f"i{k}" for k in range(50)] * 2,
            "reviewer": ["r1"] * 50 + ["r2"] * 50,
            "category": "violence",
            "label": a + b,
        }
    )
    row = agreement_table(v, ["violence"]).iloc[0]
    assert row["cohen_kappa"] == pytest.approx(0.4)
    assert row["percent_agreement"] == pytest.approx(0.7)
    assert row["n_items"] == 50
    # alpha by hand: n = 100 pairable values, margins 55 (yes) / 45 (no); each of the
    # 15 disagreeing items adds 1 to o_yes,no and to o_no,yes: 1 - 99 * 30 / (2 * 55 * 45)
    assert row["krippendorff_alpha"] == pytest.approx(1 - 99 * 30 / (2 * 55 * 45))
    assert cohen_kappa_score(a, b) == pytest.approx(0.4)


def test_store_agreement_on_the_overlap():
    store = ReviewStore(":memory:").add_sample(make_sample(20))
    store.assign(["ana", "bo"], overlap=8, seed=0)
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 20)
    for who in ("ana", "bo"):
        for item in store.assigned(who):
            k = int(item)
            lab = int(truth[k]) if (who == "ana" or k % 4) else 1 - int(truth[k])
            for cat in CATS:
                store.record(item, cat, lab, reviewer=who)
    ag = store.agreement().set_index("category")
    assert ag.loc["violence", "n_items"] == 8
    assert ag.loc["violence", "n_reviewers"] == 2
    shared = [i for i in store.assigned("ana") if i in store.assigned("bo")]
    agree = np.mean([int(i) % 4 != 0 for i in shared])
    assert ag.loc["violence", "percent_agreement"] == pytest.approx(agree)
    assert store.progress().set_index("reviewer").loc["ana", "done"] == len(store.assigned("ana"))


# -- crash safety ----------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from modkit.review import ReviewStore
    store = ReviewStore(sys.argv[1])
    ids = store.ids()
    k = 0
    while True:
        item = ids[k % len(ids)]
        seq = store.record(item, "violence", k % 2, reviewer="ana", rubric_version="v1")
        print(seq, flush=True)  # acknowledged: record() has returned
        k += 1
    """
)


def test_sigkilled_writer_loses_no_acknowledged_verdict(tmp_path):
    path = tmp_path / "crash.sqlite"
    ReviewStore(path).add_sample(make_sample()).close()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    acked = []
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= 60:
                break
        proc.send_signal(signal.SIGKILL)  # mid-write: the loop never stops on its own
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with ReviewStore(path) as store:
        seqs = set(store.verdicts(latest=False)["seq"])
    assert set(acked) <= seqs
    assert len(seqs) >= 60


# -- interchange ------------------------------------------------------------------------
def test_label_studio_export_import_round_trip_through_an_annotated_export(tmp_path):
    sample = make_sample()
    tasks = json.loads(export_sample(sample, "label-studio"))
    assert tasks[0]["data"]["modkit_id"] == "0000"
    assert tasks[0]["predictions"][0]["result"][0] == {
        "from_name": "violence",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["yes"]},
    }
    # what Label Studio's JSON export gives back after two annotators
    tasks[0]["id"] = 17
    tasks[0]["annotations"] = [
        {
            "completed_by": {"id": 3, "email": "ana@example.org"},
            "updated_at": "2026-12-07T10:00:00Z",
            "was_cancelled": False,
            "result": [
                {
                    "from_name": "self-harm__intent",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": ["unsure"]},
                },
                {
                    "from_name": "violence",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": ["yes"]},
                },
            ],
        },
        {"completed_by": 4, "was_cancelled": True, "result": []},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    got = read_verdicts(path, ids=sample["id"], categories=CATS)
    assert got[["id", "reviewer", "category"]].to_dict("records") == [
        {"id": "0000", "reviewer": "ana@example.org", "category": "self-harm/intent"},
        {"id": "0000", "reviewer": "ana@example.org", "category": "violence"},
    ]
    assert np.isnan(got.loc[0, "label"]) and got.loc[1, "label"] == 1
    assert got.loc[1, "recorded_at"] == "2026-12-07T10:00:00Z"


def test_argilla_records_have_the_record_to_dict_shape():
    records = json.loads(export_sample(make_sample(), "argilla"))
    rec = records[0]
    assert set(rec) == {
        "id",
        "fields",
        "metadata",
        "suggestions",
        "responses",
        "vectors",
        "_server_id",
    }
    assert rec["id"] == "0000" and rec["fields"] == {"text": "text number 0"}
    assert rec["suggestions"]["violence"]["value"] == "yes"
    assert rec["suggestions"]["self-harm__intent"]["agent"] == "modkit"
    assert "self-harm__intent" in rec["metadata"]  # Argilla names: no '/'


# -- the CLI ----------------------------------------------------------------------------
def test_cli_export_fill_import_status(tmp_path, capsys):
    sample_path = tmp_path / "sample.csv"
    make_sample().to_csv(sample_path, index=False)
    fill = tmp_path / "fill.csv"
    assert main(["review", "export", str(sample_path), "-f", "csv", "-o", str(fill)]) == 0
    sheet = pd.read_csv(fill, dtype={"id": str})
    assert list(sheet["id"]) == list(make_sample()["id"])  # '0000' stays text
    sheet["reviewer"] = "ana"
    sheet["label_violence"] = ["1", "0", "unsure", "1", "0", "0"]
    sheet["label_self-harm/intent"] = "0"
    sheet.to_csv(fill, index=False)
    store = tmp_path / "review.sqlite"
    out = tmp_path / "labelled.csv"
    args = ["review", "import", str(fill), "--store", str(store), "--sample", str(sample_path)]
    assert main([*args, "-o", str(out)]) == 0
    labelled = pd.read_csv(out, dtype={"id": str})
    assert labelled["label_violence"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(labelled["label_violence"][2])
    # a second reviewer disagrees on one item: reported, and NaN under unanimous
    second = tmp_path / "bo.csv"
    second.write_text("id,label_violence\n0000,0\n")
    capsys.readouterr()
    assert main(["review", "import", str(second), "--store", str(store), "--reviewer", "bo"]) == 0
    err = capsys.readouterr().err
    assert "1 conflicting verdict(s)" in err and "ana" in err
    fit_labels = tmp_path / "fit-labels.csv"
    status = ["review", "status", str(store), "-o", str(out), "--fit-labels", str(fit_labels)]
    assert main(status) == 0
    assert "ana" in capsys.readouterr().out
    assert np.isnan(pd.read_csv(out)["label_violence"][0])
    table = pd.read_csv(fit_labels, dtype={"id": str})
    assert list(table.columns) == ["id", *CATS]  # what 'modkit fit SCORES LABELS --on id' reads
    assert table["violence"].tolist()[1] == 0.0
    ls = tmp_path / "tasks.json"
    assert main(["review", "export", str(sample_path), "-f", "label-studio", "-o", str(ls)]) == 0
    assert (tmp_path / "tasks.label-config.xml").read_text().startswith("<View>")


def test_cli_import_error_is_one_line_and_stores_nothing(tmp_path, capsys):
    sample_path = tmp_path / "sample.csv"
    make_sample().to_csv(sample_path, index=False)
    store = tmp_path / "review.sqlite"
    good = tmp_path / "good.csv"
    good.write_text("id,reviewer,label_violence\n0000,ana,1\n")
    assert (
        main(["review", "import", str(good), "--store", str(store), "--sample", str(sample_path)])
        == 0
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("id,reviewer,label_violence\n0001,ana,1\n0002,ana,1\n9999,ana,0\n")
    capsys.readouterr()
    assert main(["review", "import", str(bad), "--store", str(store)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"modkit review: error: {bad} line 4 field 'id': unknown item id '9999'")
    with ReviewStore(store) as s:
        assert s.verdicts()["id"].tolist() == ["0000"]  # nothing of bad.csv, nothing lost
    assert main(["review", "import", str(good), "-o", str(tmp_path / "x.csv")]) == 1
    assert "--sample is needed" in capsys.readouterr().err
    assert main(["review", "status", str(tmp_path / "none.sqlite")]) == 1
    assert "no such review store" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["label-studio", "argilla", "csv"])
def test_cli_export_with_store_verdicts_comes_back_the_same(tmp_path, fmt):
    sample_path = tmp_path / "sample.csv"
    make_sample().to_csv(sample_path, index=False)
    store_path = tmp_path / "review.sqlite"
    with ReviewStore(store_path) as store:
        store.add_sample(make_sample())
        store.record("0001", "violence", 1, reviewer="ana")
        store.record("0001", "violence", 0, reviewer="bo")
        store.record("0002", "self-harm/intent", None, reviewer="ana")
        before = store.verdicts()[["id", "reviewer", "category", "label"]]
    out = tmp_path / ("out.csv" if fmt == "csv" else "out.json")
    args = [
        "review",
        "export",
        str(sample_path),
        "-f",
        fmt,
        "-o",
        str(out),
        "--store",
        str(store_path),
    ]
    assert main(args) == 0
    copy = tmp_path / "copy.sqlite"
    assert (
        main(["review", "import", str(out), "--sample", str(sample_path), "--store", str(copy)])
        == 0
    )
    with ReviewStore(copy) as store:
        after = store.verdicts()[["id", "reviewer", "category", "label"]]
    key = ["id", "reviewer", "category"]
    pd.testing.assert_frame_equal(
        after.sort_values(key).reset_index(drop=True),
        before.sort_values(key).reset_index(drop=True),
    )


def test_cli_export_of_a_hashed_log_sample_says_how_to_keep_the_text(tmp_path, capsys):
    # a sample drawn from a decision log served with the default --log-text hash has
    # text_sha256 and no text: the error says how to get texts a reviewer can read
    sample_path = tmp_path / "sample.csv"
    sample = make_sample()
    sample.drop(columns="text").assign(text_sha256="ab" * 32).to_csv(sample_path, index=False)
    out = tmp_path / "fill.csv"
    assert main(["review", "export", str(sample_path), "-f", "csv", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "no 'text' column" in err and "--log-text store" in err
    assert not out.exists()
