# Incident Commons — the two commands a newcomer needs are `make run` and `make test`.
# Only Python 3.11+ and make are assumed; everything else is installed into .venv.

# The newest Python 3.11+ on the PATH; override with make run PYTHON=/path/to/python3.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench fmt lock check-python clean-venv seed migrate

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "Incident Commons needs Python 3.11 or newer. Found: $$($(PYTHON) --version 2>/dev/null || echo 'no Python 3')."; \
	  echo "Install Python 3.11+ and run again, or point make at it: make run PYTHON=/path/to/python3.11"; \
	  exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a lock file changes, so a second `make run` starts in seconds.
$(VENV)/.installed-base: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	@touch $@

$(VENV)/.installed-dev: requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	@touch $(VENV)/.installed-base $@

run: check-python $(VENV)/.installed-base
	@DEMO_MODE=1 $(BIN)/python manage.py migrate --no-input -v 0
	@DEMO_MODE=1 $(BIN)/python manage.py seed_demo
	@DEMO_MODE=1 $(BIN)/python manage.py create_demo_accounts
	@echo ""
	@echo "Incident Commons is running at http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	@DEMO_MODE=1 $(BIN)/python manage.py runserver --noreload --skip-checks $(HOST):$(PORT)

test: check-python $(VENV)/.installed-dev
	$(BIN)/pytest

lint: check-python $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: check-python $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py

# Refresh the lock files after changing pyproject.toml.
lock: $(VENV)/.installed-dev
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links -o requirements/base.txt pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra dev -o requirements/dev.txt pyproject.toml

clean-venv:
	rm -rf $(VENV)
