# Two commands: `make run` serves the app (embedded default), `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1

.PHONY: run test lint install install-test services worker bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Serve on http://$(HOST):$(PORT) with SQLite, local encrypted storage, local keyring and
## in-process workers unless DATABASE_URL / REDIS_URL / S3_* / VAULT_ADDR say otherwise.
run: install
	$(BIN)/python manage.py migrate --noinput
	PORT=$(PORT) $(BIN)/uvicorn openmates_images.asgi:application --host $(HOST) --port $(PORT) --no-access-log

## A Dramatiq worker process for the full stack (REDIS_URL set).
worker: install
	$(BIN)/python manage.py run_workers

## Installs what the suite needs (system packages when root), starts PostgreSQL/Redis if down,
## then runs every test in parallel on the machine's cores.
test: install-test
	bash scripts/ensure-test-services.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup -q --ds=tests.settings

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

bench: install-test
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) var test-artifacts
