"""``modkit.ray`` on a local Ray runtime (2 CPUs, one session for the module)."""

from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit import InputError, ModerationResult
from modkit.backends import OpenAIBackend, SyncBackend
from modkit.testing import FaultServer, fake_result

pytest.importorskip("ray")
import ray
import ray.data

import modkit.ray as mray

pytestmark = [
    pytest.mark.slow,
    # Ray's own modules warn at import and shutdown; modkit's code must not.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    # Ray's pandas blocks call reset_index(inplace=True), deprecated in pandas 3.1 (modkit
    # calls no inplace method)
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


#: The start-up arguments the how-to documents (docs/how-to/06-ray.md, "Start-up"):
#: no dashboard, no worker log streaming, and no idle workers prestarted for the driver
#: (ray.init waits for them to register, seconds on a loaded machine; scoring actors
#: start their own processes anyway).
FAST_START = {
    "include_dashboard": False,
    "log_to_driver": False,
    "_system_config": {"prestart_worker_first_driver": False},
}


@pytest.fixture(scope="module")
def ray_session():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's raylet aborts when its dashboard agent has not written its port file within
    # a fixed 15 s (not configurable in Ray 2.60), which a heavily loaded machine can
    # miss. Such a start is tried three times; if Ray itself cannot start, the tests
    # are skipped with that reason (anything that goes wrong after start-up fails).
    for attempt in range(3):
        try:
            ray.init(num_cpus=2, **FAST_START)
            break
        except Exception as exc:
            ray.shutdown()
            if "timed out during startup" not in str(exc):
                raise
            if attempt == 2:
                pytest.skip(f"the local Ray runtime did not start (machine overloaded?): {exc}")
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


def _blocks(frame: pd.DataFrame, k: int):
    """A Dataset of ``k`` blocks (no repartition step, which needs a free CPU)."""
    n = len(frame)
    return ray.data.from_pandas([frame.iloc[i * n // k : (i + 1) * n // k] for i in range(k)])


def _texts(n: int, tag: str) -> list[str]:
    return [f"{tag} row {i}: some words about things" for i in range(n)]


def test_local_backend_scores_like_one_process(ray_session, tmp_path):
    texts = [*_texts(30, "local"), "local row 0: some words about things"]
    ds = _blocks(pd.DataFrame({"id": range(len(texts)), "text": texts}), 4)
    cache = tmp_path / "c.sqlite3"
    out = (
        mray.score_dataset(
            ds, "local", num_workers=2, num_cpus=0.5, rows_per_call=8, cache=str(cache)
        )
        .to_pandas()
        .sort_values("id")
        .reset_index(drop=True)
    )
    one = modkit.moderate(texts, backend="local", cache=None, progress=False)
    assert out["text"].tolist() == texts
    assert (out["error"] == "").all()
    for c in modkit.CATEGORIES:
        if c in one.columns:
            np.testing.assert_allclose(out[c].to_numpy(float), one[c].to_numpy(float))
    assert out["flagged"].tolist() == one["flagged"].tolist()
    with modkit.Cache(cache) as c:
        assert len(c) == 30  # every worker wrote into the shared cache; duplicates once


class _BatchLengthBackend(SyncBackend):
    """Scores each text with the length of the request it came in (violence = n / 1000)."""

    name, model = "batch-length", "batch-length-1"
    preferred_batch_size = 7

    def score_batch(self, texts):
        n = len(texts)
        return [
            ModerationResult(False, {"violence": False}, {"violence": n / 1000}, model=self.model)
            for _ in texts
        ]


def test_requests_default_to_the_backends_preferred_batch_size(ray_session):
    # as modkit.moderate: batch_size=None takes the backend's preferred_batch_size (the
    # local scorer: 256), not a fixed 32 per request
    ds = ray.data.from_pandas(pd.DataFrame({"text": [f"text {i}" for i in range(21)]}))
    out = mray.score_dataset(ds, _BatchLengthBackend, rows_per_call=21).to_pandas()
    assert sorted(set(np.round(out["violence"] * 1000).astype(int))) == [7]
    one = modkit.moderate(out["text"].tolist(), backend=_BatchLengthBackend(), cache=None)
    np.testing.assert_allclose(out["violence"], one["violence"])


def test_openai_backend_shares_one_rate_budget(ray_session, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ray-test")
    texts = _texts(24, "http")
    budget = mray.rate_budget(rpm=300)  # 5 requests/s for both workers together
    with FaultServer(rpm=600, burst=3) as srv:  # the server allows twice that
        factory = functools.partial(OpenAIBackend, base_url=srv.url)
        ds = _blocks(pd.DataFrame({"text": texts}), 4)
        scored = mray.score_dataset(
            ds,
            factory,
            num_workers=2,
            num_cpus=0.25,
            budget=budget,
            rows_per_call=4,
            batch_size=2,
            concurrency=2,
        )
        out = scored.to_pandas()
        records = srv.moderation_requests()
    assert sorted(out["text"]) == sorted(texts)
    assert (out["error"] == "").all()
    for _, row in out.iterrows():
        want = fake_result(row["text"])["category_scores"]["violence"]
        assert row["violence"] == pytest.approx(want)
    assert [r.outcome for r in records].count("ok") == 12
    # every request of both workers (retries too) took a slot of the one budget, and the
    # slots are 60 / 300 = 0.2 s apart (arrivals at the server jitter on a loaded machine)
    slots = sorted(ray.get(budget.slots.remote()))
    assert len(slots) == len(records) == ray.get(budget.count.remote())
    assert np.diff(slots).min() >= 0.2 - 1e-9


def _max_in_flight(received: list[float], latency: float) -> int:
    """Most requests received within ``latency`` of one another: each is held at least
    ``latency`` by the server, so they were all in flight at once (a worker that waits
    for each answer before sending the next has its arrivals >= ``latency`` apart)."""
    times = sorted(received)
    return max(sum(1 for u in times[i:] if u - t < latency) for i, t in enumerate(times))


def test_openai_over_http_equals_moderate_with_requests_in_flight_per_worker(
    ray_session, monkeypatch
):
    """Two workers against the fault server over real HTTP (the official SDK): the rows,
    in input order, equal ``moderate``'s; each worker (told apart by its own API key, as
    the server records a digest per request) kept ``concurrency`` requests in flight
    across its one-request blocks, and never more."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one-process")
    texts = _texts(48, "flight")
    latency = 0.5
    ctx = ray.data.DataContext.get_current()
    monkeypatch.setattr(ctx.execution_options, "preserve_order", True)
    monkeypatch.setattr(ctx, "wait_for_min_actors_s", 300)  # both workers get blocks
    with FaultServer(latency=latency) as srv:
        url = srv.url

        def one_key_per_worker() -> OpenAIBackend:  # pickled by value into each worker
            return OpenAIBackend(base_url=url, api_key=f"sk-worker-{os.getpid()}")

        ds = _blocks(pd.DataFrame({"id": range(len(texts)), "text": texts}), 24)
        kw = {"batch_size": 2, "concurrency": 3}
        out = mray.score_dataset(  # blocks of one request each: a worker holds several
            ds, one_key_per_worker, num_workers=2, num_cpus=0.5, rows_per_call=2, **kw
        ).to_pandas()
        records = srv.moderation_requests()
        srv.reset()
        one = modkit.moderate(
            texts, backend=OpenAIBackend(base_url=url), cache=None, progress=False, **kw
        )
    assert out["id"].tolist() == list(range(len(texts)))  # preserve_order: input order
    for column in [*modkit.CATEGORIES, "model", "error", "result_json"]:
        assert out[column].tolist() == one[column].tolist(), column
    for column in ["flagged", *(f"flagged/{c}" for c in modkit.CATEGORIES)]:
        assert out[column].tolist() == [bool(v) for v in one[column]], column
    by_worker: dict[str | None, list[float]] = {}
    for r in records:
        assert r.outcome == "ok"
        by_worker.setdefault(r.key_sha256, []).append(r.received)
    assert len(by_worker) == 2 and sum(map(len, by_worker.values())) == 24
    for received in by_worker.values():
        assert _max_in_flight(received, latency) == 3  # concurrency=3 per worker


def test_rate_budget_paces_callers():
    budget = mray.RateBudget(rpm=600, burst=1)
    waits = [budget.reserve() for _ in range(5)]
    assert waits[0] == pytest.approx(0.0, abs=0.02)
    assert waits[4] == pytest.approx(0.4, abs=0.05)
    assert budget.count() == 5
    with pytest.raises(InputError, match="rpm must be > 0"):
        mray.RateBudget(rpm=0)


def test_sharded_fit_on_a_dataset_equals_fit_thresholds(ray_session):
    rng = np.random.default_rng(7)
    n = 600
    frame = pd.DataFrame({c: rng.integers(0, 40, n) / 40 for c in ("violence", "hate")})
    for c in ("violence", "hate"):
        y = (rng.random(n) < frame[c]).astype(float)
        y[rng.random(n) < 0.1] = np.nan
        frame[f"label_{c}"] = y
    ds = _blocks(frame, 5)  # spellings per shard: tests/ray/test_counts.py
    sharded = mray.fit_thresholds_dataset(ds, "precision>=0.7", review="recall>=0.9")
    single = modkit.fit_thresholds(  # the labels beside the scores, as on every shard
        frame, objective="precision>=0.7", review="recall>=0.9", cv=0, bootstrap=0
    )
    for c in ("violence", "hate"):
        a, b = sharded.categories[c], single.categories[c]
        assert (a.block, a.review, a.n_pos, a.n_neg) == (b.block, b.review, b.n_pos, b.n_neg)
        assert a.in_sample == b.in_sample
    old = _blocks(frame.rename(columns=lambda k: k.replace("label_", "y_")), 5)
    with pytest.warns(FutureWarning, match=r"label_prefix='y_' is deprecated"):
        again = mray.fit_thresholds_dataset(old, "precision>=0.7", label_prefix="y_")
    assert again.categories["hate"].block == sharded.categories["hate"].block


def test_sharded_fit_on_native_scale_with_holm_equals_fit_thresholds(ray_session):
    """provider= and method= reach the blocks and the fit (the Ray path gained them)."""
    rng = np.random.default_rng(11)
    n = 600
    y = (rng.random(n) < 0.3).astype(float)
    sev = np.where(y == 1, rng.choice([2, 4, 6], n), rng.choice([0, 0, 2, 4], n)).astype(float)
    frame = pd.DataFrame({"Hate": sev, "label_Hate": y})
    kw = {"confidence": 0.8, "method": "holm"}
    sharded = mray.fit_thresholds_dataset(
        _blocks(frame, 4), "precision>=0.6", provider="azure", **kw
    )
    single = modkit.fit_thresholds(
        frame, objective="precision>=0.6", provider="azure", cv=0, bootstrap=0, **kw
    )
    a, b = sharded["Hate"], single["Hate"]
    assert (a.block, a.status, a.method, a.delta) == (b.block, b.status, "holm", b.delta)
    assert a.block is not None and sharded.provider == "azure" and sharded.scale == single.scale


def test_backend_objects_are_refused(ray_session):
    ds = ray.data.from_items([{"text": "x"}])
    with pytest.raises(InputError, match="as a name or a zero-argument factory"):
        mray.score_dataset(ds, modkit.backends.LocalBackend())
    with pytest.raises(InputError, match="num_workers must be an integer >= 1"):
        mray.score_dataset(ds, "local", num_workers=0)
