"""The documentation site: built strictly, complete, offline, searchable, roles as links.

One build of the real site (``mkdocs build --strict``, as ``make docs`` runs it) into a
temporary folder is checked page by page; the notebooks it executes are cached by content
(``docs/_notebooks.py``), so after ``make docs`` this build renders them without running them
again. The roles rewriter of ``docs/_griffe_roles.py`` is also tested on its own.
"""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
RAW_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):(?:`|<code>)")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"modkit_docs_{name}", ROOT / "docs" / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONWARNINGS": "default", "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return out, log


def _pages(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.html"))
    }


def _nav_pages() -> list[str]:
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"))
    hooks = _load("_hooks.py")
    nav = hooks.on_config(config)["nav"]

    def walk(items):
        for item in items:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                for value in item.values():
                    yield from walk(value if isinstance(value, list) else [value])

    return list(walk(nav))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_build_is_strict_and_has_every_section(site):
    out, log = site
    assert not re.search(r"^\s*WARNING\b", log, re.MULTILINE), log
    top = _nav_pages()
    sections = [next(iter(e)) for e in _load("_hooks.py").on_config(_config())["nav"]]
    assert sections == [
        "Home",
        "Tutorials",
        "How-to guides",
        "Explanation",
        "Reference",
        "Notebooks",
        "Benchmarks",
        "Architecture",
        "Contributing",
        "Changelog",
    ]
    missing = [p for p in top if not (out / p.replace(".md", ".html")).is_file()]
    assert not missing
    assert "notebooks/00_quickstart.md" in top and "api/thresholds.md" in top


def _config():
    from mkdocs.config import load_config

    return load_config(str(ROOT / "mkdocs.yml"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_no_page_shows_a_raw_sphinx_role(site):
    out, _ = site
    raw = {
        name: RAW_ROLE.findall(text)[:3]
        for name, text in _pages(out).items()
        if RAW_ROLE.search(text)
    }
    assert not raw


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_roles_became_links_to_the_objects_entries(site):
    out, _ = site
    page = (out / "api" / "thresholds.html").read_text(encoding="utf-8")
    # ThresholdSet: "Build one with :func:`modkit.fit_thresholds`, ... :meth:`from_thresholds`"
    link = r'<a class="autorefs[^"]*"[^>]*href="([^"]+)"[^>]*><code>([^<]+)</code>'
    by_text = {text: href for href, text in re.findall(link, page)}
    assert by_text["modkit.fit_thresholds"] == "modkit.html#modkit.fit_thresholds"
    assert by_text["from_thresholds"] == "#modkit.thresholds.ThresholdSet.from_thresholds"
    # and the anchors exist where the links point
    assert 'id="modkit.fit_thresholds"' in (out / "api" / "modkit.html").read_text("utf-8")
    assert 'id="modkit.thresholds.ThresholdSet.from_thresholds"' in page
    # a name of another library has no entry here: it shows as code, not as a role
    # (bias_metrics: "AUCs use :func:`sklearn.metrics.roc_auc_score`")
    home = (out / "api" / "modkit.html").read_text(encoding="utf-8")
    assert "AUCs use <code>sklearn.metrics.roc_auc_score</code>" in home


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_notebook_pages_carry_executed_outputs_and_offline_plotly(site):
    out, _ = site
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = (out / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert 'class="output_area"' in page and "output_subarea" in page, nb.name
        assert "Traceback (most recent call last)" not in page and "output_error" not in page
        assert "Parameters injected by modkit" not in page  # the runner's cell is left out
    quick = (out / "notebooks" / "00_quickstart.html").read_text(encoding="utf-8")
    assert "plotly-graph-div" in quick
    srcs = re.findall(r'<script[^>]*\bsrc="([^"]*plotly[^"]*)"', quick)
    assert srcs == ["../assets/plotly.min.js"]
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert "* plotly.js v" not in quick  # not embedded again in the page


EXTERNAL = re.compile(
    r"""<script[^>]*\bsrc=["'](?:https?:)?//"""
    r"""|<link[^>]*\bhref=["'](?:https?:)?//[^"']*["'][^>]*rel=["']?(?:stylesheet|preload|preconnect)"""
    r"""|<link[^>]*rel=["']?(?:stylesheet|preload|preconnect)["']?[^>]*\bhref=["'](?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|fonts\.(?:googleapis|gstatic)\.com""",
    re.IGNORECASE,
)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_site_loads_nothing_from_the_network(site):
    out, _ = site
    found = {}
    for path in [*out.rglob("*.html"), *out.rglob("*.css")]:
        hits = EXTERNAL.findall(path.read_text(encoding="utf-8", errors="replace"))
        if hits:
            found[str(path.relative_to(out))] = hits[:3]
    assert not found


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_search_works_from_the_built_site(site):
    out, _ = site
    index = json.loads((out / "search" / "search_index.json").read_text(encoding="utf-8"))
    locations = {doc["location"].split("#")[0] for doc in index["docs"]}
    assert {"api/thresholds.html", "benchmarks.html", "notebooks/00_quickstart.html"} <= locations
    assert any("fit_thresholds" in doc["title"] for doc in index["docs"])
    # the offline plugin: the index is also a script, so search works from file://
    assert (out / "search" / "search_index.js").is_file()
    bundle = next((out / "assets" / "javascripts").glob("bundle.*.min.js"))
    assert "search_index.js" in bundle.read_text(encoding="utf-8")
    home = (out / "index.html").read_text(encoding="utf-8")
    assert '"search": "assets/javascripts/workers/search.' in home
    # the worker runs in an iframe from file://: the shim is the site's own copy
    assert '<script src="_static/iframe-worker-shim.js">' in home


# --- the roles rewriter on its own -------------------------------------------------------------


def _rewrite(text, known):
    roles = _load("_griffe_roles.py")
    return roles.rewrite(text, lambda name: [known[name]] if name in known else [])


def test_roles_rewritten_into_optional_autorefs_with_sphinx_titles():
    text = (
        "See :func:`fit_thresholds`, :class:`~modkit.ThresholdSet`, "
        ":meth:`Fault.drift <modkit.testing.Fault.drift>`, :py:func:`f` and "
        ":func:`sklearn.metrics.roc_auc_score`."
    )
    known = {
        "fit_thresholds": "modkit.fit_thresholds",
        "modkit.ThresholdSet": "modkit.ThresholdSet",
        "modkit.testing.Fault.drift": "modkit.testing.Fault.drift",
        "f": "modkit.f",
    }
    out = _rewrite(text, known)
    assert (
        '<autoref identifier="modkit.fit_thresholds" optional><code>fit_thresholds</code></autoref>'
        in out
    )
    assert '<autoref identifier="modkit.ThresholdSet" optional><code>ThresholdSet</code>' in out
    assert 'identifier="modkit.testing.Fault.drift" optional><code>Fault.drift</code>' in out
    assert '<autoref identifier="modkit.f" optional><code>f</code>' in out
    assert " and <code>sklearn.metrics.roc_auc_score</code>." in out  # unresolved: code
    assert not RAW_ROLE.search(out)


ROLE_NAMES = st.sampled_from(["func", "class", "meth", "mod", "attr", "data", "exc", "obj"])
NAMES = st.from_regex(r"~?[A-Za-z_]\w{0,8}(\.[A-Za-z_]\w{0,8}){0,3}", fullmatch=True)
PROSE = st.text(alphabet=st.characters(blacklist_characters="`:<>&\"'"), max_size=30)


@given(st.lists(st.tuples(PROSE, ROLE_NAMES, NAMES, st.booleans()), min_size=1, max_size=6), PROSE)
def test_any_docstring_loses_every_role_and_keeps_its_prose(parts, tail):
    text = "".join(f"{prose}:{role}:`{name}`" for prose, role, name, _ in parts) + tail
    known = {name.lstrip("~"): f"modkit.{name.lstrip('~')}" for _, _, name, known in parts if known}
    out = _rewrite(text, known)
    assert not RAW_ROLE.search(out)
    for prose, _, name, _ in parts:
        assert prose in out
        shown = name.lstrip("~").rsplit(".", 1)[-1] if name.startswith("~") else name
        assert f"<code>{html.escape(shown)}</code>" in out
    links = re.findall(r'<autoref identifier="([^"]+)" optional>', out)
    assert sorted(links) == sorted(
        f"modkit.{name.lstrip('~')}" for _, _, name, _ in parts if name.lstrip("~") in known
    )


def test_text_without_roles_is_unchanged():
    text = "Flag when ``score >= threshold``; see `modkit check` and a: `b` colon."
    assert _rewrite(text, {}) == text


def test_sections_list_their_folder_index_first_then_by_file_name(tmp_path, monkeypatch):
    hooks = _load("_hooks.py")
    monkeypatch.setattr(hooks, "DOCS", tmp_path)
    folder = tmp_path / "how-to"
    folder.mkdir()
    for name in ["20-serve.md", "index.md", "10-fit.md", "notes.txt"]:
        (folder / name).write_text("# x\n", encoding="utf-8")
    pages = hooks.section_pages("how-to")
    assert pages == ["how-to/index.md", "how-to/10-fit.md", "how-to/20-serve.md"]
    assert hooks.section_pages("tutorials") == []


def test_empty_sections_are_filled_and_hand_listed_ones_kept(tmp_path, monkeypatch):
    hooks = _load("_hooks.py")
    monkeypatch.setattr(hooks, "DOCS", tmp_path)
    (tmp_path / "tutorials").mkdir()
    for name in ["20-serve.md", "10-labels.md"]:
        (tmp_path / "tutorials" / name).write_text("# x\n", encoding="utf-8")
    nav = [
        {"Home": "index.md"},
        {"Tutorials": []},
        {"How-to guides": ["how-to/b.md", "how-to/a.md"]},
        {"Explanation": []},
        {"Notebooks": []},
    ]
    filled = dict(kv for entry in hooks.on_config({"nav": nav})["nav"] for kv in entry.items())
    assert filled["Tutorials"] == ["tutorials/10-labels.md", "tutorials/20-serve.md"]
    assert filled["How-to guides"] == ["how-to/b.md", "how-to/a.md"]  # as written by hand
    assert filled["Explanation"] == ["explanation/index.md"]  # the generated placeholder
    assert filled["Notebooks"][0] == "notebooks/index.md"
    assert {"00 · Quickstart: your own template file": "notebooks/00_quickstart.md"} in filled[
        "Notebooks"
    ]
    with pytest.raises(ValueError, match="Explanation"):
        hooks.on_config({"nav": [e for e in nav if "Explanation" not in e]})


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_changelog_page_is_the_changelog(site):
    out, _ = site
    page = (out / "changelog.html").read_text(encoding="utf-8")
    first = next(
        line
        for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("- ")
    )
    words = re.sub(r"[`*\[\]()]", "", first[2:]).split()[:4]
    text = re.sub(r"\s+", " ", re.sub(r"[`*\[\]()]", "", re.sub(r"<[^>]+>", "", page)))
    assert " ".join(words) in text  # both sides without markup, brackets and line breaks


def test_no_page_is_generated_from_the_readme():
    text = (ROOT / "docs" / "_hooks.py").read_text(encoding="utf-8")
    assert "README" not in text.split('"""', 2)[2]  # the docstring may name it; the code may not
