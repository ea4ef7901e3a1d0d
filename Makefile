# The two commands of the README: `make run` (service + demo) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SS := $(BIN)/schemashift

.PHONY: run test install infra-up infra-down lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

infra-up: install
	$(SS) infra up

infra-down: install
	$(SS) infra down

# Sets up everything, runs a migration through the API, and keeps serving until Ctrl-C.
run: infra-up
	$(SS) demo

# Starts the infrastructure unless it already runs, runs the whole suite, stops what it started.
test: install
	@if $(SS) infra status >/dev/null 2>&1; then started=""; else started=1; $(SS) infra up || exit $$?; fi; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy schemas consumers gateway; lint=$$?; \
	$(BIN)/pytest -p no:cacheprovider; rc=$$?; \
	if [ -n "$$started" ]; then $(SS) infra down; fi; \
	if [ $$rc -eq 0 ] && [ $$lint -ne 0 ]; then echo "lint failed"; rc=$$lint; fi; \
	exit $$rc

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy schemas consumers gateway

bench: infra-up
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/engine.py

clean: infra-down
	rm -rf $(VENV)
