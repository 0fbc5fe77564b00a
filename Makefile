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

$(STAMP): pyproject.toml modkit/_version.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebook,ray,multilingual,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modkit demo

lab: $(STAMP) hooks
	$(BIN)/modkit lab

# git strips notebook outputs on commit (JupyterLab autosaves them); cell ids are kept
hooks:
	$(GIT) config filter.nbstripout.clean '"$(NBPYTHON)" -m nbstripout --keep-id'
	$(GIT) config filter.nbstripout.smudge cat
	$(GIT) config diff.ipynb.textconv '"$(NBPYTHON)" -m nbstripout --keep-id -t'

lint: $(STAMP)
	$(BIN)/ruff check modkit tests benchmarks examples docs
	$(BIN)/ruff format --check modkit tests benchmarks examples docs
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix modkit tests benchmarks examples docs
	$(BIN)/ruff format modkit tests benchmarks examples docs

# The documentation site (mkdocs.yml), warnings are errors; written to site/.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# Coverage of modkit by the whole suite; the floor is [tool.coverage.report] fail_under.
test: lint docs
	$(BIN)/python -m pytest --cov=modkit --cov-report=term:skip-covered

clean:
	rm -rf $(VENV) reports site .pytest_cache .ruff_cache .mypy_cache .coverage htmlcov
