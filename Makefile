# batchdeck: `make demo` runs the app on the embedded demo server,
# `make test` runs the whole test suite (lint, types, tests). Both set themselves up.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench screenshots clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "batchdeck needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/batchdeck demo

lint: $(STAMP)
	$(BIN)/ruff check tui tests bench
	$(BIN)/ruff format --check tui tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --dist loadfile -q

# Every benchmark runs (one that misses its goal does not stop the others); each keeps
# its verdicts in .bench/results.json, and bench/summary.py ends with one table of this
# run's (its exit status: 1 if a goal is not met or a benchmark failed).
bench: $(STAMP)
	@start=$$(date +%s); failed=0; \
	for script in bench/*.py; do \
		case $$script in bench/_*|bench/summary.py) continue;; esac; \
		echo "== $$script"; $(BIN)/python $$script || failed=1; \
	done; \
	$(BIN)/python bench/summary.py --since $$start && exit $$failed

screenshots: $(STAMP)
	$(BIN)/python screenshots/make.py
	@echo "screenshots/web.png needs Debian's chromium: $(BIN)/python screenshots/web.py"

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .bench
