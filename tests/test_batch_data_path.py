"""The Batch API's data path in columns (issue 20 point 1): output lines read into
columns must say exactly what the lenient parser says, the frame must be the request
path's, files stream from disk, a progress bar per phase, older ledgers still resume."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, BatchAPI, ModerationResult
from modkit._batch import _Lines, parse_output_line
from modkit._result import ResultRows, result_json
from modkit.backends import OpenAIBackend
from modkit.testing import FaultServer

MODEL = "omni-moderation-latest"
FAST = BatchAPI(poll_interval=0.01)

# score values the endpoint may send: floats (the usual), and what drifted
scores_values = st.one_of(
    st.floats(0, 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-2, 2),
    st.none(),
    st.booleans(),
    st.sampled_from(["0.5", 1e999, -1e999, 10**400]),
)
flag_values = st.one_of(st.booleans(), st.none(), st.integers(0, 1), st.just("true"))
category_names = st.one_of(st.sampled_from(CATEGORIES), st.sampled_from(["Hate", "new/cat"]))


@st.composite
def output_lines(draw) -> tuple[str, bytes]:
    """One output line: mostly well-formed, with any drift a real endpoint showed."""
    cats = draw(st.lists(category_names, unique=True, max_size=6))
    well_formed = draw(st.booleans())
    if well_formed:
        scores = {c: draw(st.floats(0, 1)) for c in cats}
        flags = {c: draw(st.booleans()) for c in cats}
    else:
        scores = {c: draw(scores_values) for c in cats}
        flags = {c: draw(flag_values) for c in cats if draw(st.booleans())}
    result: dict = {"flagged": draw(st.one_of(st.booleans(), st.none())), "categories": flags}
    result["category_scores"] = scores
    applied = draw(
        st.one_of(
            st.none(),
            st.dictionaries(
                category_names,
                st.one_of(st.lists(st.sampled_from(["text", "image"]), max_size=2), st.none()),
                max_size=3,
            ),
        )
    )
    if applied is not None:
        result["category_applied_input_types"] = applied
    if draw(st.booleans()):
        result = {"extra": 1, **result}  # keys in another order, one unknown
    key = draw(st.sampled_from(["a" * 64, "b" * 64]))
    line = {
        "id": "batch_req_1",
        "custom_id": key,
        "response": {
            "status_code": 200,
            "request_id": "r",
            "body": {
                "id": draw(st.sampled_from(["modr-1", "modr-é"])),
                "model": "m-1",
                "results": [result],
            },
        },
        "error": None,
    }
    text = json.dumps(line, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    return key, text.encode()


def _lenient(line: bytes) -> ModerationResult:
    _, outcome = parse_output_line(line.decode(), where="x")
    assert isinstance(outcome, ModerationResult)
    return outcome


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(output_lines(), min_size=1, max_size=6, unique_by=lambda kl: kl[0]))
def test_lines_in_columns_say_what_the_lenient_parser_says(lines):
    got = _Lines()
    taken = [got.add(line) for _, line in lines]
    accepted = {key: answers[0] for key, answers in got.answers.items()}
    rows = got.rows(accepted)
    by_key = {k: i for i, k in enumerate(rows.keys)}
    raws = rows.raw if isinstance(rows.raw, list) else rows.raw.to_pylist()  # Arrow
    for (key, line), fast in zip(lines, taken, strict=True):
        want = _lenient(line)
        if not fast:
            continue  # the run reads it with the lenient parser itself
        if key not in by_key:  # a non-finite score: handed back to the lenient parser
            assert accepted[key] == want and accepted[key].notes == want.notes
            continue
        assert not want.notes, "a line the fast path took has something to note"
        i = by_key[key]
        packed = ResultRows.compact(want)
        assert packed is not None
        expect = ResultRows.unpack([key], [packed], [want.model], [want.id])
        np.testing.assert_array_equal(rows.scores[i], expect.scores[0])
        np.testing.assert_array_equal(rows.flags[i], expect.flags[0])
        assert rows.flagged[i] == want.flagged
        assert (rows.model[i], rows.id[i]) == (want.model, want.id)
        assert raws[i] == result_json(want)


def test_well_formed_lines_take_the_fast_path():
    line = {
        "custom_id": "k" * 64,
        "response": {
            "status_code": 200,
            "body": {
                "id": "modr-1",
                "model": "m",
                "results": [
                    {
                        "flagged": False,
                        "categories": {"hate": False},
                        "category_scores": {"hate": 0.25},
                        "category_applied_input_types": {"hate": ["text"]},
                    }
                ],
            },
        },
        "error": None,
    }
    got = _Lines()
    assert got.add(json.dumps(line).encode())
    line["response"]["body"]["results"][0]["category_scores"]["hate"] = None
    assert not got.add(json.dumps(line).encode())  # a null score: the lenient parser's note


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


def _backend(srv: FaultServer) -> OpenAIBackend:
    return OpenAIBackend(MODEL, base_url=srv.url, api_key="sk-test-columns")


def test_batch_frame_is_the_request_frame(srv, tmp_path):
    texts = [f"text {i} ü {'x' * (i % 7)}" for i in range(40)] + ["text 3 ü xxx", ""]
    via = BatchAPI(poll_interval=0.01, max_requests_per_file=7)  # several batches
    batch = modkit.moderate(
        texts, backend=_backend(srv), cache=tmp_path / "b", via=via, progress=False
    )
    direct = modkit.moderate(texts, backend=_backend(srv), cache=None, progress=False)
    assert (batch["error"] == direct["error"]).all()
    same = [c for c in direct.columns if c != "moderation_id"]
    pd.testing.assert_frame_equal(batch[same], direct[same])
    again = modkit.moderate(
        texts, backend=_backend(srv), cache=tmp_path / "b", via=via, progress=False
    )
    pd.testing.assert_frame_equal(again, batch)  # from the cache (columns), the same frame


def test_a_progress_bar_per_phase_and_quiet_without(srv, tmp_path, capfd):
    texts = [f"progress {i}" for i in range(5)]
    modkit.moderate(texts, backend=_backend(srv), cache=tmp_path / "c", via=FAST, progress=True)
    err = capfd.readouterr().err
    for phase in (
        "keys and cache lookup",
        "writing and uploading files",
        "waiting for batches",
        "ingesting",
    ):
        assert f"moderate (openai batch): {phase}" in err
    modkit.moderate(
        [*texts, "one more"], backend=_backend(srv), cache=tmp_path / "c", via=FAST, progress=False
    )
    assert capfd.readouterr().err == ""


def test_a_ledger_written_by_an_older_modkit_resumes(srv, tmp_path):
    texts = [f"older ledger {i}" for i in range(6)]
    cache = tmp_path / "c.sqlite3"
    srv.batch_api.hold()
    submit = BatchAPI(poll_interval=0.01, max_wait=0)
    modkit.moderate(texts, backend=_backend(srv), cache=cache, via=submit, progress=False)
    ledger = tmp_path / "c.sqlite3.batches"
    with sqlite3.connect(ledger) as conn:  # keys in the requests table, as 0.2 kept them
        (file_id, blob) = conn.execute("SELECT file_id, keys FROM files").fetchone()
        keys = bytes(blob).decode().split("\n")
        conn.executemany("INSERT INTO requests VALUES (?, ?)", [(k, file_id) for k in keys])
        conn.execute("UPDATE files SET keys = NULL")
    srv.batch_api.hold(False)
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert (df["error"] == "").all()
    assert len(srv.batch_api.uploads()) == 1 and len(srv.batch_api.batches) == 1


def test_the_ledger_holds_digests_not_texts(srv, tmp_path):
    texts = [f"secret text {i}" for i in range(4)]
    modkit.moderate(texts, backend=_backend(srv), cache=tmp_path / "c", via=FAST, progress=False)
    data = (tmp_path / "c.batches").read_bytes()
    assert not any(t.encode() in data for t in texts)


def test_non_finite_scores_in_a_line_are_nan_with_a_note():
    base = {
        "custom_id": "k" * 64,
        "response": {"status_code": 200, "body": {"id": "i", "model": "m", "results": []}},
    }
    result = {"flagged": True, "categories": {"hate": True}, "category_scores": {"hate": 1e999}}
    base["response"]["body"]["results"] = [result]
    got = _Lines()
    assert got.add(json.dumps(base).encode())  # Infinity is a float to json.loads
    accepted = {k: a[0] for k, a in got.answers.items()}
    rows = got.rows(accepted)
    assert len(rows) == 0
    outcome = accepted["k" * 64]
    assert isinstance(outcome, ModerationResult) and math.isnan(outcome.category_scores["hate"])
    assert outcome.notes
