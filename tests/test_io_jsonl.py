"""``result_json`` in ``.jsonl``: a nested object on write, either form accepted on read.

Issue 25 point 6: ``result_json`` used to be a string inside the JSON line, decoded
twice by every reader.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit.cli import main

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Any JSON object, as the ``result_json`` column holds it: compact JSON.
any_result = st.dictionaries(st.text(max_size=12), _json, max_size=6).map(
    lambda obj: json.dumps(obj, separators=(",", ":"))
)


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


@settings(max_examples=150, deadline=None)
@given(results=st.lists(any_result, min_size=1, max_size=5))
def test_any_result_round_trips_through_the_nested_and_the_string_form(tmp_path_factory, results):
    folder = tmp_path_factory.mktemp("jsonl")
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(len(results))], "result_json": results})
    written = modkit.write_table(frame, folder / "new.jsonl")
    lines = written.read_text(encoding="utf-8").split("\n")[:-1]  # LF only: U+2028 is text
    # the new form: the object itself, decoded once with the line
    assert [json.loads(line)["result_json"] for line in lines] == [json.loads(r) for r in results]
    assert modkit.read_table(written)["result_json"].tolist() == results
    # the old form: a string holding the object
    old = folder / "old.jsonl"
    old.write_text("".join(_line({"text": "x", "result_json": r}) for r in results), "utf-8")
    assert modkit.read_table(old)["result_json"].tolist() == results


def test_a_file_mixing_both_forms_reads_as_strings(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        _line({"text": "a", "result_json": {"flagged": True}})
        + _line({"text": "b", "result_json": '{"flagged":false}'})
        + _line({"text": "c", "result_json": None}),
        encoding="utf-8",
    )
    back = modkit.read_table(path)["result_json"].tolist()
    assert back[:2] == ['{"flagged":true}', '{"flagged":false}'] and pd.isna(back[2])


@pytest.mark.parametrize("bad", [[1, 2], 3, True])
def test_a_result_json_that_is_no_object_names_file_line_and_field(tmp_path, bad):
    path = tmp_path / "bad.jsonl"
    path.write_text(_line({"text": "a"}) + _line({"text": "b", "result_json": bad}), "utf-8")
    with pytest.raises(modkit.InputError, match=r"bad\.jsonl:2: field 'result_json' must be"):
        modkit.read_table(path)


def test_moderate_writes_nested_results_that_replay_and_crosstab_read(tmp_path, capsys):
    src = tmp_path / "prompts.txt"
    src.write_text("hello\nI will hurt you\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    argv = ["moderate", str(src), "-o", str(out), "--backend", "local", "--no-cache"]
    assert main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(isinstance(r["result_json"], dict) for r in records)
    assert records[1]["result_json"]["category_scores"]["violence"] == records[1]["violence"]
    # the file is a replay source, and read_table hands the frame its usual string column
    replayed = modkit.moderate(
        ["hello", "I will hurt you"],
        backend=modkit.backends.ReplayBackend(out),
        cache=None,
        progress=False,
    )
    assert replayed["violence"].tolist() == [r["violence"] for r in records]
    frame = modkit.read_table(out)
    assert json.loads(frame["result_json"][1]) == records[1]["result_json"]
