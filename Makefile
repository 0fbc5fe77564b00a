# modkit: `make demo` and `make test` work on a fresh machine with Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.modkit-installed
export MODKIT_DATA_DIR ?= $(abspath ../shared/datasets)

.PHONY: demo test lint format venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebook,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modkit demo

lint: $(STAMP)
	$(BIN)/ruff check modkit tests benchmarks examples
	$(BIN)/ruff format --check modkit tests benchmarks examples

format: $(STAMP)
	$(BIN)/ruff check --fix modkit tests benchmarks examples
	$(BIN)/ruff format modkit tests benchmarks examples

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
