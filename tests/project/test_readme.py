"""README.md's code blocks run.

Every ```python block runs, top to bottom in one namespace (as a reader would paste them
into one session), in a scratch folder that holds the repository's ``data/``. A block
that needs a real API key is marked by the line ``<!-- readme-test: needs-key -->``
right before it, and runs only when ``MODKIT_README_LIVE=1`` (it would spend money).
``http://127.0.0.1:8000`` (where the README starts ``modkit serve``) is a real modkit
server on a free port, on the local scorer.

Every ``$ modkit ...`` line of a ```console block is parsed by the real argument parser,
so a documented sub-command or option that does not exist fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import traceback
from pathlib import Path

import pytest

import modkit
from modkit.cli import build_parser
from modkit.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(
    r"(?:<!-- readme-test: (?P<mark>[\w-]+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)
MARKS = {None, "needs-key"}


def _blocks(lang: str) -> list[tuple[int, str | None, str]]:
    out = []
    for m in FENCE.finditer(README):
        if m.group("lang") == lang:
            line = README.count("\n", 0, m.start("body")) + 1
            out.append((line, m.group("mark"), m.group("body")))
    return out


def test_every_mark_is_known():
    marks = {m.group("mark") for m in FENCE.finditer(README)}
    assert marks <= MARKS, marks - MARKS
    assert _blocks("python"), "no python block found: has the fence syntax changed?"


def test_readme_python_blocks_run_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    live = os.environ.get("MODKIT_README_LIVE") == "1"
    namespace: dict[str, object] = {"__name__": "__readme__"}
    ran = 0
    with ServerThread(modkit.LocalBackend()) as srv:
        for line, mark, body in _blocks("python"):
            if mark == "needs-key" and not live:
                continue
            code = body.replace("http://127.0.0.1:8000", srv.url.removesuffix("/v1"))
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"README.md line {line}: the block fails:\n{traceback.format_exc(limit=-3)}"
                )
            ran += 1
    assert ran >= 10


def _console_commands() -> list[tuple[int, list[str]]]:
    out = []
    for line, _, body in _blocks("console"):
        joined = re.sub(r"\\\n\s*", " ", body)  # continuation lines
        for offset, text in enumerate(joined.splitlines()):
            if not text.startswith("$ "):
                continue
            command = text[2:].split("  #")[0]
            command = re.sub(r"\[(-[^\]]*)\]", r"\1", command)  # [--opt X]: check it too
            words = shlex.split(command, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)  # NAME=value before the command
            if words[:1] == ["modkit"]:
                out.append((line + offset, words[1:]))
    return out


@pytest.mark.parametrize(("line", "argv"), _console_commands(), ids=lambda v: str(v))
def test_readme_modkit_commands_parse(line, argv, capsys):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        err = capsys.readouterr().err
        if exc.code == 0:  # --help / --version
            return
        pytest.fail(f"README.md line {line}: modkit {' '.join(argv)}: {err.strip()}")
