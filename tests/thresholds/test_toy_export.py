"""An export format added through the registry alone (tests/fixtures/plugins/toy_export.py):
``export_thresholds(..., "toy")`` and ``modkit export --format toy`` with its own flag."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import InputError, ThresholdSet
from modkit.cli import main
from modkit.thresholds import ThresholdFile, export_formats, export_thresholds

PLUGIN = Path(__file__).parents[1] / "fixtures" / "plugins" / "toy_export.py"


def _load_plugin():
    spec = importlib.util.spec_from_file_location("toy_export_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy(monkeypatch):
    """Register the plugin's format; undo it afterwards."""
    from modkit.thresholds import _export

    monkeypatch.setattr(_export, "_FORMATS", dict(_export._FORMATS))
    return _load_plugin()


def _read_toy(text: str, sep: str) -> dict:
    rows = [line.split(sep) for line in text.splitlines()]
    assert rows[0] == ["profile", "category", "review", "block"]
    return {
        (p, c): (None if r == "" else float(r), None if b == "" else float(b))
        for p, c, r, b in rows[1:]
    }


def _file() -> ThresholdFile:
    return ThresholdFile(
        {
            "input": ThresholdSet.from_thresholds(
                {"violence": {"block": 0.8, "review": 0.5}, "self-harm/intent": {"block": 0.3}}
            ),
            "output": ThresholdSet.from_thresholds({"hate": {"block": 0.9}}, profile="output"),
        }
    )


def test_the_plugin_is_not_named_anywhere_in_modkit():
    root = Path(modkit.__file__).parent
    assert [p for p in root.rglob("*.py") if "write_toy" in p.read_text(encoding="utf-8")] == []
    assert "toy" not in [f.name for f in export_formats()]


thresholds = st.floats(0, 1, allow_nan=False)


@settings(max_examples=30, deadline=None)
@given(
    block=st.dictionaries(st.sampled_from(modkit.CATEGORIES), thresholds, min_size=1),
    sep=st.sampled_from([",", ";", "|", "\t"]),
)
def test_export_thresholds_writes_it_with_its_option(monkeypatch_module, block, sep):
    ts = ThresholdSet.from_thresholds({c: {"block": b} for c, b in block.items()})
    text = export_thresholds(ThresholdFile({"input": ts}), "toy", toy_separator=sep)
    assert _read_toy(text, sep) == {("input", c): (None, b) for c, b in block.items()}


@pytest.fixture(scope="module")
def monkeypatch_module():
    from modkit.thresholds import _export

    saved = dict(_export._FORMATS)
    _load_plugin()
    yield
    _export._FORMATS.clear()
    _export._FORMATS.update(saved)


def test_its_options_are_checked(toy):
    tf = _file()
    with pytest.raises(InputError, match="toy: the separator must be one punctuation"):
        export_thresholds(tf, "toy", toy_separator="ab")
    with pytest.raises(
        InputError, match=r"unknown option 'toy_sep' \(its options: toy_separator\)"
    ):
        export_thresholds(tf, "toy", toy_sep=";")
    # another format's option is ignored (the CLI passes every flag), as before
    assert export_thresholds(tf, "toy", rego_package="x.y") == export_thresholds(tf, "toy")


def test_modkit_export_format_toy_end_to_end(toy, tmp_path, capsys, monkeypatch):
    path = tmp_path / "t.json"
    _file().save(path)
    assert main(["export", str(path), "--format", "toy", "--toy-separator", ";"]) == 0
    printed = capsys.readouterr().out
    assert _read_toy(printed, ";") == {
        ("input", "violence"): (0.5, 0.8),
        ("input", "self-harm/intent"): (None, 0.3),
        ("output", "hate"): (None, 0.9),
    }
    out = tmp_path / "t.toy"
    assert main(["export", str(path), "-f", "toy", "--profile", "output", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == "profile,category,review,block\noutput,hate,,0.9\n"
    assert "modkit export: toy -> " in capsys.readouterr().err
    # its entry writes the CLI's choices and help
    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping (argparse breaks at hyphens)
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "toy (toy separated values)" in help_text
    assert "--toy-separator SEPARATOR toy: the field separator (default: ,)" in help_text
    # a bad value is one line and a non-zero exit
    assert main(["export", str(path), "-f", "toy", "--toy-separator", "xx"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the separator must be one punctuation character" in err[0]
