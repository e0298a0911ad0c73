# Every target bootstraps .venv on a fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TS_SDK := sdk/typescript
GO_SDK := sdk/go
# npm ci writes this file; it is newer than the lock file once the install is done.
NPM_STAMP := $(TS_SDK)/node_modules/.package-lock.json
TS_EXAMPLE := examples/typescript
EXAMPLE_STAMP := $(TS_EXAMPLE)/node_modules/.package-lock.json
# Go needs a build cache; CI may run without $$HOME.
ifeq ($(HOME),)
export GOCACHE ?= $(CURDIR)/.data/go-build
endif

.PHONY: replay-record run test lint typecheck unit integration contract bench specs clean sdk sdk-types go-toolchain node-toolchain

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: bring the whole control plane up locally (Temporal + Web UI, PostgreSQL, S3, worker, sink, API)
run: $(STAMP)
	$(BIN)/gantral dev

## test: lint, type-check, the TypeScript and Go SDKs' own tests, then every test against
## real servers started by the suite (the SDK contract test among them)
test: lint typecheck sdk
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

## sdk: install what the TypeScript and Go SDKs need, then run their own tests
sdk: $(NPM_STAMP) $(EXAMPLE_STAMP) go-toolchain
	cd $(TS_SDK) && npm test --silent
	cd $(GO_SDK) && GOPROXY=off go vet ./... && GOPROXY=off go test ./...
	cd examples/go && GOPROXY=off go vet ./...

node-toolchain:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || \
	  { echo "the TypeScript SDK needs Node 20 with npm on PATH" >&2; exit 1; }

$(NPM_STAMP): $(TS_SDK)/package-lock.json | node-toolchain
	cd $(TS_SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(EXAMPLE_STAMP): $(TS_EXAMPLE)/package-lock.json | node-toolchain
	cd $(TS_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## go-toolchain: Debian's golang-go, installed only when `go` is missing (the Go SDK uses
## the standard library only; no module proxy is needed)
go-toolchain:
	@if ! go version >/dev/null 2>&1; then \
	  command -v apt-get >/dev/null 2>&1 || \
	    { echo "Go is missing and apt-get is not available: install Go >= 1.19 (Debian: golang-go)" >&2; exit 1; }; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing golang-go with apt-get"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq golang-go >/dev/null || \
	    { echo "apt-get could not install golang-go" >&2; exit 1; }; \
	fi
	@go version && go env GOCACHE >/dev/null || { echo "go is installed but does not run for $$(id -un)" >&2; exit 1; }

## sdk-types: regenerate the TypeScript and Go SDK types from specs/openapi.json
sdk-types: go-toolchain | node-toolchain
	cd $(TS_SDK) && node scripts/gen-types.mjs
	cd $(GO_SDK) && GOPROXY=off go run ./cmd/gentypes

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

## specs: regenerate the committed specs (OpenAPI, state machine, JSON Schemas)
specs: $(STAMP)
	$(BIN)/gantral specs write
	$(MAKE) sdk-types

## replay-record: re-record the replay corpus (tests/replay/histories) after a workflow change
replay-record: $(STAMP)
	$(BIN)/python -m tests.replay.record
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/replay

clean:
	rm -rf $(VENV) .data .mypy_cache .ruff_cache $(TS_SDK)/node_modules $(TS_SDK)/dist \
		$(TS_EXAMPLE)/node_modules $(TS_EXAMPLE)/dist
