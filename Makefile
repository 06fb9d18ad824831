# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
WEB_CONCURRENCY ?= 1
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck fmt migrate demo-data bench soak fuzz clean e2e-deps

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/$$(PORT)/$(PORT)/' \
		| awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list or the pinned versions change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install pinned dependencies

migrate: install ## Apply the database migrations
	$(MANAGE) migrate --noinput

demo-data: migrate ## Add the demo movies and catalog rows that are missing (changes no row)
	$(MANAGE) load_demo_data

# Development defaults: debug on (no secret key needed), SQLite unless
# DATABASE_URL says otherwise, demo data only into an empty database, a demo
# user when there is none, and a restart on every code or template change
# (one worker; RELOAD=0, or WEB_CONCURRENCY above 1, turns that off).
RELOAD ?= 1
SERVE_FLAGS := $(if $(filter-out 1,$(WEB_CONCURRENCY)),--workers $(WEB_CONCURRENCY),$(if $(filter 1,$(RELOAD)),--reload))
run: export DJANGO_DEBUG ?= 1
run: migrate ## Serve on http://127.0.0.1:$(PORT), reloading on edits (demo data and user on first run)
	$(MANAGE) load_demo_data --if-empty
	$(MANAGE) dev_welcome --port $(PORT)
	$(BIN)/python -m config.runtime.serve --port $(PORT) $(SERVE_FLAGS)

lint: install ## ruff (with Django and async rules)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Settings are imported by the django-stubs plugin: they need a secret key.
typecheck: install ## mypy with django-stubs (config in pyproject.toml)
	DJANGO_SECRET_KEY=mypy-check $(BIN)/mypy

fmt: install ## Fix what ruff can and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The browser tests (tests/e2e) need Debian's Chromium and axe-core from npm.
# Chromium is installed when missing and we are root (CI); otherwise those
# tests skip with the reason (and fail when CI is set).
E2E := tests/e2e
e2e-deps: ## Install Chromium (apt, as root) and axe-core (npm) for the browser tests
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
			&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) ; } \
		|| echo "Chromium is missing and cannot be installed here: browser tests will skip."
	@[ -d $(E2E)/node_modules/axe-core ] \
		|| { command -v npm >/dev/null && (cd $(E2E) && npm ci --no-audit --no-fund) ; } \
		|| echo "npm is missing: the accessibility tests will skip."

test: install e2e-deps typecheck ## Lint, type-check, check migrations, run the whole suite (browser tests included)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SECRET_KEY=makemigrations-check $(MANAGE) makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# A fresh seed unless given; the run prints how to replay it.
SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
MINUTES ?= 10
fuzz: install ## Long schemathesis run (MINUTES, default 10) with a fresh SEED; prints how to replay
	FUZZ_SEED=$(SEED) FUZZ_MINUTES=$(MINUTES) $(BIN)/pytest tests/test_fuzz_api.py -m fuzz -s $(PYTEST_ARGS)

bench: install ## Load benchmark against PostgreSQL (see bench/RESULTS.md)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

soak: install ## 60 s soak at c=400 with orders mixed in, then consistency checks
	$(BIN)/python bench/run.py --soak $(BENCH_ARGS)

clean: ## Remove .venv, caches, static and test artifacts (keeps db.sqlite3)
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles test-artifacts $(E2E)/node_modules
