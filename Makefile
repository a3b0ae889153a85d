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

bench: $(STAMP)
	for script in bench/*.py; do case $$script in bench/_*) continue;; esac; $(BIN)/python $$script || exit 1; done

screenshots: $(STAMP)
	$(BIN)/python screenshots/make.py
	@echo "screenshots/web.png needs Debian's chromium: $(BIN)/python screenshots/web.py"

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .bench
