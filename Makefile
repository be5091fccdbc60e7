# phonegate — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell sha1sum pyproject.toml | cut -c1-12)
RUN_STAMP := $(VENV)/.stamp-run-$(HASH)
DEV_STAMP := $(VENV)/.stamp-dev-$(HASH)

.PHONY: run test lint bench format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

## run: install, migrate the embedded SQLite database, bootstrap demo data, serve on :8080
run: $(RUN_STAMP)
	$(BIN)/phonegate migrate
	$(BIN)/phonegate bootstrap
	exec $(BIN)/phonegate serve

## test: the whole suite (SQLite always; PostgreSQL when PHONEGATE_TEST_DATABASE_URL is set)
test: $(DEV_STAMP)
	$(BIN)/pytest -n auto --maxprocesses=4

## lint: ruff, mypy --strict on src/, import-linter layer contracts
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

## bench: run the benchmarks and write docs/benchmarks.md
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run --output docs/benchmarks.md

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
