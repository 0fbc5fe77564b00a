"""Mistral moderation 2603: the pinned default, its categories in the crosswalk, 2411 still
selectable, and the warning when an alias resolves to a deprecated snapshot (over real HTTP
against :class:`MistralModerationFake` with the official ``mistralai`` client)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit.backends import MISTRAL_DEFAULT_MODEL, MISTRAL_MODELS, deprecated_model_message
from modkit.testing import MISTRAL_2603_CATEGORIES, MISTRAL_CATEGORIES, MistralModerationFake

KEY = "mistral-2603-canary"
TEXTS = ["a calm line", "I will hurt you", "we should kill them all", "hello"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def _run(fake, **kw):
    with modkit.backends.MistralBackend(base_url=fake.url, api_key=KEY, **kw) as backend:
        return modkit.moderate(TEXTS, backend=backend, cache=None, progress=False)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_the_default_is_the_pinned_2603_with_its_eleven_categories(caplog):
    assert MISTRAL_DEFAULT_MODEL == "mistral-moderation-2603"
    with caplog.at_level(logging.WARNING, logger="modkit"), MistralModerationFake() as fake:
        df = _run(fake)
        sent = fake.requests
    assert sent[0].body["model"] == "mistral-moderation-2603"
    assert (df["model"] == "mistral-moderation-2603").all()
    assert set(MISTRAL_2603_CATEGORIES) <= set(df.columns)
    assert "dangerous_and_criminal_content" not in df.columns
    for row in df.to_dict("records"):
        for c in ("jailbreaking", "dangerous", "criminal"):
            assert row[c] == fake.score(row["text"], c)
    assert not [m for m in _warnings(caplog) if "deprecated" in m]
    assert modkit.providers.detect_provider(df.columns) == "mistral"


def test_an_alias_resolving_to_the_deprecated_2411_warns_once_naming_the_successor(caplog):
    with (
        caplog.at_level(logging.WARNING, logger="modkit"),
        MistralModerationFake() as fake,
        modkit.backends.MistralBackend(
            "mistral-moderation-latest", base_url=fake.url, api_key=KEY
        ) as b,
    ):
        df = modkit.moderate(TEXTS, backend=b, cache=None, progress=False, batch_size=1)
    assert (df["model"] == "mistral-moderation-2411").all()  # the response's model field
    assert set(MISTRAL_CATEGORIES) <= set(df.columns) and "jailbreaking" not in df.columns
    hits = [m for m in _warnings(caplog) if "deprecated" in m]
    assert hits == [
        "mistral: 'mistral-moderation-latest' resolved to 'mistral-moderation-2411', "
        "deprecated since 2026-03-31; pin 'mistral-moderation-2603' "
        "(--model mistral-moderation-2603)"
    ]


def test_2411_stays_selectable_and_says_it_is_deprecated(caplog):
    with caplog.at_level(logging.WARNING, logger="modkit"), MistralModerationFake() as fake:
        df = _run(fake, model="mistral-moderation-2411")
    assert (df["error"] == "").all() and (df["model"] == "mistral-moderation-2411").all()
    assert "dangerous_and_criminal_content" in df.columns
    assert any(
        "'mistral-moderation-2411' is deprecated since 2026-03-31" in m for m in _warnings(caplog)
    )


def test_an_alias_resolving_to_a_current_snapshot_is_quiet(caplog):
    aliases = {"mistral-moderation-latest": "mistral-moderation-2603"}
    with (
        caplog.at_level(logging.WARNING, logger="modkit"),
        MistralModerationFake(aliases=aliases) as fake,
    ):
        df = _run(fake, model="mistral-moderation-latest")
    assert (df["model"] == "mistral-moderation-2603").all()
    assert not [m for m in _warnings(caplog) if "deprecated" in m]


def test_cli_prints_the_deprecation_warning(tmp_path):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    env = {**os.environ, "MISTRAL_API_KEY": KEY, "MODKIT_CACHE_DIR": str(tmp_path / "c")}
    with MistralModerationFake(api_key=KEY) as fake:
        done = subprocess.run(
            [sys.executable, "-m", "modkit", "moderate", str(src), "-o", str(out), "--backend",
             "mistral", "--base-url", fake.url, "--model", "mistral-moderation-latest",
             "--no-progress"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "modkit: mistral: 'mistral-moderation-latest' resolved to 'mistral-moderation-2411', "
        "deprecated since 2026-03-31" in done.stderr
    )
    assert KEY not in done.stderr + done.stdout


def test_the_crosswalk_maps_the_split_categories_and_keeps_jailbreaking_native():
    tax = modkit.providers.PROVIDERS["mistral"]
    for c in ("dangerous", "criminal", "jailbreaking", "dangerous_and_criminal_content"):
        assert c in tax.categories
    table = modkit.providers.crosswalk("mistral").set_index("api_key")
    assert "criminal" in table.loc["illicit", "native"]
    assert {"dangerous", "criminal"} <= set(table.loc["illicit/violent", "native"].split(" + "))
    assert not table["native"].str.contains("jailbreaking").any()  # no API key for it
    assert set(MISTRAL_MODELS["mistral-moderation-2603"].categories) <= set(tax.categories)
    assert set(MISTRAL_MODELS["mistral-moderation-2411"].categories) <= set(tax.categories)


@given(st.text(max_size=40), st.one_of(st.text(max_size=40), st.sampled_from(list(MISTRAL_MODELS))))
def test_only_a_deprecated_resolved_snapshot_warns(requested, resolved):
    message = deprecated_model_message(requested, resolved)
    info = MISTRAL_MODELS.get(resolved)
    if info is None or info.deprecated is None:
        assert message is None
    else:
        assert message is not None
        assert repr(resolved) in message and str(info.deprecated) in message
        assert repr(info.successor) in message
