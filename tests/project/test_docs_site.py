"""The docs site's user guide is the README split by section (docs/_hooks.py)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _hooks():
    spec = importlib.util.spec_from_file_location("modkit_docs_hooks", ROOT / "docs" / "_hooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


README = """# tool

Intro line.

```bash
## not a section: a shell comment in a fence
```

## Scoring texts: `tool.score`

Body with a [file](data/x.jsonl), a [site](https://example.org) and an [anchor](#top).

### Details

```python
### also code
```

## Scoring texts: again
"""


def test_sections_split_outside_fences_only():
    hooks = _hooks()
    intro, sections = hooks.split_readme(README)
    assert intro[0] == "# tool" and "## not a section: a shell comment in a fence" in intro
    assert [s.title for s in sections] == ["Scoring texts: `tool.score`", "Scoring texts: again"]
    assert [s.slug for s in sections] == ["scoring-texts", "scoring-texts-2"]


def test_pages_raise_headings_and_point_repository_links_at_the_repository():
    hooks = _hooks()
    _, sections = hooks.split_readme(README)
    page = hooks._page([f"# {sections[0].title}", *sections[0].body], raise_headings=True)
    assert page.startswith("# Scoring texts: `tool.score`\n")
    assert "\n## Details\n" in page and "### also code" in page  # fenced code untouched
    assert "a file (`data/x.jsonl` in the repository)" in page
    assert "[site](https://example.org)" in page and "[anchor](#top)" in page


def test_every_readme_section_becomes_a_page():
    hooks = _hooks()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    _, sections = hooks.split_readme(text)
    headings = {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}
    assert len(sections) >= 5
    assert {s.title for s in sections} <= headings
    assert len({s.slug for s in sections}) == len(sections)
