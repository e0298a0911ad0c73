# Every target bootstraps .venv on a fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration contract bench specs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: bring the whole control plane up locally (Temporal + Web UI, PostgreSQL, S3, worker, sink, API)
run: $(STAMP)
	$(BIN)/gantral dev

## test: lint, type-check, then every test against real servers started by the suite
test: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

## contract: a larger schemathesis run over specs/openapi.json (the suite runs a small one)
contract: $(STAMP)
	GANTRAL_CONTRACT_MAX_EXAMPLES=100 GANTRAL_CONTRACT_PHASES=examples,coverage,fuzzing,stateful \
	GANTRAL_CONTRACT_TIMEOUT=1800 $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_contract.py

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

## specs: regenerate the committed specs (OpenAPI, state machine, JSON Schemas)
specs: $(STAMP)
	$(BIN)/gantral specs write

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache
