"""The package's import graph: no cycles, no private names across modules, no upward imports.

Parsed with ``ast`` (nothing is imported), counting imports inside functions too: a
lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import modkit

ROOT = Path(modkit.__file__).parent

#: Layers from the bottom up; a module may import its own layer or lower ones only.
LAYERS: list[tuple[str, ...]] = [
    (
        "_errors",
        "_deprecation",
        "_taxonomy",
        "_validation",
        "_text",
        "_version",
        "_native",
        "_images",
        "providers",
        "images",
    ),
    (
        "_result",
        "_conversation",
        "_io",
        "_frame",
        "_labels",
        "_cache",
        "_pacing",
        "_decision_log",
        "datasets",
        "templates",
        "testing",
    ),
    ("backends", "training"),
    ("_runner", "_batch"),
    (
        "_crosstab",
        "_bias",
        "_bias_uncertainty",
        "_drift",
        "thresholds",
        "_compare",
        "_migrate",
        "_gate",
        "_monitor",
        "audit",
        "review",
    ),
    ("plots", "widgets", "server", "_notebooks", "ray"),
    ("cli", "__init__", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, str | None, int]]:
    """(importer, imported module, imported name or None, line) for modkit targets."""
    out = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [
                    (mod, a.name, None, node.lineno)
                    for a in node.names
                    if a.name.startswith("modkit")
                ]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, is_pkg, node)
                if not target.startswith("modkit"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:  # "from . import _x" imports a module, not a name
                        out.append((mod, sub, None, node.lineno))
                    else:
                        out.append((mod, target, alias.name, node.lineno))
    return out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = _modules()
IMPORTS = _imports(MODULES)


def test_every_top_level_module_has_a_layer():
    tops = {_top(m) for m in MODULES}
    assert tops <= set(RANK), f"add {sorted(tops - set(RANK))} to LAYERS"


def test_no_private_names_across_modules():
    bad = [
        f"{src}:{line} imports {name} from {dst}"
        for src, dst, name, line in IMPORTS
        if name is not None and name.startswith("_") and not name.startswith("__") and src != dst
    ]
    assert bad == []


def test_no_upward_imports():
    bad = [
        f"{src}:{line} ({LAYERS[RANK[_top(src)]][0]} layer) imports {dst}"
        for src, dst, _, line in IMPORTS
        if RANK[_top(dst)] > RANK[_top(src)]
    ]
    assert bad == []


def test_backends_and_analysis_never_import_above_them():
    for src, dst, _, _ in IMPORTS:
        if _top(src) in ("backends", "_crosstab", "_bias", "_drift", "thresholds"):
            assert _top(dst) not in ("cli", "plots", "widgets", "server"), (src, dst)
        if _top(src) == "backends":
            assert _top(dst) not in ("_runner", "_crosstab", "_bias", "_drift", "thresholds")


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {}
    for src, dst, _, _ in IMPORTS:
        if dst in MODULES and dst != src and not src.startswith(dst + "."):
            # a package's own __init__ re-exporting its children is not a dependency
            # of the children on the package
            if MODULES[src].name == "__init__.py" and dst.startswith(src + "."):
                graph.setdefault(src, set()).add(dst)
                continue
            graph.setdefault(src, set()).add(dst)
    assert _cycle(graph) is None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize(
    "name",
    [
        "backends/local/vocab.txt",
        "backends/local/heads.json",
        "backends/local/model.json",
        "backends/local/multilingual/heads.json",
        "backends/local/multilingual/model.json",
    ],
)
def test_package_data_is_where_pyproject_ships_it(name):
    import tomllib

    globs = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["modkit"]
    assert (ROOT / name).is_file()
    assert any(Path(name).match(g) for g in globs), (name, globs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"name": "replay", "path": "x.jsonl", "modle": "x"},
            "option 'modle' does not apply to backend 'replay' (its options: path)",
        ),
        (
            {"name": "local", "model": "omni-moderation-latest"},
            "option 'model' does not apply to backend 'local'",
        ),
        ({"name": "local", "tiemout": 5}, "option 'tiemout' does not apply to backend 'local'"),
        ({"name": "openai", "modle": "x", "api_key": "k"}, "did you mean 'model'?"),
        ({"name": "replay"}, "backend 'replay' needs option 'path'"),
        ({"name": "openai", "timeout": 0, "api_key": "k"}, "timeout must be a number > 0; got 0"),
        ({"name": "local", "threads": "4"}, "threads must be an integer >= 1; got '4'"),
        ({"name": "nope"}, "unknown backend 'nope': choose one of local, openai, replay"),
    ],
)
def test_make_backend_refuses_options_that_do_not_apply(options, message):
    with pytest.raises(modkit.InputError) as info:
        modkit.make_backend(**options)
    assert message in str(info.value)


def test_make_backend_passes_typed_options_through():
    b = modkit.make_backend("openai", model="m", base_url="http://127.0.0.1:9/v1", timeout=3)
    assert (b.model, b.timeout) == ("m", 3.0)
    assert modkit.make_backend("local", model_dir=None).name == "local"  # None: not given


def test_import_modkit_leaves_heavy_optional_modules_for_first_use():
    # every Ray worker and CLI call pays `import modkit`; scipy.stats alone was ~0.8 s of it
    import subprocess
    import sys

    heavy = ["scipy.stats", "sklearn", "plotly", "ipywidgets", "onnxruntime", "ray"]
    code = f"import sys, modkit; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
