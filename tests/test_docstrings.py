"""Every public function documents an example that runs (as a doctest, in `make test`)."""

import importlib
import inspect

import pytest

#: The public packages: each lists its public names in ``__all__``.
PACKAGES = (
    "modkit",
    "modkit.backends",
    "modkit.datasets",
    "modkit.plots",
    "modkit.ray",
    "modkit.server",
    "modkit.templates",
    "modkit.testing",
    "modkit.thresholds",
    "modkit.widgets",
)


def _public_functions():
    seen = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", (f"{package}.{name}", obj))
    return sorted(seen.values(), key=lambda pair: pair[0])


FUNCTIONS = _public_functions()

#: Functions whose examples cannot run as doctests, and why (keep this short).
NOT_RUN = {
    # start a local Ray cluster (seconds, several processes): tests/test_ray.py runs them
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
