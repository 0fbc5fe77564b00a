"""Test-session set-up: never touch the user's own modkit cache; stable hypothesis in CI."""

import os
import tempfile

import pytest
from hypothesis import settings

# A busy 2-core machine makes per-example deadlines flaky. In CI (CI=true) the examples
# are derandomised, so main stays green for reasons in the code, not in the draw; run the
# suite locally (random draws) to explore further.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Plugin fixtures register backends and export formats when imported: --doctest-modules
# would import them at collection and leak the registrations into every test.
collect_ignore = ["fixtures"]


@pytest.fixture(autouse=True, scope="session")
def _isolated_modkit_cache():
    """Point the default cache (and notebook kernels, which inherit it) at a temp folder."""
    old = os.environ.get("MODKIT_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="modkit-test-cache-") as tmp:
        os.environ["MODKIT_CACHE_DIR"] = tmp
        yield
    if old is None:
        os.environ.pop("MODKIT_CACHE_DIR", None)
    else:
        os.environ["MODKIT_CACHE_DIR"] = old
