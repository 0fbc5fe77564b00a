import json
from pathlib import Path

import pytest

import modkit
from modkit.backends._replay import text_sha256

FORUM = Path(__file__).resolve().parents[2] / "data" / "openai-forum-2023.jsonl"


def _records():
    return [json.loads(line) for line in FORUM.read_text().splitlines() if line.strip()]


def test_replay_returns_the_recorded_legacy_results():
    backend = modkit.backends.ReplayBackend(FORUM)
    recs = _records()
    out = modkit.moderate([r["input"] for r in recs], backend=backend, cache=None, progress=False)
    assert list(out.columns[1:12]) == list(modkit.LEGACY_CATEGORIES)
    for rec, (_, row) in zip(recs, out.iterrows(), strict=True):
        for key, value in rec["result"]["category_scores"].items():
            assert row[key] == pytest.approx(value, rel=1e-12)
        assert bool(row["flagged"]) == rec["result"]["flagged"]
        assert json.loads(row["result_json"])["categories"] == rec["result"]["categories"]
    # the case that started the thread: violence 0.926 and not flagged
    assert out.loc[0, "violence"] > 0.92 and not out.loc[0, "flagged"]


def test_text_without_record_is_an_error_naming_its_hash():
    backend = modkit.backends.ReplayBackend(FORUM)
    out = modkit.moderate(["never recorded"], backend=backend, cache=None, progress=False)
    assert text_sha256("never recorded") in out.loc[0, "error"]
    with pytest.raises(modkit.ItemErrorsRaised) as info:
        modkit.moderate(
            ["never recorded"], backend=backend, cache=None, progress=False, errors="raise"
        )
    assert info.value.partial is not None and len(info.value.partial) == 1


def test_replay_reads_modkit_own_jsonl_output(tmp_path):
    backend = modkit.backends.ReplayBackend(FORUM)
    texts = [r["input"] for r in _records()]
    first = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    path = modkit.write_table(first, tmp_path / "out.jsonl")
    again = modkit.moderate(
        texts, backend=modkit.backends.ReplayBackend(path), cache=None, progress=False
    )
    assert again["violence"].tolist() == first["violence"].tolist()


def test_malformed_replay_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"input": "a", "result": {"flagged": false, "categories": {}, '
        '"category_scores": {}}}\n{"input": "b", "result": {oops}\n'
    )
    with pytest.raises(modkit.InputError, match=r"bad\.jsonl:2:"):
        modkit.backends.ReplayBackend(bad)
    bad.write_text('{"input": "a", "result": {"flagged": false}}\n')
    with pytest.raises(modkit.InputError, match=r"bad\.jsonl:1: field 'result': no 'category_sc"):
        modkit.backends.ReplayBackend(bad)
