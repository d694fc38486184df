# The README's commands are `make demo`, `make up` (`make down`) and `make test`; each sets
# everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
DAY ?= 2026-11-01
EVENTS ?= 200000
N ?= 10000000
BENCH_ARGS ?=

PORT ?=

.PHONY: setup demo up down test test-fast lint format schema bench bench-scale bench-parse bench-night

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) -m event_export.demo --day $(DAY) --events $(EVENTS)

# the whole product on 127.0.0.1 (Airflow with the Exports page, PostgreSQL); README "Commands"
# (its set-up skips the tests' own tools: Azurite)
up:
	@bash scripts/setup.sh --no-test-tools
	@$(PY) -m event_export.standalone up $(if $(PORT),--port $(PORT))

# stops exactly what `make up` started (by PID); `make down PURGE=1` also drops its database
down:
	@$(PY) -m event_export.standalone down $(if $(PURGE),--purge)

bench: setup
	@$(PY) bench/bench.py --events $(N) $(BENCH_ARGS)

# make bench at 1 M, 3 M and 10 M events: cost per event (docs/performance.md)
bench-scale: setup
	@$(PY) bench/scale.py $(BENCH_ARGS)

# full parse of every export DAG file at 1,000 and 5,000 generated configs (docs/performance.md)
bench-parse: setup
	@$(PY) bench/parse.py $(or $(CONFIGS),1000 5000) $(BENCH_ARGS)

# one night of EXPORTS daily exports on a real Airflow (README "Performance", docs: capacity)
bench-night: setup
	@$(PY) bench/night.py --exports $(or $(EXPORTS),1000) $(BENCH_ARGS)

test: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/python -m pytest

# the fast tier: lint plus every test that needs no server, database or stack (docs/testing.md)
test-fast: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/python -m pytest -m "not integration and not stack and not browser"

lint: setup
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

schema: setup
	@$(PY) -m event_export.config.model schema > include/exports/export.schema.json
