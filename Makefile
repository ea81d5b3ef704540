# The few commands people type.  Every target sets itself up: the virtualenv is
# created and the project installed on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test processes for `make test` (pytest-xdist); whole files go to one process, so a module's
# crawl fixtures run once.  TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
# ReplayWeb.page and playwright-core for tests/e2e/test_replaywebpage.py, at the versions
# tests/replayweb/package-lock.json pins; installed into tests/replayweb/node_modules (ignored).
REPLAYWEB := tests/replayweb
REPLAYWEB_STAMP := $(REPLAYWEB)/node_modules/.installed
# trafilatura and readability-lxml, the baselines of bench/cleaning.py, at the versions
# bench/baselines-requirements.txt pins, in their own virtualenv beside the project itself.
BASELINES_VENV := var/baselines-venv
BASELINES_STAMP := $(BASELINES_VENV)/.installed

.PHONY: help install replayweb demo test test-fast lint typecheck layers check bench bench-baselines clean

help:
	@echo "make demo      - crawl the bundled sample site into WARCs on an embedded S3 server, offline"
	@echo "                 (make demo KEEP=1 keeps the archive and prints how to browse it)"
	@echo "make test      - run the whole test suite (starts its own SeaweedFS and sample site)"
	@echo "make test-fast - the unit tests only (tests/unit: no servers, no crawls, under a minute)"
	@echo "make check     - ruff, mypy --strict and the import-linter layer contracts"
	@echo "make bench     - benchmarks (bench/), each printing ratios against a baseline"
	@echo "make bench-baselines - trafilatura and readability-lxml for bench/cleaning.py, in var/"
	@echo "make clean     - remove the virtualenv and var/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Without npm the ReplayWeb.page test skips, saying so (under CI it fails: CI has node and npm).
$(REPLAYWEB_STAMP): $(REPLAYWEB)/package.json $(REPLAYWEB)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(REPLAYWEB) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && \
		touch node_modules/.installed; \
	else \
		echo "npm not found: tests/e2e/test_replaywebpage.py will skip (apt-get install nodejs npm)"; \
	fi

replayweb: $(REPLAYWEB_STAMP)

# KEEP=1 keeps the archive (S3 data and local WARCs) and prints how to browse it.
demo: $(STAMP)
	$(PY) -m archiver.devserver.demo $(if $(KEEP),--keep)

test: $(STAMP) $(REPLAYWEB_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# tests/integration and tests/e2e need servers, crawls and browsers; these need nothing.
test-fast: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The layers of archiver/ (pyproject.toml [tool.importlinter], docs/architecture.md).
layers: $(STAMP)
	$(VENV)/bin/lint-imports

check: lint typecheck layers

# pip is upgraded first: the pip a venv starts with (23.x) fails on lxml[html-clean].
$(BASELINES_STAMP): bench/baselines-requirements.txt pyproject.toml
	$(PYTHON) -m venv $(BASELINES_VENV)
	$(BASELINES_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BASELINES_VENV)/bin/python -m pip install --quiet -r bench/baselines-requirements.txt -e .
	touch $(BASELINES_STAMP)

bench-baselines: $(BASELINES_STAMP)

bench: $(STAMP) $(BASELINES_STAMP)
	@# _*.py are shared helpers and loopsite.py is the benchmarks' site server, not benchmarks.
	@for script in bench/*.py; do \
		name=$$(basename $$script .py); \
		case "$$name" in _*|loopsite) continue;; esac; \
		echo "== python -m bench.$$name"; $(PY) -m bench.$$name || exit 1; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(REPLAYWEB)/node_modules
