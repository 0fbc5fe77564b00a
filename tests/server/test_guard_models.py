"""``modkit serve`` around the policy-prompt and three-tier backends: the official ``openai``
client asks the served endpoint, which asks the local fakes, all over real HTTP."""

from __future__ import annotations

import pytest
from openai import OpenAI

from modkit.server import ServeProcess
from modkit.testing import PolicyModelFake, Qwen3GuardFake

TEXTS = ["a quiet line", "I will hurt you", "we should kill them all"]
POLICY = "# Violence\nFlag threats.\n\n## Output\nAnswer 1 if violating, else 0.\n"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def test_serve_a_policy_model_and_qwen3guard(tmp_path):
    policy = tmp_path / "violence.md"
    policy.write_text(POLICY, encoding="utf-8")
    with PolicyModelFake() as pfake, Qwen3GuardFake() as qfake:
        cases = [
            (["--backend", "policy", "--base-url", pfake.url, "--model", "gpt-oss-safeguard-20b",
              "-O", f"policy={policy}"], "gpt-oss-safeguard-20b"),
            (["--backend", "qwen3guard", "--base-url", qfake.url, "--model",
              "Qwen/Qwen3Guard-Gen-4B", "-O", "reading=loose"], "Qwen/Qwen3Guard-Gen-4B"),
        ]  # fmt: skip
        bodies = []
        for args, model in cases:
            with (
                ServeProcess(args) as srv,
                OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
            ):
                raw = client.moderations.with_raw_response.create(input=TEXTS, model=model)
                bodies.append(raw.http_response.json())
        policy_body, qwen_body = bodies
    for text, result in zip(TEXTS, policy_body["results"], strict=True):
        assert result["category_scores"]["violence"] == pytest.approx(
            pfake.p_violation(text, POLICY)
        )
    assert "@policy-sha256:" in policy_body["model"]
    for text, result in zip(TEXTS, qwen_body["results"], strict=True):
        want = qfake.tier_probabilities(text)
        assert result["category_scores"]["Unsafe"] == pytest.approx(want["Unsafe"])
        tier = max(want, key=lambda t: want[t])
        assert result["flagged"] == (tier == "Unsafe")  # the loose reading
