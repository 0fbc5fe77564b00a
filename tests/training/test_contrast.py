"""The contrast set: labels, held-out split by template, provenance, no evaluation text."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from modkit import CATEGORIES, DatasetError, TemplateError
from modkit.training import CONTRAST_DIR, contrast_sha256, is_heldout, load_contrast


@pytest.fixture(scope="module")
def contrast():
    return load_contrast()


def test_every_row_has_kind_provenance_and_a_label_per_category(contrast):
    assert len(contrast) > 1500
    assert contrast["kind"].str.len().gt(0).all()
    assert contrast["provenance"].str.fullmatch(r"[a-z-]+\.yaml#[a-z0-9-]+").all()
    labels = contrast[list(CATEGORIES)].to_numpy()
    assert np.isin(labels[~np.isnan(labels)], (0.0, 1.0)).all()
    # a row is unsafe exactly when some category is labelled 1
    assert (contrast["unsafe"] == (labels == 1).any(axis=1)).all()
    assert {"homonym", "counter-speech", "negation", "violent-intent"} <= set(contrast["kind"])
    assert 0.15 < contrast["unsafe"].mean() < 0.5


def test_heldout_split_is_by_template_and_covers_both_labels(contrast):
    by_template = contrast.groupby("template_id")["split"].nunique()
    assert (by_template == 1).all()
    held = contrast[contrast["split"] == "heldout"]
    assert set(held["template_id"]) == {t for t in contrast["template_id"] if is_heldout(t)}
    assert 0.1 < len(held) / len(contrast) < 0.4
    assert held["unsafe"].nunique() == 2


def test_sampling_is_seeded_and_capped(contrast):
    again = load_contrast()
    assert again.equals(contrast)
    assert contrast.groupby("template_id").size().max() <= 40
    small = load_contrast(per_template=3, seed=1)
    assert small.groupby("template_id").size().max() == 3
    assert set(small["text"]) <= set(load_contrast(per_template=10_000)["text"])


def test_no_text_is_shared_with_hatecheck(contrast):
    from modkit.datasets import dataset_path, load_dataset

    try:
        dataset_path("hatecheck", download=False)
    except DatasetError as exc:
        pytest.skip(str(exc))
    hc = set(load_dataset("hatecheck")["text"].str.lower().str.strip())
    full = load_contrast(per_template=10_000)
    assert not set(full["text"].str.lower().str.strip()) & hc


def _copy(tmp_path):
    folder = tmp_path / "contrast"
    shutil.copytree(CONTRAST_DIR, folder)
    return folder


def test_unknown_category_names_the_file_and_template(tmp_path):
    folder = _copy(tmp_path)
    (folder / "zz-bad.yaml").write_text(
        'templates:\n  - id: bad-one\n    text: "hello {a|b}"\n'
        '    labels: {kind: homonym, flag: "violence selfharm"}\n',
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match=r"zz-bad\.yaml, template 'bad-one'.*'selfharm'"):
        load_contrast(folder)


def test_missing_label_duplicate_id_and_bad_template_are_errors(tmp_path):
    folder = _copy(tmp_path)
    bad = folder / "zz-bad.yaml"
    bad.write_text('templates:\n  - id: x\n    text: "hi"\n    labels: {kind: homonym}\n')
    with pytest.raises(DatasetError, match="'flag'"):
        load_contrast(folder)
    bad.write_text(
        'templates:\n  - id: homonym-kill-process\n    text: "hi"\n'
        '    labels: {kind: homonym, flag: ""}\n'
    )
    with pytest.raises(DatasetError, match=r"already used in safe-homonyms\.yaml"):
        load_contrast(folder)
    bad.write_text('templates:\n  - id: x\n    text: "hi {a|"\n    labels: {kind: k, flag: ""}\n')
    with pytest.raises(TemplateError, match=r"zz-bad\.yaml"):
        load_contrast(folder)
    with pytest.raises(DatasetError, match="not a folder"):
        load_contrast(tmp_path / "nowhere")


def test_sha256_changes_with_any_file(tmp_path):
    folder = _copy(tmp_path)
    before = contrast_sha256(folder)
    assert before == contrast_sha256(CONTRAST_DIR)
    with (folder / "wildcards" / "pest.txt").open("a", encoding="utf-8") as fh:
        fh.write("slugs\n")
    assert contrast_sha256(folder) != before
