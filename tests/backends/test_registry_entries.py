"""The backend registry's entries are the one source of the CLI's backend words: choices,
help of the shared flags, the API-key variables, serve's remote list, the provider."""

from __future__ import annotations

import pytest

from modkit.backends import BACKEND_NAMES, backend_spec, backend_specs
from modkit.cli import main
from modkit.providers import PROVIDERS


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # argparse wraps (and hyphen-breaks) at the width


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_every_builtin_entry_is_complete():
    assert [s.name for s in backend_specs()][: len(BACKEND_NAMES)] == list(BACKEND_NAMES)
    for spec in backend_specs():
        assert spec.summary, spec.name
        assert spec.provider is None or spec.provider in PROVIDERS, spec.name
        if spec.remote:  # a paid or rate-limited service says where its endpoint is
            assert "base_url" in spec.cli_help or spec.name == "openai", spec.name
    assert backend_spec("azure").provider == "azure"
    assert backend_spec("granite-guardian-3.3").provider == "granite-guardian"


@pytest.mark.parametrize("command", ["moderate", "serve"])
def test_the_shared_flags_help_is_written_from_the_entries(capsys, command):
    text = _help(capsys, command)
    for spec in backend_specs():
        assert f"{spec.name}: {spec.summary}" in text
        if spec.key_env:
            assert spec.key_env in text
    chat = [s.name for s in backend_specs() if s.cli_help.get("base_url") == "a chat endpoint"]
    assert f"{', '.join(chat)}: a chat endpoint" in text
    assert "azure: the resource endpoint" in text


def test_serve_names_exactly_the_remote_backends(capsys):
    text = _help(capsys, "serve")
    remote = ", ".join(s.name for s in backend_specs() if s.remote)
    assert f"without it the remote backends ({remote}) use the default cache" in text
    assert "local" not in remote.split(", ") and "replay" not in remote.split(", ")
