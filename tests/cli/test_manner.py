"""One CLI manner (issue 25 point 4): every option of every registered sub-command has help
text and shows its default; commands in workflow order; a table or file goes to stdout
without -o. Walks the parser, so commands added later are held to the same rules."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit.cli import build_parser, main


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "modkit"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subparsers(sub, f"{prefix} {name}")


COMMANDS = list(_subparsers(build_parser()))


def _arguments(sub: argparse.ArgumentParser):
    return [
        a
        for a in sub._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


@pytest.mark.parametrize(("name", "sub"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_argument_has_help_and_every_default_is_shown(name, sub, capsys):
    missing = [
        a.option_strings[0] if a.option_strings else a.dest for a in _arguments(sub) if not a.help
    ]
    assert not missing, f"{name}: add help text to {missing}"
    formatter = sub._get_formatter()  # the text --help prints for each option
    for a in _arguments(sub):
        if a.option_strings and a.default not in (None, False, True, [], "", argparse.SUPPRESS):
            shown = formatter._get_help_string(a) or ""
            assert "default" in shown.lower(), f"{name} {a.option_strings}: show the default"
    with pytest.raises(SystemExit):
        sub.parse_args(["--help"])  # and the help renders
    assert capsys.readouterr().out.startswith("usage:")


def test_commands_are_listed_in_workflow_order(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    listed = re.findall(r"^    ([a-z][a-z-]*) ", out, flags=re.M)
    order = [
        "demo",
        "lab",
        "datasets",
        "expand",
        "moderate",
        "crosstab",
        "report",
        "fit",
        "apply",
        "check",
        "serve",
    ]
    at = [listed.index(c) for c in order]
    assert at == sorted(at), listed


def test_a_command_help_names_only_actions_it_has():
    parser = build_parser()
    root = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    line = next(c.help for c in root._choices_actions if c.dest == "datasets")
    sub = root.choices["datasets"]
    actions = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
    for word in ("locate", "fetch"):  # no such actions
        assert word not in line
    for action in actions.choices:
        assert action in line


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    scores = pd.DataFrame(
        {
            "text": [f"t{i}" for i in range(120)],
            "violence": np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1),
        }
    )
    modkit.write_table(scores, tmp_path / "scores.csv")
    modkit.write_table(pd.DataFrame({"violence": y}), tmp_path / "labels.csv")
    (tmp_path / "texts.txt").write_text("hello\nI will hurt you\n", encoding="utf-8")
    return tmp_path


def test_moderate_apply_and_fit_write_to_stdout_without_o(files, capsys):
    f = files
    assert main(["moderate", str(f / "texts.txt"), "--backend", "local", "--no-cache"]) == 0
    out = capsys.readouterr()
    assert (
        main(
            [
                "moderate",
                str(f / "texts.txt"),
                "--backend",
                "local",
                "--no-cache",
                "-o",
                str(f / "m.csv"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert out.out == (f / "m.csv").read_bytes().decode("utf-8")
    assert "-> standard output" in out.err
    # fit: the threshold file on stdout (valid, loadable), its report on stderr
    assert (
        main(
            [
                "fit",
                str(f / "scores.csv"),
                str(f / "labels.csv"),
                "--objective",
                "f1",
                "--bootstrap",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["schema_version"] == 3 and "violence" in doc["profiles"]["input"]["categories"]
    assert "wrote standard output" in out.err
    (f / "t.json").write_text(out.out, encoding="utf-8")
    assert main(["validate", str(f / "t.json")]) == 0
    capsys.readouterr()
    assert main(["apply", str(f / "t.json"), str(f / "scores.csv")]) == 0
    out = capsys.readouterr()
    decisions = pd.read_csv(__import__("io").StringIO(out.out))
    assert len(decisions) == 120 and set(decisions["action"]) <= {"allow", "review", "block"}
