"""The provider backends by name: ``make_backend``, ``modkit moderate --backend NAME`` and
``modkit serve --backend NAME``, against the local fakes over real HTTP."""

from __future__ import annotations

import os

import pytest
from openai import OpenAI

import modkit
from modkit import read_table
from modkit.cli import main
from modkit.server import ServeProcess
from modkit.testing import (
    MISTRAL_2603_CATEGORIES,
    AzureContentSafetyFake,
    GuardModelFake,
    MistralModerationFake,
    PerspectiveFake,
)

TEXTS = ["a quiet line", "I will hurt you", "we should kill them all"]
KEY = "azure-cli-canary-3c1d"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def test_make_backend_builds_each_provider_with_typed_options():
    b = modkit.make_backend(
        "azure", base_url="http://127.0.0.1:9", api_key="k", output_type="FourSeverityLevels"
    )
    assert (
        isinstance(b, modkit.backends.AzureContentSafetyBackend)
        and b.output_type == "FourSeverityLevels"
    )
    g = modkit.make_backend(
        "guard",
        model="google/shieldgemma-2b",
        base_url="http://x/v1",
        mode="response",
        categories=["Harassment"],
    )
    assert isinstance(g, modkit.backends.GuardBackend) and g.family == "shieldgemma"
    assert isinstance(
        modkit.make_backend("perspective", base_url="http://x"), modkit.backends.PerspectiveBackend
    )
    assert isinstance(
        modkit.make_backend("mistral", base_url="http://x"), modkit.backends.MistralBackend
    )
    with pytest.raises(modkit.InputError, match="output_type"):
        modkit.make_backend("azure", base_url="http://x", api_key="k", output_type="Six")
    with pytest.raises(modkit.InputError, match="needs option 'model'"):
        modkit.make_backend("guard", base_url="http://x/v1")
    with pytest.raises(modkit.InputError, match="option 'model' does not apply"):
        modkit.make_backend("perspective", model="x")


def test_moderate_cli_with_azure_reads_the_key_from_the_named_variable(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MY_AZURE_KEY", KEY)
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    with AzureContentSafetyFake(api_key=KEY) as fake:
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "azure",
                "--base-url",
                fake.url,
                "--api-key-env",
                "MY_AZURE_KEY",
                "-O",
                "output_type=FourSeverityLevels",
                "--no-progress",
            ]
        )
    assert code in (0, None)
    df = read_table(out)
    for row in df.to_dict("records"):
        for c in ("Hate", "SelfHarm", "Sexual", "Violence"):
            assert row[c] == fake.severity(row["text"], c, "FourSeverityLevels")
    printed = capsys.readouterr()
    assert KEY not in printed.out + printed.err and KEY not in out.read_text()


def test_moderate_cli_with_guard_and_a_clear_error_for_a_wrong_option(tmp_path, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.csv"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    with GuardModelFake() as fake:
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "guard",
                "--base-url",
                fake.url,
                "--model",
                "meta-llama/Llama-Guard-3-8B",
                "--no-progress",
            ]
        )
        assert code in (0, None)
        df = read_table(out)
        assert df["unsafe"].tolist() == pytest.approx([fake.p_unsafe(t) for t in TEXTS])
        capsys.readouterr()
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "perspective",
                "--model",
                "nope",
                "--base-url",
                fake.url,
            ]
        )
    assert code not in (0, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'model' does not apply to backend 'perspective'" in err[0]


@pytest.mark.parametrize("provider", ["mistral", "perspective"])
def test_serve_proxies_a_provider_with_its_native_categories_through_the_cache(provider):
    fake_cls = MistralModerationFake if provider == "mistral" else PerspectiveFake
    with fake_cls(api_key="upstream-secret") as fake:
        env = {**os.environ, "UPSTREAM_KEY": "upstream-secret"}
        args = [
            "--backend",
            provider,
            "--base-url",
            fake.url,
            "--upstream-api-key-env",
            "UPSTREAM_KEY",
        ]
        with (
            ServeProcess(args, env=env) as srv,
            OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
        ):
            raw = client.moderations.with_raw_response.create(input=TEXTS, model=provider)
            body = raw.http_response.json()
            sent = len(fake.requests)
            again = client.moderations.with_raw_response.create(input=TEXTS, model=provider)
            assert again.http_response.json()["results"] == body["results"]
            assert len(fake.requests) == sent  # answered from the default cache
    assert len(body["results"]) == len(TEXTS)
    cats = MISTRAL_2603_CATEGORIES if provider == "mistral" else ("TOXICITY", "THREAT")
    for text, result in zip(TEXTS, body["results"], strict=True):
        for c in cats:
            assert result["category_scores"][c] == pytest.approx(fake.score(text, c))
    assert "upstream-secret" not in srv.stdout + srv.stderr
