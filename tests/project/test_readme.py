"""The code blocks of README.md and of the documentation pages (docs/**/*.md) run.

Every ```python block of a page runs, top to bottom in one namespace per page (as a reader
would paste them into one session), in a scratch folder that holds the repository's
``data/``. A block that needs a real API key is marked by the line
``<!-- readme-test: needs-key -->`` right before it, and runs only when
``MODKIT_README_LIVE=1`` (it would spend money). ``http://127.0.0.1:8000`` (where the pages
start ``modkit serve``) is a real modkit server on a free port, on the local scorer, started
for the pages that use it.

Every ``$ modkit ...`` line of a ```console block is parsed by the real argument parser,
so a documented sub-command or option that does not exist fails here.

README.md is the landing page: at most 300 lines, and each of its links into ``docs/``
names a page that exists (and is built: not under ``docs/incoming/``).
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
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"(?:<!-- readme-test: (?P<mark>[\w-]+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)
MARKS = {None, "needs-key"}
SERVER_URL = "http://127.0.0.1:8000"
README_MAX_LINES = 300


def _pages() -> list[str]:
    """README.md and every built documentation page, as paths relative to the root."""
    pages = ["README.md"]
    for path in sorted(DOCS.rglob("*.md")):
        rel = path.relative_to(ROOT)
        if rel.parts[1] != "incoming":  # notes waiting for their page: not built
            pages.append(rel.as_posix())
    return pages


PAGES = _pages()
TEXTS = {page: (ROOT / page).read_text(encoding="utf-8") for page in PAGES}


def _blocks(page: str, lang: str) -> list[tuple[int, str | None, str]]:
    text = TEXTS[page]
    out = []
    for m in FENCE.finditer(text):
        if m.group("lang") == lang:
            line = text.count("\n", 0, m.start("body")) + 1
            out.append((line, m.group("mark"), m.group("body")))
    return out


PYTHON_PAGES = [page for page in PAGES if _blocks(page, "python")]


def test_every_mark_is_known():
    for page in PAGES:
        marks = {m.group("mark") for m in FENCE.finditer(TEXTS[page])}
        assert marks <= MARKS, (page, marks - MARKS)
    runnable = [b for p in PAGES for b in _blocks(p, "python") if b[1] != "needs-key"]
    assert len(runnable) >= 40, "few python blocks found: has the fence syntax changed?"
    assert _blocks("README.md", "python"), "the README lost its taste of Python"


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run_top_to_bottom(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    live = os.environ.get("MODKIT_README_LIVE") == "1"
    blocks = [b for b in _blocks(page, "python") if live or b[1] != "needs-key"]
    if not blocks:
        pytest.skip(f"{page}: every python block needs a key (MODKIT_README_LIVE=1 runs them)")
    namespace: dict[str, object] = {"__name__": "__readme__"}
    needs_server = any(SERVER_URL in body for _, _, body in blocks)
    with ServerThread(modkit.backends.LocalBackend()) if needs_server else _no_server() as srv:
        for line, _, body in blocks:
            code = body if srv is None else body.replace(SERVER_URL, srv.url.removesuffix("/v1"))
            try:
                exec(compile(code, f"{page}:{line}", "exec"), namespace)
            except Exception:
                trace = traceback.format_exc(limit=-3)
                pytest.fail(f"{page} line {line}: the block fails:\n{trace}")


class _no_server:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _console_commands() -> list[tuple[str, int, list[str]]]:
    out = []
    for page in PAGES:
        for line, _, body in _blocks(page, "console"):
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
                    out.append((page, line + offset, words[1:]))
    return out


COMMANDS = _console_commands()


def test_commands_found_on_many_pages():
    pages = {page for page, _, _ in COMMANDS}
    assert "README.md" in pages and len(pages) >= 10, pages


@pytest.mark.parametrize(("page", "line", "argv"), COMMANDS, ids=lambda v: str(v))
def test_modkit_commands_parse(page, line, argv, capsys):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        err = capsys.readouterr().err
        if exc.code == 0:  # --help / --version
            return
        pytest.fail(f"{page} line {line}: modkit {' '.join(argv)}: {err.strip()}")


def test_readme_is_a_landing_page():
    lines = TEXTS["README.md"].splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most 300)"
    assert not any(line.startswith(("## Benchmarks", "## Development")) for line in lines)


_LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
BUILT = {page for page in PAGES if page.startswith("docs/")}


def _doc_links(text: str) -> list[str]:
    """The targets of the Markdown links into ``docs/`` outside code blocks."""
    return [t for t in _LINK.findall(FENCE.sub("", text)) if t.startswith("docs/")]


def _dead_doc_links(text: str) -> list[str]:
    return [t for t in _doc_links(text) if t.split("#")[0] not in BUILT]


def test_readme_links_into_the_docs_name_built_pages():
    assert _dead_doc_links(TEXTS["README.md"]) == []
    linked = {t.split("#")[0] for t in _doc_links(TEXTS["README.md"])}
    tutorials = {p for p in BUILT if p.startswith("docs/tutorials/")}
    assert tutorials and tutorials <= linked, f"not linked from README: {tutorials - linked}"
    assert "docs/index.md" in linked


def test_a_dead_link_into_the_docs_is_caught():
    text = "[a](docs/index.md) [b](docs/tutorials/no-such-page.md#x) [c](docs/incoming/h.md)\n"
    text += "```console\n[d](docs/in-a-code-block.md)\n```\n"
    assert _dead_doc_links(text) == ["docs/tutorials/no-such-page.md#x", "docs/incoming/h.md"]
