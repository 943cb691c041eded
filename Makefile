# Two commands for a newcomer: `make run` (the demo) and `make test` (the whole suite).
# Each creates .venv and installs what it needs; a stamp file skips reinstalling.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APP    := $(VENV)/.installed-app
DEV    := $(VENV)/.installed-dev

.PHONY: run test lint format bench clean constraints

# The demo: SQLite under var/, the demo data, faxes written to var/faxes, the phone simulator
# standing in for Twilio (its REST API served by the app itself), the dispatcher's worker in
# the web process (one worker, whose threads also answer that worker's calls to the demo's
# fake Twilio); the program's clock starts on a Tuesday night in December.
DEMO_ENV := IVR_SIMULATOR=true PUBLIC_BASE_URL=http://127.0.0.1:8000 \
	TWILIO_ACCOUNT_SID=AC55555555555555555555555555555555 TWILIO_AUTH_TOKEN=demo-token \
	TWILIO_API_BASE_URL=http://127.0.0.1:8000/simulator/twilio IVR_CALLER_ID=+33199000000 \
	FAX_TRANSPORT=folder IVR_CLOCK=$${IVR_CLOCK:-2026-12-22T23:00:00}

DEMO_ADMIN    := admin@demo.example
DEMO_PASSWORD := demo-astreinte

run: $(APP)
	$(BIN)/ivr db upgrade
	$(BIN)/ivr import directory config/demo
	$(BIN)/ivr import clients config/demo/clients.csv
	@echo "$(DEMO_PASSWORD)" | $(BIN)/ivr user add $(DEMO_ADMIN) --role admin --exists-ok
	@echo ""
	@echo "  Phone simulator: http://127.0.0.1:8000/simulator"
	@echo "  Back office:     http://127.0.0.1:8000/   login $(DEMO_ADMIN) / $(DEMO_PASSWORD)"
	@echo "  Summary sheets:  var/faxes/      (Ctrl-C stops everything)"
	@echo ""
	$(DEMO_ENV) $(BIN)/ivr serve --bind 127.0.0.1:8000 --workers 1 --threads 4

test: $(DEV)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

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

$(APP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	@touch $@

$(DEV): pyproject.toml constraints.txt $(APP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

# What a fresh install resolves today, from pyproject.toml alone, in a venv of its own, on
# Python 3.11 (Debian 12's, the oldest supported: a newer one could pin releases 3.11 cannot
# install); setuptools too (test_deploy builds the package with it). Then make test (which
# reinstalls .venv from the new pins) before committing it.
constraints:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "make constraints needs Python 3.11: make constraints PYTHON=python3.11"; exit 1; }
	rm -rf .venv-pins && $(PYTHON) -m venv .venv-pins
	.venv-pins/bin/python -m pip install --quiet --upgrade pip
	.venv-pins/bin/python -m pip install --quiet '.[dev]'
	{ sed -n '/^#/p' constraints.txt; .venv-pins/bin/python -m pip freeze --all --exclude pip --exclude ivr; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-pins build

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
