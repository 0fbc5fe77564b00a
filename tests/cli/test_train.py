"""``modkit train`` / ``modkit datasets``: a folder given with ``--data-dir`` must exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modkit.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modkit", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ["train", "{out}", "--data-dir", "{missing}"],
        ["train", "{out}", "--crossfit-only", "--data-dir", "{missing}"],
        ["datasets", "path", "hatecheck", "--data-dir", "{missing}"],
        ["datasets", "list", "--data-dir", "{missing}"],
    ],
)
def test_a_missing_data_dir_is_one_line_and_nothing_is_written(tmp_path, args):
    """A mistyped ``--data-dir`` used to be skipped silently: train then ran on other data."""
    missing, out = tmp_path / "no-such-data", tmp_path / "out"
    done = _run(*(a.format(out=out, missing=missing) for a in args))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"modkit {args[0]}")  # "modkit datasets path: error: ..."
    assert lines[-1].endswith(f": error: argument --data-dir: no such folder: {missing}")
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not out.exists()


@settings(max_examples=25, deadline=None)
@given(name=st.text(st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1))
def test_any_missing_folder_name_is_refused_before_anything_runs(tmp_path_factory, name):
    base = tmp_path_factory.mktemp("d")
    missing, out = base / "nowhere" / name, base / "out"
    with pytest.raises(SystemExit) as exc:
        main(["train", str(out), "--data-dir", str(missing)])
    assert exc.value.code == 2 and not out.exists()


def test_an_existing_data_dir_is_accepted(tmp_path, capsys):
    """A folder that exists passes the check (the command then runs as before)."""
    assert main(["datasets", "list", "--data-dir", str(tmp_path)]) == 0
    assert "hatecheck" in capsys.readouterr().out


def test_a_file_is_not_a_data_dir(tmp_path):
    afile = Path(tmp_path / "data.csv")
    afile.write_text("text\n")
    done = _run("train", str(tmp_path / "out"), "--data-dir", str(afile))
    assert done.returncode == 2 and done.stderr.strip().endswith(f"no such folder: {afile}")
