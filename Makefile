# modkit: `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.modkit-installed
# absolute, resolved here once: notebook kernels run in notebooks/, not in this folder
export MODKIT_DATA_DIR := $(abspath $(or $(MODKIT_DATA_DIR),../shared/datasets))

GIT ?= git
NBPYTHON ?= $(abspath $(BIN))/python

.PHONY: demo lab hooks test lint format docs venv clean

venv: $(STAMP)

# pip is not --quiet: each package it collects and installs is a line (minutes on a slow line)
$(STAMP): pyproject.toml modkit/_version.py
	@echo "make venv: [1/3] creating $(VENV) with $(PYTHON)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "make venv: [2/3] upgrading pip"
	$(BIN)/python -m pip install --upgrade pip
	@echo "make venv: [3/3] installing modkit with its notebook, ray, multilingual and dev extras (a few minutes)"
	$(BIN)/python -m pip install -e '.[notebook,ray,multilingual,dev]'
	touch $(STAMP)
	@echo "make venv: done; $(BIN)/modkit --help lists the commands"

demo: $(STAMP)
	$(BIN)/modkit demo

# make lab PORT=8890 IP=0.0.0.0 LAB_ARGS="--no-browser"
lab: $(STAMP) hooks
	$(BIN)/modkit lab $(if $(PORT),--port $(PORT)) $(if $(IP),--ip $(IP)) $(LAB_ARGS)

# git strips notebook outputs on commit (JupyterLab autosaves them); cell ids are kept
hooks:
	$(GIT) config filter.nbstripout.clean '"$(NBPYTHON)" -m nbstripout --keep-id'
	$(GIT) config filter.nbstripout.smudge cat
	$(GIT) config diff.ipynb.textconv '"$(NBPYTHON)" -m nbstripout --keep-id -t'

# docs/*.py only: ruff >= 0.17 would also reformat the python blocks of the docs pages (Markdown),
# which are written for reading (short lines) and run by tests/project/test_readme.py instead.
LINTED := modkit tests benchmarks examples $(wildcard docs/*.py)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

# The documentation site (mkdocs.yml), warnings are errors; written to site/. It executes the
# notebooks (cached by content in .cache/notebooks/, which the notebook tests then reuse).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Coverage of modkit by the whole suite; the floor is [tool.coverage.report] fail_under.
test: lint docs
	$(BIN)/python -m pytest --cov=modkit --cov-report=term:skip-covered

clean:
	rm -rf $(VENV) reports site .cache .pytest_cache .ruff_cache .mypy_cache .coverage htmlcov
