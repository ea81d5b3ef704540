# The few commands people type.  Every target sets itself up: the virtualenv is
# created and the project installed on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install demo test lint typecheck check bench clean

help:
	@echo "make demo   - crawl the bundled sample site into WARCs on an embedded S3 server, offline"
	@echo "make test   - run the whole test suite (starts its own SeaweedFS and sample site)"
	@echo "make check  - ruff and mypy"
	@echo "make bench  - benchmarks (bench/), each printing ratios against a baseline"
	@echo "make clean  - remove the virtualenv and var/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m archiver.demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck

bench: $(STAMP)
	@# _*.py are shared helpers and loopsite.py is the benchmarks' site server, not benchmarks.
	@for script in bench/*.py; do \
		case "$$(basename $$script)" in _*|loopsite.py) continue;; esac; \
		echo "== $$script"; $(PY) $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
