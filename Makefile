# Two commands on a fresh machine: `make run` and `make test`.
# Everything the project needs is installed from requirements.txt and package.json.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
ADDRESS ?= 127.0.0.1:8000
# The suite on every core, four processes at most (pytest-xdist; conftest.py gives each
# its own Redis databases); PYTEST_ARGS="-n 0" runs it in this one process.
PYTEST_ARGS ?= -n auto --maxprocesses 4

.PHONY: run test install lint format migrate demo bench screenshots messages clean

## run: install, migrate, seed the demo into an empty database, serve on $(ADDRESS);
## links in e-mails and the start-up banner use http://$(ADDRESS) unless ALLIANCE_BASE_URL is set
run: export ALLIANCE_BASE_URL ?= http://$(ADDRESS)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py runserver $(ADDRESS)

## test: install what is missing, lint, run the whole suite
test: install
	$(BIN)/ruff check .
	$(BIN)/djlint templates --lint
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/djlint templates --lint

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

## bench: pages, exports, the sweep and the client form under load at the large scale, each
## against its floor, in one table (needs PostgreSQL and Redis; see README "Speed")
bench: install
	$(PY) bench/run.py

## messages: add new strings to the Spanish catalogue and compile it (needs GNU gettext);
## translate them in locale/es/LC_MESSAGES/django.po with any PO editor, then run it again
messages: install
	$(PY) manage.py makemessages -l es --ignore=.venv --ignore=node_modules --ignore=staticfiles
	$(PY) manage.py compilemessages -l es --ignore=.venv --ignore=node_modules

## screenshots: re-take the README's screenshots from the demo data (needs /usr/bin/chromium)
screenshots: install
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) node_modules staticfiles
