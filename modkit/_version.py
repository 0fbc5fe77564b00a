"""The one source of modkit's version.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``modkit.__version__``
re-exports it, ``modkit --version`` prints it and threshold files record it. Bump it
here, and move the ``Unreleased`` entries of ``CHANGELOG.md`` under the new number.
"""

__version__ = "0.1.0"
