# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
WEB_CONCURRENCY ?= 1
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck fmt migrate demo-data bench soak clean e2e-deps

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list or the pinned versions change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install pinned dependencies

migrate: install
	$(MANAGE) migrate --noinput

demo-data: migrate ## Load the demo movies and catalog
	$(MANAGE) load_demo_data

# Development defaults: debug on (no secret key needed), SQLite unless
# DATABASE_URL says otherwise. Override any of them on the command line.
run: export DJANGO_DEBUG ?= 1
run: demo-data ## Serve on http://127.0.0.1:$(PORT) with uvicorn
	$(BIN)/python -m config.runtime.serve --port $(PORT) --workers $(WEB_CONCURRENCY)

lint: install ## ruff (with Django and async rules)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Settings are imported by the django-stubs plugin: they need a secret key.
typecheck: install ## mypy with django-stubs (config in pyproject.toml)
	DJANGO_SECRET_KEY=mypy-check $(BIN)/mypy

fmt: install
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

bench: install ## Load benchmark against PostgreSQL (see bench/RESULTS.md)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

soak: install ## 60 s soak at c=400 with orders mixed in, then consistency checks
	$(BIN)/python bench/run.py --soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles test-artifacts $(E2E)/node_modules
