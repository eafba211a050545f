# The two commands of the README:
#   make demo   set everything up and run the product against the built-in sandbox
#   make test   set everything up and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint audit fault-matrix fault-matrix-fast screenshots clean

# The product and, beside it, the sandbox (its own package: not part of the product's wheel).
$(STAMP): pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' -e ./sandbox
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/ml-connector-dev

test: setup
	-@bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/dg check defs
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/dg check defs

# Supply chain: pip-audit over the installed versions (its own tool venv, .venv-audit).
audit: setup
	$(PYTHON) scripts/audit-deps.py

# Every fault at every stage against the sandbox, then replay, then F&O read back (README
# "Fault matrix"); the full run writes docs/fault-matrix.md.
fault-matrix: setup
	$(BIN)/python -m faultmatrix --output docs/fault-matrix.md

fault-matrix-fast: setup
	$(BIN)/python -m faultmatrix --fast

# The README's pictures of the Dagster UI, re-taken from a fresh sandbox run (README "What a
# finance user sees in the UI"); needs Chromium (apt-get install -y chromium); one to two minutes.
screenshots: setup
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .venv-audit .dagster_home .sandbox .pytest_cache .ruff_cache
