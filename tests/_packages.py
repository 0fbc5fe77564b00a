"""The public packages (each lists its public names in ``__all__``), for the tests that
walk them: ``tests/project/test_docstrings.py`` and ``test_public_functions.py``."""

PACKAGES = (
    "modkit",
    "modkit.audit",
    "modkit.backends",
    "modkit.datasets",
    "modkit.images",
    "modkit.plots",
    "modkit.providers",
    "modkit.ray",
    "modkit.review",
    "modkit.server",
    "modkit.templates",
    "modkit.testing",
    "modkit.thresholds",
    "modkit.training",
    "modkit.widgets",
)
