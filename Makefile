# SafeHarbor CRM. A new machine needs Python 3.11+ and make; everything else installs here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
DEMO_CLIENTS ?= 200
# WebAuthn checks the origin: it must be the address the browser uses.
export WEBAPP_ORIGIN ?= http://localhost:$(PORT)

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

## Serve the app on http://localhost:$(PORT) with a demo agency (seeded the first time).
run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed --clients $(DEMO_CLIENTS) --if-empty --invites
	$(FLASK) serve --host localhost --port $(PORT)

## The whole suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/crypto_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
