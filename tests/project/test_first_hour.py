"""A new user's first hour (issue 25): paths found from a notebook, `modkit lab`'s git
filter, and progress on long commands in a terminal (quiet in a pipe or with --quiet)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit.cli import main

ROOT = Path(__file__).resolve().parents[2]


# ----- paths: the notebook folder, then the project root; the error names every place


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.yaml").write_text("- text: hi\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("given", ["data/mine.yaml", "../data/mine.yaml"])
def test_a_file_named_from_the_root_or_the_notebook_is_found(project, given):
    found = modkit.find_file(given, start=project / "notebooks")
    assert found == project / "data" / "mine.yaml"


def test_the_current_folder_is_the_default_start(project, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    assert modkit.find_file("data/mine.yaml") == project / "data" / "mine.yaml"
    assert modkit.find_file(project / "data" / "mine.yaml") == project / "data" / "mine.yaml"


def test_a_missing_file_names_every_place_tried(project):
    with pytest.raises(modkit.InputError) as err:
        modkit.find_file("templates/x.yaml", what="template file", start=project / "notebooks")
    message = str(err.value)
    assert message.startswith("template file 'templates/x.yaml' not found; looked in: ")
    assert str(project / "notebooks" / "templates" / "x.yaml") in message
    assert str(project / "templates" / "x.yaml") in message
    with pytest.raises(modkit.InputError, match="is a folder, not a file"):
        modkit.find_file("data", start=project)
    with pytest.raises(modkit.InputError, match=r"looked in: /nowhere/x\.yaml$"):
        modkit.find_file("/nowhere/x.yaml")


def test_quickstart_notebook_finds_a_template_named_from_the_root():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "modkit.find_file(template_file" in code  # the helper, not a bare Path
    cwd = os.getcwd()
    try:
        os.chdir(ROOT / "notebooks")  # where Jupyter runs the kernel
        for given in ("data/templates/examples.yaml", "../data/templates/examples.yaml"):
            path = modkit.find_file(given, what="template file")
            assert len(modkit.expand(path)) > 0
    finally:
        os.chdir(cwd)


# ----- modkit lab sets the same git filter as `make hooks`


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_lab_sets_the_nbstripout_filter_of_the_checkout(tmp_path, capsys):
    from modkit.cli._lab import git_filter_commands

    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    assert git_filter_commands(repo / "notebooks") == []  # no .gitattributes: nothing set
    (repo / ".gitattributes").write_text("*.ipynb filter=nbstripout diff=ipynb\n", "utf-8")
    assert main(["lab", "--dir", str(repo / "notebooks"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "filter.nbstripout.clean" in printed and "--ServerApp.root_dir=" in printed
    for cmd in git_filter_commands(repo / "notebooks"):
        subprocess.run(cmd, check=True)
    clean = _git("config", "filter.nbstripout.clean", cwd=repo).stdout.strip()
    assert clean == f'"{sys.executable}" -m nbstripout --keep-id'
    # the filter works: a notebook with outputs is committed without them
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    cell.execution_count = 1
    nb.cells.append(cell)
    nbformat.write(nb, repo / "notebooks" / "a.ipynb")
    _git("add", ".", cwd=repo)
    staged = _git("show", ":notebooks/a.ipynb", cwd=repo).stdout
    assert '"1 + 1"' in staged and '"outputs": []' in staged
    assert main(["lab", "--dir", str(repo), "--no-git-filter", "--dry-run"]) == 0
    assert "filter.nbstripout" not in capsys.readouterr().out


def test_lab_passes_port_and_ip(capsys):
    assert main(["lab", "--port", "8890", "--ip", "0.0.0.0", "--dry-run", "--no-git-filter"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "--port=8890" in line and "--ip=0.0.0.0" in line


def test_make_lab_passes_port_ip_and_extra_arguments():
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    out = subprocess.run(
        [make, "-n", "lab", "PORT=8890", "IP=0.0.0.0", "LAB_ARGS=--no-browser", "STAMP=Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "modkit lab --port 8890 --ip 0.0.0.0 --no-browser" in out
    assert "filter.nbstripout.clean" in out  # make lab runs the hooks target first


# ----- progress: lines (and a bar) in a terminal, nothing in a pipe or with --quiet


@pytest.fixture(scope="module")
def fit_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    scores = pd.DataFrame({"violence": np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)})
    modkit.write_table(scores, folder / "scores.csv")
    modkit.write_table(pd.DataFrame({"violence": y}), folder / "labels.csv")
    return folder


def _in_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``modkit ARGV`` with stderr on a pseudo-terminal; its exit code and stderr."""
    master, slave = pty.openpty()
    # 24 rows x 100 columns, as a terminal window has (a new pty is 0 x 0: no bar fits)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    proc = subprocess.Popen(
        [sys.executable, "-m", "modkit", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_fit_shows_its_steps_and_a_bar_in_a_terminal(fit_files):
    argv = ["fit", "scores.csv", "labels.csv", "-o", "t.json", "--objective", "f1"]
    code, err = _in_terminal([*argv, "--bootstrap", "20"], fit_files)
    assert code == 0, err
    assert "modkit fit: reading scores.csv and labels.csv" in err
    assert "modkit fit: fitting 1 categories on 200 rows (5-fold, 20 bootstrap" in err
    assert "fit: 100%" in err and "1/1" in err  # the tqdm bar over categories
    assert "modkit fit: done in" in err
    code, err = _in_terminal([*argv, "-o", "t2.json", "--quiet"], fit_files)
    assert code == 0 and "modkit fit: reading" not in err and "fit: 100%" not in err


def test_apply_and_report_are_quiet_in_a_pipe_and_talk_in_a_terminal(fit_files, capsys):
    argv = ["fit", "scores.csv", "labels.csv", "--objective", "f1", "--bootstrap", "0"]
    os.chdir(fit_files)
    try:
        assert main([*argv, "-o", "a.json"]) == 0
        assert main(["apply", "a.json", "scores.csv", "-o", "d.csv"]) == 0
    finally:
        os.chdir(ROOT)
    err = capsys.readouterr().err
    assert "reading" not in err and "done in" not in err  # not a terminal: no progress
    code, err = _in_terminal(["apply", "a.json", "scores.csv", "-o", "d2.csv"], fit_files)
    assert code == 0, err
    for step in ("reading a.json and scores.csv", "deciding 200 rows", "writing d2.csv", "done"):
        assert f"modkit apply: {step}" in err


def test_every_long_command_has_a_quiet_option(capsys):
    for command in ("fit", "apply", "check", "report", "moderate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--quiet" in capsys.readouterr().out, command
