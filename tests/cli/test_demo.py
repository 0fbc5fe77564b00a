"""`modkit demo` (the job behind `make demo`), without the notebooks (tested elsewhere)."""

import re

import pandas as pd

import modkit
from modkit.cli import main
from modkit.cli._demo import SLOW_CELL
from modkit.training._train import MODEL_NAME


def test_demo_scores_the_recorded_examples_on_the_local_scorer(tmp_path, capsys):
    assert main(["demo", "--skip-notebooks", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "endpoint violence=0.926 flagged=False" in out  # the case that started it all
    scores = pd.read_csv(tmp_path / "demo_scores.csv")
    assert len(scores) == 4 and (scores["model"] == MODEL_NAME).all()
    assert str(tmp_path / "demo_scores.csv") in out
    # "I want to hurt a woman / a Jew": the endpoint's top categories differ (violence,
    # harassment), the local scorer's scores do not, and each row names its own top too
    rows = {ln.split()[5]: ln for ln in out.splitlines() if "I want to hurt a" in ln}
    assert set(rows) == {"woman.", "Jew."}
    local = scores[scores["text"].str.startswith("I want to hurt a")]
    pair = local[["violence", "harassment"]].to_numpy(float)
    assert abs(pair[0] - pair[1]).max() <= 1e-12  # equal up to the heads' last-bit rounding
    cats = [c for c in modkit.CATEGORIES if c in scores.columns]
    own = scores.loc[local.index[0], cats].astype(float).idxmax()
    shown = f"{own}={local[own].iloc[0]:.3f}"
    assert all(shown in row.split("|")[1] for row in rows.values()), (shown, rows)


def test_demo_says_when_each_notebook_starts_and_finishes(tmp_path, capsys):
    assert main(["demo", "--only", "00_quickstart.ipynb", "--reports", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    started = [ln for ln in lines if ln.startswith("[1/1] 00_quickstart.ipynb: started")]
    finished = [ln for ln in lines if ln.startswith("[1/1] 00_quickstart.ipynb: finished in")]
    assert len(started) == len(finished) == 1
    assert lines.index(started[0]) < lines.index(finished[0])
    # a line per step: the job, then inside the notebook its kernel start-up and slow cells
    job = [i for i, ln in enumerate(lines) if re.match(r"\[job\] finished in [\d.]+ s", ln)]
    assert len(job) == 1 and job[0] < lines.index(started[0])
    inside = lines[lines.index(started[0]) + 1 : lines.index(finished[0])]
    assert re.fullmatch(r" +kernel up in [\d.]+ s", inside[0])
    cells = [re.fullmatch(r" +cell (\d+): ([\d.]+) s  (.+)", ln) for ln in inside[1:]]
    assert all(m and float(m[2]) >= SLOW_CELL for m in cells), inside
    assert lines[-1].startswith("modkit demo: done in ")
    assert finished[0].endswith(str(tmp_path / "00_quickstart.html"))
    # "Written:" lists every file the run left, the notebook's own outputs included
    listed = {
        ln.strip()
        for ln in lines[lines.index(next(ln for ln in lines if ln.startswith("Written"))) + 1 : -1]
    }
    on_disk = {str(p) for p in tmp_path.rglob("*") if p.is_file()}
    assert listed == on_disk and str(tmp_path / "quickstart_scores.csv") in listed
    assert main(["demo", "--only", "nope.ipynb", "--reports", str(tmp_path)]) == 1
