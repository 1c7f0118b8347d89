# imagecheck: validate PyTorch + CUDA container images.   `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
IMAGE ?= pytorch-cuda:v2.6
ARGS ?=
REPORTS ?= reports

.DEFAULT_GOAL := help
.PHONY: help setup fixtures test-tools validate test nightly bench clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: IMAGE=$(IMAGE) REPORTS=$(REPORTS) ARGS='extra pytest arguments'"

setup: $(VENV)/.installed ## Create the virtualenv and install the suite's dependencies

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "imagecheck needs Python >= 3.11 on the host (found $$($(PYTHON) --version 2>&1)); set PYTHON=..."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "cannot create a virtualenv: install python3-venv"; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

fixtures: setup ## Build the fixture images (cached: a second run takes seconds)
	$(BIN)/python fixtures/images/build.py

validate: setup ## Validate IMAGE (default: the reference image, built if missing)
	$(BIN)/python fixtures/images/build.py --if-known $(IMAGE)
	$(BIN)/pytest --image $(IMAGE) $(ARGS)

test-tools: ## Install what the self-tests start beside the engine: the distribution registry and htpasswd (Debian)
	@command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || { \
	  echo "installing docker-registry and apache2-utils (htpasswd) for the registry self-tests"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q docker-registry apache2-utils; }

test: fixtures test-tools ## Run the suite's own tests (self-tests against real Docker, a real registry and the fixture images)
	$(BIN)/pytest selftest $(ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: the setup is broken"; exit 1; fi; exit $$rc

nightly: setup ## Validate every image not marked run_by_default: false in parallel (one worker each); report + JUnit in reports/DATE/; REUSE=1 reuses unchanged images' results
	$(BIN)/python -m imagecheck.nightly --reports $(REPORTS) $(if $(WORKERS),--workers $(WORKERS)) $(if $(filter 1 yes true,$(REUSE)),--reuse) -- $(ARGS)

bench: fixtures $(VENV)/.bench-installed ## Measure the suite against its floor and the real container-structure-test, a nightly with reuse, the whole suite on one image (prints tables)
	$(BIN)/python bench/overhead.py $(if $(filter-out pytorch-cuda:v2.6,$(IMAGE)),--image $(IMAGE))
	$(BIN)/python bench/nightly_reuse.py $(if $(filter-out pytorch-cuda:v2.6,$(IMAGE)),--image $(IMAGE))
	$(BIN)/python bench/whole_suite.py $(if $(filter-out pytorch-cuda:v2.6,$(IMAGE)),--image $(IMAGE))

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[bench]'
	@touch $@

clean: ## Remove containers and images left by crashed runs, build logs, reports and the virtualenv
	-[ -x $(BIN)/python ] && $(BIN)/python -m imagecheck.runtime.lifecycle
	rm -rf $(VENV) build $(REPORTS) .pytest_cache
