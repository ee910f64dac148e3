# neuromkt — `make run` to open the dashboard, `make test` to run the checks.
# Both create .venv when it is missing and (re)install the requirements only when
# requirements*.txt or pyproject.toml changed (a stamp file keyed on their hash).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BOOT_PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
PORT ?= 8501
PYTEST_ARGS ?=

HASH_RUN := $(shell cat requirements.txt pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
HASH_DEV := $(shell cat requirements.txt requirements-dev.txt pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
STAMP_RUN := $(VENV)/.stamp-run-$(HASH_RUN)
STAMP_DEV := $(VENV)/.stamp-dev-$(HASH_DEV)

.PHONY: help run test test-fast lint format samples bench screenshot setup setup-dev clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

run: setup  ## set up and open the dashboard (PORT=8501)
	@echo "neuromkt: the dashboard opens at http://localhost:$(PORT) (Ctrl+C stops it)"
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: setup-dev  ## set up, lint, check the import contracts and run all tests (PYTEST_ARGS="-k data -x")
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: setup-dev  ## the quick loop: lint, import contracts, tests not marked slow or browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -m "not slow and not browser" -x -q $(PYTEST_ARGS)

lint: setup-dev  ## check style and the import contracts without changing files
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .

format: setup-dev  ## fix style in place
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

samples: setup  ## regenerate the sample data sets and their pre-trained models (slow)
	$(PY) -m neuromkt.data.samples --out sample_data
	$(PY) -m neuromkt.model.sample_models

bench: setup-dev  ## run every benchmark in bench/
	@shopt -s nullglob; for script in bench/*.py; do \
		echo "== $$script"; $(PY) "$$script" || exit 1; \
	done

screenshot: setup-dev  ## refresh docs/screenshot-*.png from the running app
	$(PY) scripts/screenshot.py

setup: $(STAMP_RUN)
setup-dev: $(STAMP_DEV)

$(PY):
	$(BOOT_PYTHON) -m venv $(VENV)

# The dev requirements include the runtime ones, so a current dev stamp also
# satisfies `make run` without a second install.
$(STAMP_RUN): | $(PY)
	@if [ -f "$(STAMP_DEV)" ]; then touch "$@"; else \
		set -e; \
		$(PY) -m pip install -r requirements.txt; \
		$(PY) -m pip install -e . --no-deps; \
		rm -f $(VENV)/.stamp-run-*; touch "$@"; \
	fi

$(STAMP_DEV): | $(PY)
	$(PY) -m pip install -r requirements-dev.txt
	$(PY) -m pip install -e . --no-deps
	@rm -f $(VENV)/.stamp-dev-*; touch "$@"

clean:  ## remove caches and test artifacts (keeps .venv and .neuromkt)
	rm -rf .pytest_cache .ruff_cache test-artifacts build *.egg-info
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
