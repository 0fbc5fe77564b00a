"""``modkit.moderate``: the runner's behaviours, with in-process fake backends."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modkit
from modkit import (
    AuthenticationError,
    BatchRejectedError,
    Cache,
    InputError,
    ItemError,
    ItemErrorsRaised,
    ModerationResult,
    TransientBackendError,
    moderate,
)
from modkit.backends import Backend, BatchOutcome, SyncBackend


def _scores(text: str) -> dict[str, float]:
    h = sum(map(ord, text))
    return {"hate": (h % 97) / 97, "self-harm/intent": (h % 89) / 89, "violence": (h % 13) / 13}


def _result(text: str, rid: str = "modr-1") -> ModerationResult:
    s = _scores(text)
    return ModerationResult(
        flagged=max(s.values()) >= 0.5,
        categories={k: v >= 0.5 for k, v in s.items()},
        category_scores=s,
        category_applied_input_types={k: ["text"] for k in s},
        model="fake-2025",
        id=rid,
    )


class Fake(SyncBackend):
    """Records every batch; texts containing 'REJECT' make the whole batch a 400."""

    name = "fake"
    model = "fake"

    def __init__(self, reject_batches: bool = True) -> None:
        self.batches: list[list[str]] = []
        self.reject_batches = reject_batches

    @property
    def sent(self) -> Counter[str]:
        return Counter(t for b in self.batches for t in b)

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        self.batches.append(list(texts))
        if self.reject_batches and any("REJECT" in t for t in texts):
            raise BatchRejectedError("HTTP 400: input is too long", status_code=400)
        return [ItemError("empty text", "empty") if not t else _result(t) for t in texts]


def test_order_duplicates_and_input_columns_kept():
    frame = pd.DataFrame(
        {
            "id": [10, 11, 12, 13, 14],
            "text": ["b", "a", "b", "c", "a"],
            "group": ["x", "y", "x", "z", "y"],
        },
        index=[5, 3, 9, 1, 0],
    )
    backend = Fake()
    df = moderate(frame, backend=backend, cache=None, batch_size=2, progress=False)
    assert df[["id", "text", "group"]].to_dict("list") == {
        "id": [10, 11, 12, 13, 14],
        "text": ["b", "a", "b", "c", "a"],
        "group": ["x", "y", "x", "z", "y"],
    }
    assert backend.sent == {"a": 1, "b": 1, "c": 1}  # each distinct text sent once
    assert all(len(b) <= 2 for b in backend.batches)
    for row in df.to_dict("records"):
        for key, value in _scores(row["text"]).items():
            assert row[key] == value  # addressable by the API's key, e.g. "self-harm/intent"
    assert df["flagged"].dtype == "boolean"
    assert (df["model"] == "fake-2025").all() and (df["error"] == "").all()
    parsed = df["result_json"].map(json.loads)
    assert parsed.iloc[0]["category_scores"] == _scores("b")
    assert modkit.category_columns(df) == ["hate", "self-harm/intent", "violence"]


@pytest.mark.parametrize(
    "data",
    [
        ["x", "y"],
        pd.Series(["x", "y"], index=[7, 8]),
        ("x", "y"),
        np.array(["x", "y"], dtype=object),
    ],
)
def test_accepts_lists_series_tuples_and_arrays(data):
    df = moderate(data, backend=Fake(), cache=None, progress=False)
    assert df["text"].tolist() == ["x", "y"]
    assert list(df.index) == [0, 1]


def test_custom_text_column_and_clear_input_errors():
    frame = pd.DataFrame({"body": ["q", "r"]})
    assert (
        moderate(frame, backend=Fake(), cache=None, progress=False, text_column="body")["hate"]
        .notna()
        .all()
    )
    with pytest.raises(InputError, match="no 'text' column"):
        moderate(frame, backend=Fake(), cache=None, progress=False)
    with pytest.raises(InputError, match="not one string"):
        moderate("just one text", backend=Fake(), cache=None, progress=False)
    with pytest.raises(InputError, match="clash"):
        moderate(
            pd.DataFrame({"text": ["a"], "error": [1]}), backend=Fake(), cache=None, progress=False
        )
    for bad in ({"batch_size": 0}, {"concurrency": 0}, {"errors": "ignore"}):
        with pytest.raises(InputError):
            moderate(["a"], backend=Fake(), cache=None, progress=False, **bad)


def test_missing_texts_get_an_error_not_a_request():
    backend = Fake()
    df = moderate(pd.Series(["a", None, np.nan, "b"]), backend=backend, cache=None, progress=False)
    assert df["error"].astype(bool).tolist() == [False, True, True, False]
    assert "not a string" in df.loc[1, "error"]
    assert df.loc[[1, 2], "hate"].isna().all() and df.loc[[1, 2], "flagged"].isna().all()
    assert backend.sent == {"a": 1, "b": 1}


def test_per_item_error_recorded_and_rest_of_batch_scored_by_bisection():
    texts = [f"t{i}" for i in range(10)]
    texts[6] = "REJECT me"
    backend = Fake()
    df = moderate(texts, backend=backend, cache=None, batch_size=10, progress=False)
    assert df["error"].astype(bool).tolist() == [i == 6 for i in range(10)]
    assert df.loc[6, "error"] == "HTTP 400: input is too long"
    assert df.drop(index=6)["hate"].tolist() == [
        _scores(t)["hate"] for t in texts if "REJECT" not in t
    ]
    scored = Counter(t for b in backend.batches if not any("REJECT" in x for x in b) for t in b)
    assert max(scored.values()) == 1  # bisection never scores a text twice
    assert len(backend.batches) <= 2 * 4 + 1  # about log2(10) levels


def test_item_error_from_backend_and_errors_raise():
    texts = ["ok", "", "fine"]
    df = moderate(texts, backend=Fake(), cache=None, progress=False)
    assert df["error"].tolist() == ["", "empty text", ""]
    with pytest.raises(ItemErrorsRaised, match="1 of 3 texts failed; first: empty text") as info:
        moderate(texts, backend=Fake(), cache=None, progress=False, errors="raise")
    pd.testing.assert_frame_equal(info.value.partial, df)


class Flaky(Fake):
    """Fails the first ``n`` calls with a transient error."""

    def __init__(self, n: int, exc: Exception) -> None:
        super().__init__()
        self.n, self.exc, self.calls = n, exc, 0

    def score_batch(self, texts):
        self.calls += 1
        if self.calls <= self.n:
            raise self.exc
        return super().score_batch(texts)


def test_transient_errors_are_retried_then_recorded():
    exc = TransientBackendError("HTTP 503: down", status_code=503, retry_after=0.0)
    df = moderate(["a", "b"], backend=Flaky(2, exc), cache=None, progress=False, max_retries=3)
    assert (df["error"] == "").all()
    backend = Flaky(100, exc)
    df = moderate(
        ["a", "b"], backend=backend, cache=None, progress=False, max_retries=2, concurrency=1
    )
    assert df["error"].tolist() == ["failed after 3 attempts: HTTP 503: down"] * 2
    assert backend.calls == 3


def test_fatal_error_stops_the_run_and_keeps_partial_results(tmp_path):
    class DiesLater(Fake):
        def score_batch(self, texts):
            if len(self.batches) >= 2:
                raise AuthenticationError("authentication failed: check OPENAI_API_KEY")
            return super().score_batch(texts)

    texts = [f"x{i}" for i in range(10)]
    with Cache(tmp_path / "c.sqlite3") as cache:
        with pytest.raises(AuthenticationError) as info:
            moderate(
                texts, backend=DiesLater(), cache=cache, batch_size=2, concurrency=1, progress=False
            )
        partial = info.value.partial
        assert partial["text"].tolist() == texts
        assert (partial["error"][:4] == "").all()
        assert partial["error"][4:].str.startswith("not scored: run stopped").all()
        assert len(cache) == 4
        backend = Fake()
        df = moderate(texts, backend=backend, cache=cache, batch_size=2, progress=False)
        assert backend.sent == Counter(texts[4:])  # a re-run sends only the rest
        assert (df["error"] == "").all()


def test_cache_none_sends_everything_each_time(tmp_path):
    backend = Fake()
    for _ in range(2):
        moderate(["a", "b"], backend=backend, cache=None, progress=False)
    assert backend.sent == {"a": 2, "b": 2}
    backend = Fake()
    path = tmp_path / "c.sqlite3"
    for _ in range(2):
        moderate(["a", "b"], backend=backend, cache=str(path), progress=False)
    assert backend.sent == {"a": 1, "b": 1}


def test_default_cache_lives_in_modkit_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path))
    backend = Fake()
    moderate(["a"], backend=backend, progress=False)
    moderate(["a"], backend=backend, progress=False)
    assert backend.sent == {"a": 1}
    assert (tmp_path / "moderations.sqlite3").exists()


@pytest.mark.parametrize("progress", [False, True])
def test_progress_bar_on_and_off_without_warnings(progress, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = moderate(["a", "b", "a"], backend=Fake(), cache=None, progress=progress)
    assert (df["error"] == "").all()
    err = capsys.readouterr().err
    if progress:
        assert "moderate (fake)" in err and "cached=0" in err and "sent=2" in err
    else:
        assert err == ""


def test_moderate_inside_a_running_event_loop():
    async def notebook_cell():
        # Jupyter runs cells inside a running loop; moderate() must still work there
        return moderate(["a", "b"], backend=Fake(), cache=None, progress=False)

    df = asyncio.run(notebook_cell())
    assert df["hate"].tolist() == [_scores("a")["hate"], _scores("b")["hate"]]


def test_amoderate_awaits_in_the_callers_loop():
    df = asyncio.run(modkit.amoderate(["c"], backend=Fake(), cache=None, progress=False))
    assert df["hate"].iloc[0] == _scores("c")["hate"]


def test_wrong_result_count_is_an_error():
    class Short(Backend):
        name = model = "short"

        async def ascore(self, texts):
            return [_result(t) for t in texts][:-1]

    with pytest.raises(modkit.BackendError, match="returned 1 results for 2 texts"):
        moderate(["a", "b"], backend=Short(), cache=None, progress=False)


def test_unexpected_exception_is_wrapped_with_partial():
    class Buggy(Fake):
        def score_batch(self, texts):
            raise ZeroDivisionError("boom")

    with pytest.raises(modkit.BackendError, match="ZeroDivisionError") as info:
        moderate(["a"], backend=Buggy(), cache=None, progress=False)
    assert info.value.partial["error"].iloc[0].startswith("not scored")


def test_max_batch_size_of_backend_is_respected():
    backend = Fake()
    backend.max_batch_size = 3
    moderate(
        [str(i) for i in range(10)], backend=backend, cache=None, batch_size=32, progress=False
    )
    assert max(len(b) for b in backend.batches) == 3


def test_batch_size_default_is_the_backends_preferred_size():
    texts = [str(i) for i in range(70)]
    plain = Fake()
    moderate(texts, backend=plain, cache=None, progress=False)
    assert sorted(len(b) for b in plain.batches) == [6, 32, 32]  # no preference: 32
    local_like = Fake()
    local_like.preferred_batch_size = 50
    moderate(texts, backend=local_like, cache=None, progress=False)
    assert sorted(len(b) for b in local_like.batches) == [20, 50]
    explicit = Fake()
    explicit.preferred_batch_size = 50
    moderate(texts, backend=explicit, cache=None, batch_size=10, progress=False)
    assert {len(b) for b in explicit.batches} == {10}  # the caller's choice wins
    capped = Fake()
    capped.preferred_batch_size, capped.max_batch_size = 50, 8
    moderate(texts, backend=capped, cache=None, progress=False)
    assert max(len(b) for b in capped.batches) == 8


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.text(max_size=6), max_size=30),
    batch_size=st.integers(1, 7),
    concurrency=st.integers(1, 4),
)
def test_property_one_row_per_input_each_distinct_text_sent_once(texts, batch_size, concurrency):
    backend = Fake(reject_batches=False)
    df = moderate(
        texts,
        backend=backend,
        cache=None,
        batch_size=batch_size,
        concurrency=concurrency,
        progress=False,
    )
    assert df["text"].tolist() == texts
    assert backend.sent == Counter(set(texts))
    for row in df.to_dict("records"):
        if row["text"]:
            assert row["error"] == "" and row["hate"] == _scores(row["text"])["hate"]
        else:
            assert row["error"] == "empty text"


class _Clocked(Backend):
    """Replies with rate-limit headers, for the throttle."""

    name = model = "clocked"

    def __init__(self, remaining: float, reset: float, limit: float | None = None) -> None:
        self.remaining, self.reset, self.limit = remaining, reset, limit
        self.starts: list[float] = []

    async def ascore(self, texts):
        return [_result(t) for t in texts]

    async def ascore_batch(self, texts):
        self.starts.append(asyncio.get_running_loop().time())
        rate = {"remaining_requests": self.remaining, "reset_requests": self.reset}
        if self.limit is not None:
            rate["limit_requests"] = self.limit
        return BatchOutcome(await self.ascore(texts), rate)


def test_exhausted_rate_limit_headers_pause_the_whole_run():
    backend = _Clocked(remaining=0, reset=0.2)
    moderate(
        ["a", "b", "c"], backend=backend, cache=None, batch_size=1, concurrency=1, progress=False
    )
    gaps = np.diff(backend.starts)
    assert (gaps >= 0.2 * 0.9).all()  # each request waited for the reset it was told


def test_low_remaining_requests_pace_the_run_at_the_refill_rate():
    # 1 of 10 left, full again in 0.9 s: one request is granted every 0.1 s
    backend = _Clocked(remaining=1, reset=0.9, limit=10)
    moderate(
        [str(i) for i in range(5)],
        backend=backend,
        cache=None,
        batch_size=1,
        concurrency=4,
        progress=False,
    )
    gaps = np.diff(sorted(backend.starts))[1:]  # the first answer sets the pace
    assert (gaps >= 0.1 * 0.9).all()


def test_rate_limited_retries_with_retry_after_are_flow_control_not_failure():
    exc = TransientBackendError(
        "HTTP 429: slow down", status_code=429, retry_after=0.0, rate_limited=True
    )
    backend = Flaky(6, exc)  # more 429s than max_retries, each saying when to retry
    df = moderate(["a"], backend=backend, cache=None, progress=False, max_retries=1)
    assert (df["error"] == "").all() and backend.calls == 7
    backend = Flaky(100, exc)  # but not forever: 4 * max_retries + 4 waits
    df = moderate(["a"], backend=backend, cache=None, progress=False, max_retries=1)
    assert df["error"].iloc[0] == "failed after 9 attempts: HTTP 429: slow down"
    assert backend.calls == 9
    no_hint = TransientBackendError("HTTP 429", status_code=429, rate_limited=True)
    backend = Flaky(100, no_hint)  # a 429 without retry-after counts as a failure
    df = moderate(["a"], backend=backend, cache=None, progress=False, max_retries=1)
    assert backend.calls == 2 and df["error"].iloc[0].startswith("failed after 2 attempts")


def test_input_columns_named_like_categories_are_kept_as_labels_not_overwritten():
    forum = Path(__file__).resolve().parents[1] / "data" / "openai-forum-2023.jsonl"
    first = json.loads(forum.read_text(encoding="utf-8").splitlines()[0])
    text, recorded = first["input"], first["result"]["category_scores"]["violence"]
    frame = pd.DataFrame({"text": [text, text], "violence": ["yes", ""]})  # labels beside texts
    backend = modkit.backends.ReplayBackend(forum)
    df = modkit.moderate(frame, backend=backend, cache=None, progress=False)
    assert df["label_violence"].tolist()[0] == 1.0 and np.isnan(df["label_violence"].iloc[1])
    assert "violence" in df.columns and df.columns.get_loc("label_violence") == 1
    assert df["violence"].tolist() == [recorded, recorded]  # the scores, not the labels
    # listed label columns only: another column named by a category key is refused
    with pytest.raises(modkit.InputError, match=r"column 'violence' is named by a category key"):
        modkit.moderate(
            frame.assign(hate=0), backend=backend, cache=None, progress=False, labels_from=["hate"]
        )
    with pytest.raises(modkit.InputError, match=r"data row 1 column 'violence': label 'maybe'"):
        modkit.moderate(
            frame.assign(violence=["yes", "maybe"]), backend=backend, cache=None, progress=False
        )


_FORUM = (
    __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "openai-forum-2023.jsonl"
)
