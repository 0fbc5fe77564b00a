"""modkit monitor and the decision log reader: rates, intervals, PSI/KS drift, limits and
exit codes on a drift the test injects through a real server (issue 22 point 3), and
hypothesis properties of the log reader, PSI and the rates."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import modkit
from modkit import InputError, ModerationResult
from modkit._monitor import clopper_pearson, psi
from modkit.backends import SyncBackend
from modkit.server import DecisionPolicy, ServerThread, ThresholdSource, create_app

MODKIT = [sys.executable, "-m", "modkit"]


class Dial(SyncBackend):
    """Scores read from the text: ``"violence=0.7 hate=0.1"``; flags at 0.5."""

    name, model = "dial", "dial-1"

    def score_batch(self, texts):
        out = []
        for t in texts:
            scores = {"violence": 0.0, "hate": 0.0}
            scores.update({k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", t)})
            flags = {c: s >= 0.5 for c, s in scores.items()}
            out.append(ModerationResult(any(flags.values()), flags, scores, model="dial-1"))
        return out


def _serve_log(tmp_path, batches, thresholds):
    """Send each batch of texts through a shadow server; return the log path."""
    path = tmp_path / "decisions.jsonl"
    t = modkit.ThresholdSet.from_thresholds(thresholds).save(tmp_path / "t.json")
    log = modkit.DecisionLog(path)
    policy = DecisionPolicy(ThresholdSource.load(t), shadow=True, log=log)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        for batch in batches:
            for i in range(0, len(batch), 50):
                client.moderations.create(input=batch[i : i + 50])
    log.close()
    return path


def _shift_days(path, days_by_index):
    """Rewrite record times: the k-th record goes to day ``days_by_index(k)``."""
    lines = path.read_text().splitlines()
    out = []
    for k, line in enumerate(lines):
        rec = json.loads(line)
        rec["time"] = f"2026-12-0{1 + days_by_index(k)}T12:00:00.000Z"
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n")


def test_monitor_cli_exit_codes_on_injected_drift(tmp_path):
    rng = np.random.default_rng(7)
    calm = [f"violence={v:.4f} n={i}" for i, v in enumerate(rng.beta(1, 12, 300))]
    drifted = [f"violence={v:.4f} n={i}" for i, v in enumerate(rng.beta(3, 4, 300))]
    path = _serve_log(tmp_path, [calm, drifted], {"violence": 0.5})
    _shift_days(path, lambda k: 0 if k < 300 else 1)
    out = tmp_path / "m"
    args = [
        *MODKIT,
        "monitor",
        str(path),
        "--json",
        str(out / "m.json"),
        "--junit",
        str(out / "m.xml"),
        "--html",
        str(out / "m.html"),
    ]
    ok = subprocess.run([*args, "--max-psi", "100"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*args, "--max-psi", "0.25", "--max-flag-rate-change", "0.05"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1, bad.stderr
    assert "Traceback" not in bad.stderr and "limit(s) crossed" in bad.stderr
    report = json.loads((out / "m.json").read_text())
    day2 = next(
        d
        for d in report["drift"]
        if d["period"].startswith("2026-12-02") and d["category"] == "violence"
    )
    assert day2["psi"] > 0.25 and day2["ks_pvalue"] < 1e-6
    crossed = {(b["limit"], b["category"]) for b in report["breaches"]}
    assert crossed == {("max_psi", "violence"), ("max_flag_rate_change", "violence")}
    junit = ET.parse(out / "m.xml").getroot()
    assert int(junit.find("testsuite").get("failures")) == 2
    page = (out / "m.html").read_text()
    assert "plotly" in page and '<script src="http' not in page
    # the flag rate and its interval, recomputed from the texts sent
    rates = {r["period"][:10]: r for r in report["rates"] if r["category"] == "violence"}
    k = sum(float(t.split()[0].split("=")[1]) >= 0.5 for t in drifted)
    assert rates["2026-12-02"]["block"] == k
    lo = stats.beta.ppf(0.025, k, 300 - k + 1)
    assert math.isclose(rates["2026-12-02"]["flag_lo"], lo, rel_tol=1e-5)


def test_monitor_against_a_scores_baseline_and_shadow_counts(tmp_path):
    rng = np.random.default_rng(3)
    texts = [f"violence={v:.4f}" for v in rng.beta(2, 2, 200)]
    path = _serve_log(tmp_path, [texts], {"violence": 0.3})
    base = pd.DataFrame({"text": ["x"] * 500, "violence": rng.beta(2, 2, 500)})
    base_path = tmp_path / "calibration.csv"
    base.to_csv(base_path, index=False)
    t = tmp_path / "t.json"
    report = modkit.monitor(path, base_path, thresholds=t, max_psi=0.25)
    assert report.ok, report.breaches
    row = report.overall.iloc[0]
    sent = np.array([float(x.split("=")[1]) for x in texts])
    assert row["would_block"] == pytest.approx((sent >= 0.3).mean())  # the new file
    assert row["did_block"] == pytest.approx((sent >= 0.5).mean())  # the backend's flags
    rates = report.rates.set_index("category").loc["violence"]
    assert rates["baseline_flag_rate"] == pytest.approx((base["violence"] >= 0.3).mean())


def test_review_load_against_the_files_forecast(tmp_path):
    ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.9, "review": 0.5}})
    doc = ts.to_dict() | {
        "bands": {"allow": 0.9, "review": 0.1, "block": 0.0, "unscored": 0.0, "n": 100},
        "daily_volume": 1000.0,
        "review_per_day": 100.0,
    }
    ts = modkit.ThresholdSet.from_dict(doc)
    tfile = tmp_path / "t.json"
    modkit.ThresholdFile([ts]).save(tfile)
    texts = [f"violence={0.6 if i % 2 else 0.1}" for i in range(100)]  # half in review
    log = modkit.DecisionLog(tmp_path / "d.jsonl")
    policy = DecisionPolicy(ThresholdSource.load(tfile), log=log)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        openai.OpenAI(base_url=srv.url, api_key="u").moderations.create(input=texts)
    log.close()
    report = modkit.monitor(tmp_path / "d.jsonl", thresholds=tfile, max_review_load=2.0)
    row = report.overall.iloc[0]
    assert row["review_rate"] == 0.5 and row["review_load"] == pytest.approx(5.0)
    assert [b["limit"] for b in report.breaches] == ["max_review_load"]
    proc = subprocess.run(
        [*MODKIT, "monitor", str(tmp_path / "d.jsonl"), "--max-review-load", "2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0  # no --thresholds: no forecast, the check is skipped
    assert "no limit crossed" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.jsonl"], "log nowhere.jsonl: file not found"),
        (["LOG", "--max-psi", "-1"], "--max-psi must be a number >= 0"),
        (["LOG", "--baseline", "missing.csv"], "baseline missing.csv: file not found"),
        (["SCORES"], "log scores.csv: no 'time' column (is it a decision log?)"),
    ],
)
def test_monitor_cli_bad_input_is_one_line(tmp_path, args, message):
    log = tmp_path / "d.jsonl"
    with modkit.DecisionLog(log) as w:
        w.write(
            [
                {
                    "v": 1,
                    "time": "2026-12-01T00:00:00Z",
                    "scores": {"hate": 0.1},
                    "decision": {"action": "allow", "categories": {"hate": "allow"}},
                }
            ]
        )
    pd.DataFrame({"text": ["a"], "hate": [0.1]}).to_csv(tmp_path / "scores.csv", index=False)
    args = [str(log) if a == "LOG" else "scores.csv" if a == "SCORES" else a for a in args]
    proc = subprocess.run([*MODKIT, "monitor", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ properties
record_st = st.fixed_dictionaries(
    {
        "violence": st.floats(0, 1),
        "hate": st.one_of(st.none(), st.floats(0, 1)),
        "action": st.sampled_from(["allow", "review", "block"]),
        "text": st.text(max_size=30),
    }
)


def _record(i, r):
    scores = {"violence": r["violence"]} | ({} if r["hate"] is None else {"hate": r["hate"]})
    return {
        "v": 1,
        "time": f"2026-12-01T00:00:{i % 60:02d}.000Z",
        "request_id": f"r{i}",
        "index": 0,
        "profile": "input",
        "mode": "enforce",
        "text": r["text"],
        "scores": scores,
        "backend_flags": {c: s >= 0.5 for c, s in scores.items()},
        "decision": {"action": r["action"], "categories": {"violence": r["action"]}},
        "enforced": {
            "source": "thresholds",
            "action": r["action"],
            "categories": {"violence": r["action"]},
        },
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(record_st, max_size=25),
    torn=st.binary(max_size=20),
    rotate=st.one_of(st.none(), st.integers(1, 400)),
)
def test_log_reader_round_trips_what_was_written(tmp_path_factory, records, torn, rotate):
    path = tmp_path_factory.mktemp("log") / "d.jsonl"
    recs = [_record(i, r) for i, r in enumerate(records)]
    with modkit.DecisionLog(path, rotate_bytes=rotate) as log:
        for rec in recs:
            log.write([rec])
    with path.open("ab") as fh:  # a write cut short by a crash: no newline at the end
        fh.write(torn.replace(b"\n", b""))
    if not recs and not torn.replace(b"\n", b""):
        with pytest.raises(InputError, match="no decision log"):  # an empty file: none
            modkit.read_decision_log(path.with_name("none.jsonl"))
    frame = modkit.read_decision_log(path)
    assert len(frame) == len(recs)
    if not recs:
        return
    assert frame["text"].tolist() == [r["text"] for r in records]
    assert frame["violence"].tolist() == [r["violence"] for r in records]
    hate = [np.nan if r["hate"] is None else r["hate"] for r in records]
    if recs and any(r["hate"] is not None for r in records):
        np.testing.assert_array_equal(frame["hate"].to_numpy(), np.array(hate))
    assert frame["decision"].tolist() == [r["action"] for r in records]
    assert frame.attrs["torn_lines"] in (0, 1)


def test_log_reader_names_file_and_line_of_a_bad_record(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"v": 1, "time": "2026-12-01T00:00:00Z"}\n{"v": 1, oops}\n{"v": 1}\n')
    with pytest.raises(InputError, match=r"d\.jsonl: line 2 column 10"):
        modkit.read_decision_log(path)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=200),
    st.lists(st.floats(0, 1), min_size=1, max_size=200),
    st.integers(2, 20),
)
def test_psi_is_nonnegative_symmetric_in_order_and_zero_on_itself(a, b, bins):
    value = psi(a, b, bins)
    assert value >= 0
    assert psi(a, a, bins) == pytest.approx(0, abs=1e-12)
    assert psi(a, list(reversed(b)), bins) == pytest.approx(value)
    assert psi(a + a, b + b, bins) == pytest.approx(value)  # shares, not counts


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_clopper_pearson_holds_the_estimate_and_nests_by_level(kn, level):
    k, n = kn
    lo, hi = clopper_pearson(k, n, level)
    if n == 0:
        assert np.isnan(lo) and np.isnan(hi)
        return
    assert 0 <= lo <= k / n <= hi <= 1
    wlo, whi = clopper_pearson(k, n, min(0.999, level + 0.009))
    assert wlo <= lo + 1e-12 and whi >= hi - 1e-12


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 47), st.sampled_from(["allow", "review", "block"])),
        min_size=1,
        max_size=80,
    )
)
def test_monitor_rates_count_every_record_once(rows):
    frame = pd.DataFrame(
        {
            "time": [pd.Timestamp("2026-12-01", tz="UTC") + pd.Timedelta(hours=h) for h, _ in rows],
            "violence": 0.5,
            "decision": [a for _, a in rows],
            "decision/violence": [a for _, a in rows],
        }
    )
    report = modkit.monitor(frame, period="hour")
    assert report.rates["n"].sum() == len(rows)
    assert report.rates["block"].sum() == sum(a == "block" for _, a in rows)
    assert report.rates["review"].sum() == sum(a == "review" for _, a in rows)
    assert (
        (report.rates["flag_lo"] <= report.rates["flag_rate"])
        & (report.rates["flag_rate"] <= report.rates["flag_hi"])
    ).all()
    daily = modkit.monitor(frame, period="day")
    assert len(daily.overall) == len({h // 24 for h, _ in rows})


def test_scores_baseline_decides_unthresholded_categories_by_the_backends_flags(tmp_path):
    # a category the file holds no threshold for is decided in the log by the backend's
    # flag (unthresholded: backend_flag); a baseline of scores must be decided the same
    # way, from its flagged/<category> columns, not left without a rate (a skipped check)
    rng = np.random.default_rng(5)
    texts = [f"violence={v:.4f} hate={h:.4f}" for v, h in rng.beta(2, 3, (200, 2))]
    path = _serve_log(tmp_path, [texts], {"violence": 0.3})
    hate = rng.beta(2, 5, 400)
    base = pd.DataFrame(
        {"text": ["x"] * 400, "violence": rng.beta(2, 3, 400), "hate": hate}
    ).assign(**{"flagged/hate": hate >= 0.5, "flagged/violence": False})
    base.to_csv(tmp_path / "calibration.csv", index=False)
    out = tmp_path / "m.json"
    run = subprocess.run(
        [
            *MODKIT,
            "monitor",
            str(path),
            "--baseline",
            str(tmp_path / "calibration.csv"),
            "--thresholds",
            str(tmp_path / "t.json"),
            "--max-flag-rate-change",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    rates = {r["category"]: r for r in report["rates"]}
    assert rates["hate"]["baseline_flag_rate"] == pytest.approx((hate >= 0.5).mean())
    assert rates["violence"]["baseline_flag_rate"] == pytest.approx(
        (base["violence"] >= 0.3).mean()
    )
    checks = {c["category"]: c["status"] for c in report["checks"]}
    assert checks == {"violence": "pass", "hate": "pass"}
