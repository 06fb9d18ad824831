# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
WEB_CONCURRENCY ?= 1
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint fmt migrate demo-data bench clean

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
	@echo "Starting uvicorn on http://127.0.0.1:$(PORT) with $(WEB_CONCURRENCY) worker(s)"
	$(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) \
		--workers $(WEB_CONCURRENCY) --loop uvloop --http httptools --no-access-log

lint: install ## ruff (with Django and async rules)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install ## Lint, check migrations, run the whole suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SECRET_KEY=makemigrations-check $(MANAGE) makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install ## Load benchmark against PostgreSQL (see bench/README.md)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
