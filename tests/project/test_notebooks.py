"""Every notebook runs top to bottom on the local scorer, as `make demo` runs it."""

import importlib.util
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from modkit._notebooks import run_notebook
from modkit.review import ReviewStore

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _docs_notebooks():
    """docs/_notebooks.py: runs a notebook into a cache shared with the docs build."""
    spec = importlib.util.spec_from_file_location(
        "modkit_docs_notebooks", ROOT / "docs" / "_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count")]
    assert any("parameters" in c.metadata.get("tags", []) for c in code)


# A cold notebook 02 embeds every training text for its cross-fit (minutes on a busy 2-core
# machine); the suite-wide 300 s limit is for hangs, not for this.
@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_offline(path):
    # executed once per content of the notebook and the package: the docs build (`make docs`,
    # before the suite in `make test`) renders the same cached copy into the site
    paths = _docs_notebooks().executed(path)
    html = paths["html"].read_text(encoding="utf-8")
    srcs = re.findall(r"<script[^>]*\bsrc=\"([^\"]*)\"", html)
    assert not [s for s in srcs if s.startswith(("http", "//"))], srcs
    nb = nbformat.read(paths["ipynb"], as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_calibration_notebook_runs_on_your_own_labels_and_scores(tmp_path):
    import numpy as np
    import pandas as pd

    import modkit

    rng = np.random.default_rng(0)
    n = 400
    cats = ["violence", "hate", "sexual"]
    labels = pd.DataFrame({c: (rng.random(n) < 0.25).astype(float) for c in cats})
    labels.loc[labels.index[:20], "hate"] = np.nan  # not labelled
    labels.insert(0, "id", [f"r{i}" for i in range(n)])
    labels.insert(1, "text", [f"my text number {i}" for i in range(n)])
    scores = labels[["id", "text"]].copy()
    for c in modkit.CATEGORIES:
        y = labels[c].fillna(0).to_numpy() if c in cats else np.zeros(n)
        scores[c] = np.clip(0.6 * y + 0.5 * rng.random(n), 0, 1)
    scores["model"] = "my-model-1"
    scores["error"] = ""
    labels.to_csv(tmp_path / "labels.csv", index=False)
    scores.sample(frac=1.0, random_state=1).to_csv(tmp_path / "scores.csv", index=False)
    nb = ROOT / "notebooks" / "02_calibrate_thresholds.ipynb"
    params = {
        "reports_dir": str(tmp_path),
        "labels_file": str(tmp_path / "labels.csv"),
        "scores_file": str(tmp_path / "scores.csv"),
        "bootstrap": 0,
    }
    run_notebook(nb, tmp_path / "out", parameters=params, html=False)
    ts = modkit.load_thresholds(tmp_path / "thresholds.json")
    assert ts.model == "my-model-1" and set(cats) <= set(ts.categories)
    assert ts["violence"].n_pos == int(labels["violence"].sum())
    assert ts["hate"].n_pos + ts["hate"].n_neg == n - 20


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_traffic_notebook_rerun_on_another_sample_gets_its_own_review_store(tmp_path):
    # A review store never takes a second sample over its verdicts: a re-run after the model
    # or the seed changed (another audit sample) must not stop on the first run's store.
    nb = ROOT / "notebooks" / "05_calibrate_on_traffic.ipynb"
    small = {"reports_dir": str(tmp_path), "n_reference": 300, "n_traffic": 300, "n_audit": 100}
    for seed in (0, 1):
        params = {**small, "seed": seed, "overlap": 10}
        run_notebook(nb, tmp_path / f"out{seed}", parameters=params, html=False)
    stores = sorted(p.name for p in tmp_path.glob("review-05-*.sqlite"))
    assert len(stores) == 2, stores
    # The notebook closes its store: no write-ahead log is left beside it (verdicts in a
    # -wal file were lost to anyone who copied the .sqlite file alone), and the file by
    # itself, copied away from the folder, holds every verdict.
    assert not list(tmp_path.glob("review-05-*.sqlite-*"))
    for name in stores:
        alone = tmp_path / "alone" / name
        alone.parent.mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / name, alone)
        with ReviewStore(alone) as copy, ReviewStore(tmp_path / name) as store:
            assert len(copy.verdicts(latest=False)) == len(store.verdicts(latest=False)) > 0
