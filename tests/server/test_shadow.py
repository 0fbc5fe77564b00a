"""modkit serve in production: shadow mode, the decision log, the ``modkit`` action field,
per-request profiles (issue 22), end to end over HTTP with the official openai SDK."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import openai
import pytest

import modkit
from modkit import InputError, ModerationResult
from modkit.backends import SyncBackend
from modkit.server import DecisionPolicy, ServeProcess, ServerThread, ThresholdSource, create_app
from modkit.testing import FaultServer, fake_result

CATS = ("violence", "hate")


class Dial(SyncBackend):
    """Scores read from the text: ``"violence=0.7 hate=0.1 ..."``; flags at 0.5."""

    name, model = "dial", "dial-1"

    def score_batch(self, texts):
        out = []
        for t in texts:
            scores = {c: 0.0 for c in CATS}
            scores.update({k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", t)})
            flags = {c: s >= 0.5 for c, s in scores.items()}
            out.append(ModerationResult(any(flags.values()), flags, scores, model="dial-1"))
        return out


def _file(tmp_path: Path, name: str, thresholds: dict, profile: str = "input") -> Path:
    return modkit.ThresholdSet.from_thresholds(thresholds, profile=profile).save(tmp_path / name)


def _both(tmp_path: Path) -> Path:
    path = tmp_path / "new.json"
    inp = modkit.ThresholdSet.from_thresholds(
        {"violence": {"block": 0.8, "review": 0.4}, "hate": 0.3}
    )
    out = modkit.ThresholdSet.from_thresholds({"violence": 0.2, "hate": 0.9}, profile="output")
    modkit.ThresholdFile([inp, out]).save(path)
    return path


def test_shadow_answers_with_backend_flags_and_logs_what_the_file_would_do(tmp_path):
    new = _both(tmp_path)
    log_path = tmp_path / "log" / "decisions.jsonl"
    log = modkit.DecisionLog(log_path)
    policy = DecisionPolicy(ThresholdSource.load(new), shadow=True, log=log, actions=True)
    texts = ["violence=0.45", "violence=0.6", "hate=0.35", "violence=0.9 hate=0.1", "calm"]
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        response = client.moderations.create(input=texts)
    log.close()
    # answers: the backend's own flags (>= 0.5), whatever the new file says
    assert [r.flagged for r in response.results] == [False, True, False, True, False]
    # the extension field survives the SDK's models and carries the enforced action
    actions = [r.model_extra["modkit"]["action"] for r in response.results]
    assert actions == ["allow", "block", "allow", "block", "allow"]
    assert response.results[1].modkit["categories"]["violence"] == "block"
    frame = modkit.read_decision_log(log_path)
    assert list(frame["decision"]) == ["review", "review", "block", "block", "allow"]
    assert list(frame["enforced"]) == actions
    assert set(frame["mode"]) == {"shadow"} and set(frame["enforced_source"]) == {"backend"}
    assert list(frame["violence"]) == [0.45, 0.6, 0.0, 0.9, 0.0]
    assert frame["decision/hate"].tolist() == ["allow", "allow", "block", "allow", "allow"]
    assert frame["thresholds_sha256"].iloc[0] == hashlib.sha256(new.read_bytes()).hexdigest()
    assert (frame["request_id"] == response.id).all() and list(frame["index"]) == [0, 1, 2, 3, 4]
    # text is hashed by default, never stored
    assert "text" not in frame.columns
    assert "violence=0.45" not in log_path.read_text()
    assert frame["text_sha256"].iloc[0] == hashlib.sha256(b"violence=0.45").hexdigest()
    assert (frame["latency_ms"] >= 0).all() and frame["time"].dt.tz is not None


def test_shadow_against_an_enforced_file_answers_by_the_enforced_one(tmp_path):
    new = _both(tmp_path)
    old = _file(tmp_path, "old.json", {"violence": 0.3, "hate": 0.95})
    log = modkit.DecisionLog(tmp_path / "d.jsonl")
    policy = DecisionPolicy(
        ThresholdSource.load(new), shadow=True, enforced=ThresholdSource.load(old), log=log
    )
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        response = client.moderations.create(input=["violence=0.35", "hate=0.5"])
    log.close()
    assert [r.flagged for r in response.results] == [True, False]  # by old.json
    assert response.results[0].model_extra.get("modkit") is None  # --actions not asked
    frame = modkit.read_decision_log(tmp_path / "d.jsonl")
    assert list(frame["enforced"]) == ["block", "allow"]
    assert list(frame["decision"]) == ["allow", "block"]  # what new.json would do
    assert set(frame["enforced_source"]) == {"enforced"}


def test_enforce_mode_review_band_reaches_the_client(tmp_path):
    policy = DecisionPolicy(ThresholdSource.load(_both(tmp_path)), actions=True)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        res = client.moderations.create(input=["violence=0.6", "violence=0.85"]).results
    assert (res[0].flagged, res[0].modkit["action"]) == (False, "review")
    assert res[0].modkit["categories"]["violence"] == "review"
    assert (res[1].flagged, res[1].modkit["action"]) == (True, "block")


def test_profile_per_request_by_header_and_unknown_profile_is_a_400(tmp_path):
    log = modkit.DecisionLog(tmp_path / "d.jsonl")
    policy = DecisionPolicy(ThresholdSource.load(_both(tmp_path)), log=log, actions=True)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        as_input = client.moderations.create(input="violence=0.3").results[0]
        as_output = client.moderations.create(
            input="violence=0.3", extra_headers={"X-Modkit-Profile": "output"}
        ).results[0]
        with pytest.raises(openai.BadRequestError) as info:
            client.moderations.create(input="x", extra_headers={"X-Modkit-Profile": "tenant-9"})
    log.close()
    assert (as_input.flagged, as_output.flagged) == (False, True)
    assert as_output.modkit["profile"] == "output"
    body = info.value.body
    assert body["code"] == "unknown_profile" and body["param"] == "X-Modkit-Profile"
    assert "'tenant-9'" in body["message"] and "input, output" in body["message"]
    frame = modkit.read_decision_log(tmp_path / "d.jsonl")
    assert list(frame["profile"]) == ["input", "output"]  # the refused one is not logged


def test_concurrent_clients_lose_and_duplicate_no_record(tmp_path):
    log_path = tmp_path / "d.jsonl"
    log = modkit.DecisionLog(log_path, rotate_bytes=20_000)  # several rotations on the way
    policy = DecisionPolicy(
        ThresholdSource.load(_both(tmp_path)), shadow=True, log=log, text="store"
    )
    sent = [f"violence=0.{i % 10} n={i}" for i in range(400)]
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=5)

        def send(chunk):
            return client.moderations.create(input=chunk).id

        chunks = [sent[i : i + 4] for i in range(0, len(sent), 4)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(send, chunks))
    log.close()
    frame = modkit.read_decision_log(log_path)
    assert len(frame.attrs["files"]) > 1  # rotated
    assert sorted(frame["text"]) == sorted(sent)  # none lost, none twice
    assert frame.groupby("request_id").size().to_dict() == dict.fromkeys(ids, 4)
    for _, group in frame.groupby("request_id"):  # a request's records stay together
        assert list(group["index"]) == [0, 1, 2, 3]


def test_serve_cli_shadow_with_decision_log_over_http(tmp_path):
    new = _file(tmp_path, "new.json", {"violence": 0.01})
    log_path = tmp_path / "decisions.jsonl"
    texts = [f"text {i}" for i in range(6)]
    with FaultServer() as upstream:
        env = {**os.environ, "UPSTREAM_KEY": "sk-upstream"}
        args = [
            "--backend",
            "openai",
            "--base-url",
            upstream.url,
            "--upstream-api-key-env",
            "UPSTREAM_KEY",
            "--no-cache",
            "--thresholds",
            str(new),
            "--shadow",
            "--decision-log",
            str(log_path),
            "--log-text",
            "drop",
            "--actions",
            "--no-access-log",
        ]
        with ServeProcess(args, env=env, timeout=60) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="unused")
            results = client.moderations.create(input=texts).results
    expected = [fake_result(t) for t in texts]
    assert [r.flagged for r in results] == [e["flagged"] for e in expected]  # upstream's own
    assert srv.returncode == 0, srv.stderr
    frame = modkit.read_decision_log(log_path)
    assert len(frame) == 6 and "text" not in frame and "text_sha256" not in frame
    would = ["block" if e["category_scores"]["violence"] >= 0.01 else "allow" for e in expected]
    assert frame["decision/violence"].tolist() == would
    assert "shadow" in srv.stderr and "sk-upstream" not in log_path.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shadow"], "--shadow needs --thresholds FILE"),
        (["--decision-log", "x.jsonl"], "--decision-log needs --thresholds FILE"),
        (["--thresholds", "T", "--enforced", "T"], "--enforced needs --shadow"),
        (["--thresholds", "T", "--profile", "tenant"], "--profile tenant: "),
    ],
)
def test_serve_cli_refuses_rollout_options_that_do_not_fit(tmp_path, args, message):
    import subprocess

    t = _file(tmp_path, "t.json", {"violence": 0.5})
    args = [str(t) if a == "T" else a for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "modkit", "serve", "--backend", "local", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_flag_review_makes_review_flagged_for_flag_only_consumers(tmp_path):
    policy = DecisionPolicy(ThresholdSource.load(_both(tmp_path)), actions=True, flag_review=True)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        res = client.moderations.create(input=["violence=0.6", "violence=0.1"]).results
    assert (res[0].flagged, res[0].categories.violence, res[0].modkit["action"]) == (
        True,
        True,
        "review",
    )
    assert (res[1].flagged, res[1].modkit["action"]) == (False, "allow")


@pytest.mark.parametrize("fmt", ["env", "yaml", "litellm", "rego", "json-flat"])
def test_every_export_says_what_it_does_with_review(tmp_path, fmt):
    from modkit.thresholds import export_thresholds, load_threshold_file

    text = export_thresholds(load_threshold_file(_both(tmp_path)), fmt)
    if fmt == "json-flat":
        assert "route it to a person" in json.loads(text)["review_band"]
    else:
        assert "# review: an item whose action is review" in text


def test_litellm_export_offers_pass_or_block_for_review(tmp_path):
    import subprocess

    path = _both(tmp_path)
    run = [sys.executable, "-m", "modkit", "export", str(path), "--format", "litellm"]
    passed = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    blocked = subprocess.run(
        [*run, "--litellm-review", "block"], capture_output=True, text=True, check=True
    ).stdout
    assert "# review: PASSED" in passed and "--decision-log" in passed
    assert "# review: BLOCKED" in blocked and "--flag-review" in blocked
    with pytest.raises(InputError, match="litellm_review must be pass or block"):
        from modkit.thresholds import export_thresholds, load_threshold_file

        export_thresholds(load_threshold_file(path), "litellm", litellm_review="tag")


def _tenants(tmp_path: Path) -> Path:
    """input and output profiles, and named ones for a tenant and a language."""
    path = tmp_path / "tenants.json"
    sets = [
        modkit.ThresholdSet.from_thresholds({"violence": 0.8}),
        modkit.ThresholdSet.from_thresholds({"violence": 0.9}, profile="output"),
        modkit.ThresholdSet.from_thresholds(
            {"violence": 0.2}, profile="tenant_kids", applies_to="input"
        ),
        modkit.ThresholdSet.from_dict(
            {"applies_to": "output", "categories": {"violence": {"block": 0.5}}}, profile="lang_de"
        ),
    ]
    modkit.ThresholdFile(sets).save(path)
    return path


def test_named_profiles_round_trip_and_are_picked_per_request(tmp_path):
    path = _tenants(tmp_path)
    file = modkit.load_threshold_file(path)
    assert list(file.profiles) == ["input", "output", "tenant_kids", "lang_de"]
    assert (file["tenant_kids"].applies_to, file["lang_de"].applies_to) == ("input", "output")
    doc = json.loads(path.read_text())
    assert doc["profiles"]["tenant_kids"]["applies_to"] == "input"
    assert "applies_to" not in doc["profiles"]["input"]  # the plain ones stay as they were
    log = modkit.DecisionLog(tmp_path / "d.jsonl")
    policy = DecisionPolicy(ThresholdSource.load(path), log=log, actions=True)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        flags = {
            name: client.moderations.create(
                input="violence=0.6", extra_headers={"X-Modkit-Profile": name}
            )
            .results[0]
            .flagged
            for name in ("input", "output", "tenant_kids", "lang_de")
        }
        with pytest.raises(openai.BadRequestError) as info:
            client.moderations.create(input="x", extra_headers={"X-Modkit-Profile": "tenant_x"})
    log.close()
    assert flags == {"input": False, "output": False, "tenant_kids": True, "lang_de": True}
    assert "input, output, tenant_kids, lang_de" in info.value.body["message"]
    frame = modkit.read_decision_log(tmp_path / "d.jsonl")
    assert list(frame["profile"]) == ["input", "output", "tenant_kids", "lang_de"]


@pytest.mark.parametrize(
    ("profile", "applies_to", "message"),
    [
        ("tenant_a", None, "named profile 'tenant_a' needs applies_to"),
        ("Tenant A", "input", "profile must be input, output or a named profile"),
        ("input", "output", "profile 'input': applies_to must be 'input'"),
    ],
)
def test_bad_profile_names_are_refused(profile, applies_to, message):
    with pytest.raises(InputError, match=re.escape(message)):
        modkit.ThresholdSet.from_thresholds(
            {"violence": 0.5}, profile=profile, applies_to=applies_to
        )


def test_named_profiles_in_exports(tmp_path):
    from modkit.thresholds import export_thresholds, load_threshold_file

    file = load_threshold_file(_tenants(tmp_path))
    env = export_thresholds(file, "env")
    assert "MODKIT_TENANT_KIDS_VIOLENCE_BLOCK=0.2" in env
    litellm = export_thresholds(file, "litellm", profile="lang_de")
    assert "mode: post_call" in litellm and "modkit serve --profile lang_de" in litellm
    assert "default_on: false" in litellm
    with pytest.raises(InputError, match="no profile 'tenant_x'"):
        export_thresholds(file, "yaml", profile="tenant_x")


def test_conversations_are_decided_and_logged_once_each(tmp_path):
    """A conversation input (issue 23's serve path) is one result, one decision, one record
    hashing the conversation itself; its ``conversation`` record and the ``modkit`` field sit
    side by side."""
    conv = [
        {"role": "user", "content": "violence=0.2"},
        {"role": "assistant", "content": "violence=0.85"},
    ]
    log = modkit.DecisionLog(tmp_path / "d.jsonl")
    policy = DecisionPolicy(ThresholdSource.load(_both(tmp_path)), log=log, actions=True)
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        res = client.moderations.create(input=[conv, conv[:1]]).results  # type: ignore[arg-type]
    log.close()
    assert [r.modkit["action"] for r in res] == ["block", "allow"]  # max over the messages
    assert res[0].model_extra["conversation"]["strategy"] == "per_message"
    frame = modkit.read_decision_log(tmp_path / "d.jsonl")
    digest = hashlib.sha256(json.dumps(conv, sort_keys=True).encode()).hexdigest()
    assert len(frame) == 2 and frame["text_sha256"].iloc[0] == digest
    assert list(frame["violence"]) == [0.85, 0.2]


def test_a_killed_server_leaves_every_flushed_record_readable(tmp_path):
    """SIGKILL (no shutdown, no close): what the writer flushed is on file and readable."""
    import signal
    import time

    t = _file(tmp_path, "t.json", {"violence": 0.5})
    log_path = tmp_path / "decisions.jsonl"
    with FaultServer() as upstream:
        env = {**os.environ, "UPSTREAM_KEY": "sk-upstream"}
        args = [
            "--backend",
            "openai",
            "--base-url",
            upstream.url,
            "--upstream-api-key-env",
            "UPSTREAM_KEY",
            "--no-cache",
            "--thresholds",
            str(t),
            "--shadow",
            "--decision-log",
            str(log_path),
            "--no-access-log",
        ]
        srv = ServeProcess(args, env=env, timeout=60).start()
        try:
            client = openai.OpenAI(base_url=srv.url, api_key="unused")
            for i in range(10):
                client.moderations.create(input=[f"a {i}", f"b {i}", f"c {i}"])
            deadline = time.monotonic() + 30  # the writer flushes once per wake-up
            while time.monotonic() < deadline:
                if log_path.read_bytes().count(b"\n") == 30:
                    break
                time.sleep(0.05)
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
        finally:
            srv.stop()
    frame = modkit.read_decision_log(log_path)
    assert len(frame) == 30 and frame.attrs["torn_lines"] == 0
    assert frame.groupby("request_id").size().tolist() == [3] * 10
