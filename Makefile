# The two commands of the README: `make run` (embedded quick start) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test lint install services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

run: install
	$(BIN)/solvent serve --port $(PORT)

services:
	@bash .ci/services

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app solvers workers
	$(BIN)/lint-imports

test: install services
	$(BIN)/python -m pytest -q -p no:randomly --durations=15
