"""Public docstrings: examples that run (doctests, in `make test`), and numpydoc sections.

Every public function documents an example that runs. Every public function and public
method documents its parameters, what it returns and the modkit errors its own body
raises; every public class has an example (the audit of 2026-11-30).
"""

import ast
import importlib
import inspect
import textwrap

import pytest
from _packages import PACKAGES

import modkit


def _public(kind):
    """(public name, object) of the names in the packages' ``__all__`` that are ``kind``,
    each object once (under the first package that exports it)."""
    seen = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if kind(obj):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", (f"{package}.{name}", obj))
    return sorted(seen.values(), key=lambda pair: pair[0])


FUNCTIONS = _public(inspect.isfunction)

#: Functions whose examples cannot run as doctests, and why (keep this short).
NOT_RUN = {
    # start a local Ray cluster (seconds, several processes): tests/ray/test_ray.py runs them
    "modkit.ray.score_dataset",
    "modkit.ray.fit_thresholds_dataset",
    "modkit.ray.rate_budget",
}


def _runnable_examples(doc: str) -> list[str]:
    """The ``>>>`` lines of the Examples section that doctest runs (not ``+SKIP``)."""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Examples")
    except StopIteration:
        return []
    if start + 1 >= len(lines) or set(lines[start + 1].strip()) != {"-"}:
        return []
    return [
        line
        for line in lines[start + 2 :]
        if line.strip().startswith(">>>") and "doctest: +SKIP" not in line
    ]


def test_the_public_api_has_functions():
    assert len(FUNCTIONS) > 40  # the check below looks at something


@pytest.mark.parametrize(("name", "func"), FUNCTIONS, ids=[name for name, _ in FUNCTIONS])
def test_public_function_has_a_runnable_example(name, func):
    doc = inspect.getdoc(func) or ""
    if name in NOT_RUN:
        assert "Examples\n--------" in doc, f"{name}: add an Examples section"
        return
    assert _runnable_examples(doc), f"{name}: add an Examples section with a runnable >>> line"


def test_every_exemption_names_a_public_function():
    assert {name for name, _ in FUNCTIONS} >= NOT_RUN


def test_the_example_finder_reads_numpydoc_sections():
    doc = "Summary.\n\nExamples\n--------\n>>> 1 + 1\n2\n>>> slow()  # doctest: +SKIP\n"
    assert _runnable_examples(doc) == [">>> 1 + 1"]
    assert _runnable_examples("Summary.\n\n>>> 1 + 1\n2\n") == []
    assert _runnable_examples("Examples\n--------\n>>> f()  # doctest: +SKIP\n") == []


# ---------------------------------------------------------------- numpydoc sections
CLASSES = _public(lambda obj: inspect.isclass(obj) and obj.__module__.startswith("modkit"))


def _public_methods():
    """(name, function, docstring) of the public methods each public class defines.

    The docstring is the one ``help()`` shows: an override without its own docstring
    inherits its base class method's (``inspect.getdoc`` on the class attribute).
    """
    out = []
    for name, cls in CLASSES:
        for attr, value in vars(cls).items():
            if attr.startswith("_"):
                continue
            func = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            if inspect.isfunction(func):
                out.append((f"{name}.{attr}", func, inspect.getdoc(getattr(cls, attr)) or ""))
    return out


CALLABLES = [(name, func, inspect.getdoc(func) or "") for name, func in FUNCTIONS]
CALLABLES += _public_methods()
CALLABLE_IDS = [name for name, _, _ in CALLABLES]

#: Public callables whose docstrings this audit does not hold to its sections, and why.
SECTIONS_EXEMPT: set[str] = set()


#: Classes whose examples cannot run as doctests, and why.
NOT_RUN_CLASSES = {
    # starts `modkit serve` in a child process (seconds): tests/server/test_server.py runs it
    "modkit.server.ServeProcess",
}


def _sections(doc: str) -> dict[str, str]:
    """The numpydoc sections of a docstring: title (underlined with dashes) -> body."""
    lines = doc.splitlines()
    starts = [
        i for i in range(len(lines) - 1) if lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
    ]
    out = {}
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out[lines[i].strip()] = "\n".join(lines[i + 2 : end])
    return out


def _documented_names(section: str) -> set[str]:
    """Names of a Parameters section's entries (``a, b : int`` documents both)."""
    names = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            for part in line.split(" : ")[0].split(","):
                names.add(part.strip().lstrip("*"))
    return names


_NESTED = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda


def _own_nodes(func_node):
    """The nodes of a function's body, not those of functions or classes defined in it."""
    stack = [n for n in func_node.body if not isinstance(n, _NESTED)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, _NESTED))


def _parse(func):
    raw = inspect.unwrap(func)
    node = ast.parse(textwrap.dedent(inspect.getsource(raw))).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef), func
    return raw, node


def _name_of(expr) -> str | None:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else None


def _resolve(expr, namespace):
    """The object a name or dotted name (``InputError``, ``modkit.InputError``) means."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return namespace.get(expr.id)
    if isinstance(expr, ast.Attribute):
        return getattr(_resolve(expr.value, namespace), expr.attr, None)
    return None


def _raised_errors(func) -> set[type]:
    """The modkit errors ``func``'s own body raises by name (``raise InputError(...)``),
    InputError for a ``@validate_params`` or ``check_param`` check."""
    raw, node = _parse(func)
    found = set()
    for n in _own_nodes(node):
        if isinstance(n, ast.Raise) and n.exc is not None:
            found.add(_resolve(n.exc, raw.__globals__))
        elif isinstance(n, ast.Call) and _name_of(n) == "check_param":
            found.add(modkit.InputError)
    if any(_name_of(d) == "validate_params" for d in node.decorator_list):
        found.add(modkit.InputError)
    return {e for e in found if isinstance(e, type) and issubclass(e, modkit.ModkitError)}


def _returns_value(func) -> bool:
    """Whether ``func`` returns something: a ``return <value>`` not ``None``, unless the
    annotation says ``-> None``."""
    _, node = _parse(func)
    if isinstance(node.returns, ast.Constant) and node.returns.value is None:
        return False
    return any(
        isinstance(n, ast.Return)
        and n.value is not None
        and not (isinstance(n.value, ast.Constant) and n.value.value is None)
        for n in _own_nodes(node)
    )


def _yields(func) -> bool:
    _, node = _parse(func)
    return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(node))


def _params(func) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p not in ("self", "cls")]


def _names_error(raises: str, error: type) -> bool:
    """Whether a Raises section names ``error`` or a modkit base class of it."""
    words = set(raises.replace(",", " ").split())
    return any(c.__name__ in words for c in error.__mro__ if issubclass(c, modkit.ModkitError))


def test_the_audit_looks_at_functions_and_methods():
    assert len(CALLABLES) > 200 and len(CLASSES) > 60


@pytest.mark.parametrize(("name", "func", "doc"), CALLABLES, ids=CALLABLE_IDS)
def test_public_callable_documents_its_parameters(name, func, doc):
    params = _params(func)
    if name in SECTIONS_EXEMPT or not params:
        return
    sections = _sections(doc)
    assert "Parameters" in sections, f"{name}: add a Parameters section"
    missing = [p for p in params if p not in _documented_names(sections["Parameters"])]
    assert not missing, f"{name}: Parameters does not document {missing}"


@pytest.mark.parametrize(("name", "func", "doc"), CALLABLES, ids=CALLABLE_IDS)
def test_public_callable_documents_what_it_returns(name, func, doc):
    if name in SECTIONS_EXEMPT:
        return
    sections = _sections(doc)
    if _returns_value(func):
        assert "Returns" in sections, f"{name}: returns a value; add a Returns section"
    if _yields(func):
        assert "Yields" in sections, f"{name}: yields; add a Yields section"


@pytest.mark.parametrize(("name", "func", "doc"), CALLABLES, ids=CALLABLE_IDS)
def test_public_callable_names_the_errors_it_raises(name, func, doc):
    if name in SECTIONS_EXEMPT:
        return
    raises = _sections(doc).get("Raises", "")
    missing = [e.__name__ for e in _raised_errors(func) if not _names_error(raises, e)]
    assert not missing, f"{name}: raises {missing}; name them in a Raises section"


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[name for name, _ in CLASSES])
def test_public_class_has_an_example_and_names_its_errors(name, cls):
    doc = inspect.getdoc(cls) or ""
    sections = _sections(doc)
    assert "Examples" in sections, f"{name}: add an Examples section"
    if name not in NOT_RUN_CLASSES:
        assert _runnable_examples(doc), f"{name}: add a runnable >>> line to Examples"
    raises = sections.get("Raises", "")
    for hook in ("__init__", "__post_init__"):
        func = vars(cls).get(hook)
        if inspect.isfunction(func) and func.__code__.co_filename.endswith(".py"):
            # (a dataclass's generated __init__ has no source and raises nothing itself)
            missing = [e.__name__ for e in _raised_errors(func) if not _names_error(raises, e)]
            assert not missing, f"{name}: its constructor raises {missing}; add them to Raises"


def test_every_sections_exemption_names_a_public_callable():
    assert set(CALLABLE_IDS) >= SECTIONS_EXEMPT
    assert {name for name, _ in CLASSES} >= NOT_RUN_CLASSES


def _sample(a, b=1):
    """Sum two numbers (a fixture of the checks below).

    Parameters
    ----------
    a, b : int
        Numbers.

    Raises
    ------
    InputError
        For a true ``a``.
    """

    def inner():
        raise modkit.DatasetError("raised by inner, not by _sample")

    if a:
        raise modkit.InputError("a")
    if b:
        raise ValueError("not a modkit error")
    return a + b


def _sample_none() -> None:
    return None


def test_the_section_checks_read_code_and_numpydoc():
    doc = inspect.getdoc(_sample)
    assert _documented_names(_sections(doc)["Parameters"]) == {"a", "b"}
    assert _raised_errors(_sample) == {modkit.InputError}  # not inner's, nor ValueError
    assert _returns_value(_sample) and not _returns_value(_sample_none)
    assert not _yields(_sample)
    assert "Returns" not in _sections(doc)  # so the Returns check would fail on _sample
    assert _names_error(_sections(doc)["Raises"], modkit.InputError)
    assert _names_error("ModkitError\n    Anything.", modkit.TemplateError)  # a base class
    assert not _names_error("DatasetError\n    Missing.", modkit.InputError)
