"""A backend added through the registries alone (tests/fixtures/plugins/toy_backend.py):
``make_backend``, ``modkit moderate --backend toy``, its help, its taxonomy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import modkit
from modkit import InputError, read_table
from modkit.backends import backend_names, backend_spec, make_backend
from modkit.cli import main
from modkit.providers import PROVIDERS, crosswalk, detect_provider, provider_scale

PLUGIN = Path(__file__).parents[1] / "fixtures" / "plugins" / "toy_backend.py"


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """Import the plugin (it registers itself); undo the registration afterwards."""
    from modkit.backends import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    saved = dict(PROVIDERS)
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("toy_backend_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    PROVIDERS.clear()
    PROVIDERS.update(saved)


def test_the_plugin_is_not_named_anywhere_in_modkit():
    root = Path(modkit.__file__).parent
    hits = [p for p in root.rglob("*.py") if "ToyBackend" in p.read_text(encoding="utf-8")]
    assert hits == []
    assert "toy" not in backend_names()


def test_make_backend_builds_it_and_checks_its_options(toy):
    assert "toy" in backend_names()
    with make_backend("toy", flag_at=0.25, words=[["meh"], ["boo"]]) as backend:
        [res] = backend.score(["meh boo boo x"])
    assert res.category_scores == {"RUDE": 0.25, "SCARY": 0.5}
    assert res.categories == {"RUDE": True, "SCARY": True}
    with pytest.raises(InputError, match=r"option 'flag_att' .*did you mean 'flag_at'"):
        make_backend("toy", flag_att=0.3)
    with pytest.raises(
        InputError, match=r"make_backend\('toy'\): flag_at must be float; got 'high'"
    ):
        make_backend("toy", flag_at="high")


def test_its_taxonomy_reaches_the_providers_table(toy):
    assert provider_scale("toy").kind == "probability"
    table = crosswalk("toy")
    row = table.set_index("api_key").loc["violence"]
    assert (row["relation"], row["native"]) == ("exact", "SCARY")
    assert table.set_index("api_key").loc["hate", "relation"] == "absent"
    assert detect_provider(["text", "RUDE", "SCARY"]) == "toy"
    assert backend_spec("toy").provider == "toy"


def test_modkit_moderate_backend_toy_end_to_end(toy, tmp_path, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.csv"
    src.write_text("you idiot\nhello there\nkill kill\n", encoding="utf-8")
    args = ["moderate", str(src), "-o", str(out), "--backend", "toy", "-O", "flag_at=0.5"]
    assert main([*args, "--model", "toy-7"]) == 0
    df = read_table(out)
    assert df["RUDE"].tolist() == [0.5, 0.0, 0.0]
    assert df["SCARY"].tolist() == [0.0, 0.0, 1.0]
    assert df["flagged"].tolist() == [True, False, True]
    assert set(df["model"]) == {"toy-7"}
    pd.testing.assert_series_equal(
        df["text"], pd.Series(["you idiot", "hello there", "kill kill"], name="text")
    )
    capsys.readouterr()
    # a bad option is one line and exit status 1, naming the backend's options
    assert main([*args[:-1], "flag_att=0.5"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "option 'flag_att' does not apply to backend 'toy'" in err[0]


def test_its_registry_entry_writes_the_cli_help(toy, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping (argparse breaks at hyphens)
    with pytest.raises(SystemExit):
        main(["moderate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "toy: word lists (a test plugin)" in help_text
    assert "toy: any name (recorded with the results)" in help_text
    assert "{local,openai,replay," in help_text and ",toy}" in help_text
