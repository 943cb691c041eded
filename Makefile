# Two commands for a newcomer: `make run` (the demo) and `make test` (the whole suite).
# Each creates .venv and installs what it needs; a stamp file skips reinstalling.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APP    := $(VENV)/.installed-app
DEV    := $(VENV)/.installed-dev

.PHONY: run test lint format bench clean

run: $(APP)
	$(BIN)/ivr db upgrade
	$(BIN)/ivr import directory config/demo
	$(BIN)/ivr import clients config/demo/clients.csv
	@echo "Serving on http://127.0.0.1:8000/  (Ctrl-C stops)"
	$(BIN)/ivr serve --bind 127.0.0.1:8000

test: $(DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(DEV)
	$(BIN)/python bench/import_clients.py
	$(BIN)/python bench/webhooks.py

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create $(VENV): on Debian, run 'apt-get install python3-venv' first"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV): pyproject.toml $(APP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
