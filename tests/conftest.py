"""Test-session set-up: never touch the user's own modkit cache."""

import os
import tempfile

import pytest


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
