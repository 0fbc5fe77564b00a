"""Every CLI failure is one line on stderr and a non-zero exit; --debug shows the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import modkit.cli._moderate
from modkit._io import atomic_path
from modkit.cli import main, one_line


def _stderr_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_a_modkit_error_is_one_line(tmp_path, capsys):
    code = main(["moderate", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")])
    lines = _stderr_lines(capsys)
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("modkit moderate: error: ")
    assert "missing.csv" in lines[0]


@pytest.mark.parametrize(
    "exc", [RuntimeError("boom\nsecond line"), KeyError("text"), MemoryError(), OSError(5, "EIO")]
)
def test_any_other_exception_is_one_line_too(tmp_path, capsys, monkeypatch, exc):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(modkit.cli._moderate, "read_table", fail)
    monkeypatch.delenv("MODKIT_DEBUG", raising=False)
    code = main(["moderate", "in.csv", "-o", str(tmp_path / "o.csv")])
    lines = _stderr_lines(capsys)
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"modkit moderate: error: {type(exc).__name__}")
    assert "--debug" in lines[0]
    assert "Traceback" not in lines[0]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(tmp_path, capsys, monkeypatch, how):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(modkit.cli._moderate, "read_table", fail)
    argv = ["moderate", "in.csv", "-o", str(tmp_path / "o.csv")]
    if how == "flag":
        argv.insert(0, "--debug")
    else:
        monkeypatch.setenv("MODKIT_DEBUG", "1")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "in fail" in err
    assert err.strip().splitlines()[-1] == (
        "modkit moderate: error: RuntimeError: boom "
        "(an unexpected error: run with --debug for the traceback)"
    )


def test_keyboard_interrupt_exits_130(tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(modkit.cli._moderate, "read_table", interrupt)
    assert main(["moderate", "in.csv", "-o", str(tmp_path / "o.csv")]) == 130
    assert len(_stderr_lines(capsys)) == 1


def test_a_failed_write_leaves_no_output_and_no_temporary_file(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["a", "b"]}).to_csv(src, index=False)
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")

    def broken_writer(frame, path):
        Path(path).write_text("half a fi")
        raise RuntimeError("disk full")

    import modkit._io

    monkeypatch.setattr(modkit._io, "_write_jsonl", broken_writer)
    code = main(["moderate", str(src), "-o", str(out), "--backend", "local", "--no-cache"])
    assert code == 1
    assert "disk full" in _stderr_lines(capsys)[-1]
    assert out.read_text() == "previous\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]


def test_atomic_path_removes_the_temporary_file_on_any_failure(tmp_path):
    target = tmp_path / "x.txt"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    assert target.read_text() == "whole"


def test_one_line_joins_the_lines_of_a_message():
    assert one_line(modkit.InputError("a\n  b\n\nc")) == "a; b; c"


def test_in_a_real_process(tmp_path):
    env = {**os.environ, "MODKIT_DEBUG": ""}
    cmd = [sys.executable, "-m", "modkit", "apply", str(tmp_path / "nope.json"), "x.csv"]
    cmd += ["-o", str(tmp_path / "o.csv")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("modkit apply: error: ")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**env, "MODKIT_DEBUG": "1"}, timeout=120
    )
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr


@pytest.mark.parametrize(
    ("option", "value", "wording"),
    [
        ("--cv", "-3", "--cv must be an integer >= 0; got -3"),
        ("--bootstrap", "-1", "--bootstrap must be an integer >= 0; got -1"),
        ("--confidence", "2", "--confidence must be a number in (0, 1)"),
        ("--min-positives", "0", "--min-positives must be an integer >= 1; got 0"),
    ],
)
def test_a_bad_option_value_is_named_as_the_option(tmp_path, capsys, option, value, wording):
    texts = [f"text {i}" for i in range(20)]
    scores, labels = tmp_path / "s.csv", tmp_path / "l.csv"
    pd.DataFrame({"text": texts, "hate": [i / 20 for i in range(20)], "error": ""}).to_csv(
        scores, index=False
    )
    pd.DataFrame({"text": texts, "hate": [i % 2 for i in range(20)]}).to_csv(labels, index=False)
    argv = ["fit", str(scores), str(labels), "-o", str(tmp_path / "t.json"), "--objective", "f1"]
    assert main([*argv, option, value]) == 1
    (line,) = _stderr_lines(capsys)
    # the command line's words, not the Python function's (fit_thresholds: min_positives)
    assert line.startswith(f"modkit fit: error: {wording}"), line
    assert not (tmp_path / "t.json").exists()
