# The two commands of the README: `make run` (embedded quick start) and `make test` (the whole suite).
# `make run` installs only what serving needs; `make test` adds the dev extras (pytest, PyTorch for training, Pyomo)
# and fails on a lint, type or import-contract error before running the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint install install-serve services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install-serve: $(BIN)/python
	$(BIN)/pip install -q -e .

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

run: install-serve
	$(BIN)/solvent serve --port $(PORT)

services:
	@bash .ci/services

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app solvers workers solvent_client tests
	$(BIN)/lint-imports

test: install services lint
	$(BIN)/python -m pytest -q -p no:randomly --durations=15
