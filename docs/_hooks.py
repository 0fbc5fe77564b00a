"""MkDocs hooks: the user guide is the README, one page per ``##`` section.

The README stays the one manual that is edited; the site is built from it, so the two never
drift apart. ``index.md`` is the README's opening (before its first ``##``), each ``##``
section becomes ``guide/<slug>.md`` (headings raised one level) and ``CHANGELOG.md`` becomes
``changelog.md``. Links to repository files (``data/x.jsonl``) become code spans, since the
site does not carry them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


@dataclass
class Section:
    title: str  # the heading text as written
    slug: str  # the page's file stem
    body: list[str]  # lines after the heading


def _outside_fences(lines: list[str]) -> list[bool]:
    """Which lines are Markdown (True) rather than inside a fenced code block."""
    flags, fenced = [], False
    for line in lines:
        if _FENCE.match(line):
            flags.append(False)
            fenced = not fenced
        else:
            flags.append(not fenced)
    return flags


def _slug(title: str) -> str:
    head = re.sub(r"`([^`]*)`", r"\1", title).split(":")[0]
    slug = re.sub(r"[^a-z0-9]+", "-", head.lower()).strip("-")
    return slug or "section"


def split_readme(text: str) -> tuple[list[str], list[Section]]:
    """The README's opening lines and its ``##`` sections, fence-aware."""
    lines = text.splitlines()
    intro: list[str] = []
    sections: list[Section] = []
    seen: set[str] = set()
    for line, markdown in zip(lines, _outside_fences(lines), strict=True):
        if markdown and line.startswith("## "):
            title = line[3:].strip()
            slug = _slug(title)
            while slug in seen:
                slug += "-2"
            seen.add(slug)
            sections.append(Section(title, slug, []))
        elif sections:
            sections[-1].body.append(line)
        else:
            intro.append(line)
    return intro, sections


def _page(lines: list[str], *, raise_headings: bool) -> str:
    out = []
    for line, markdown in zip(lines, _outside_fences(lines), strict=True):
        if markdown:
            if raise_headings and re.match(r"^#{3,6} ", line):
                line = line[1:]
            line = _LINK.sub(_repo_link, line)
        out.append(line)
    return "\n".join(out).strip() + "\n"


def _repo_link(match: re.Match[str]) -> str:
    text, target = match.group(1), match.group(2)
    if re.match(r"^[a-z]+:", target) or target.startswith("#"):
        return match.group(0)
    return f"{text} (`{target}` in the repository)"


def _plain(title: str) -> str:
    return re.sub(r"`([^`]*)`", r"\1", title)


def _readme() -> tuple[list[str], list[Section]]:
    return split_readme((ROOT / "README.md").read_text(encoding="utf-8"))


def on_config(config, **kwargs):
    """Put one user-guide entry per README section into the navigation."""
    _, sections = _readme()
    guide = [{_plain(s.title): f"guide/{s.slug}.md"} for s in sections]
    for entry in config["nav"]:
        if isinstance(entry, dict) and "User guide" in entry:
            entry["User guide"] = guide
            break
    else:
        raise ValueError("mkdocs.yml: the nav needs a 'User guide' entry for the README pages")
    return config


def on_files(files: Files, config, **kwargs) -> Files:
    """Add the pages generated from README.md and CHANGELOG.md."""
    intro, sections = _readme()
    index = _page(intro, raise_headings=False)
    index += "\n## The user guide\n\n" + "".join(
        f"- [{_plain(s.title)}](guide/{s.slug}.md)\n" for s in sections
    )
    pages = {"index.md": index}
    for s in sections:
        pages[f"guide/{s.slug}.md"] = _page([f"# {s.title}", *s.body], raise_headings=True)
    pages["changelog.md"] = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files
