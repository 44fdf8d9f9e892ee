PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo dev lint bench clean e2e-deps distributed-deps test-distributed

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/civitai-sync demo

# `make dev`: the simulator on 127.0.0.1:$(SIM_PORT) serving the last $(SIM_DAYS) UTC days, and
# `dagster dev` (http://127.0.0.1:$(DAGSTER_PORT)) against it. Lake and warehouse go to $(DEV_DATA_DIR),
# Dagster's own state to .dagster_home (with ./dagster.yaml); Ctrl-C stops both. Dagster runs
# from .dagster_home because its CLI loads a `.env` from the working directory over the
# environment: a real token in ./.env must not be sent to the simulator.
SIM_PORT ?= 8787
DAGSTER_PORT ?= 3000
SIM_DAYS ?= 14
SIM_TOKEN ?= sim-token
DEV_DATA_DIR ?= data/dev
DEV_HOME := $(CURDIR)/.dagster_home

dev: $(STAMP)
	mkdir -p $(DEV_HOME) $(DEV_DATA_DIR)
	cp dagster.yaml $(DEV_HOME)/dagster.yaml
	@start=$$($(BIN)/python -c "import datetime as d; print(d.datetime.now(d.UTC).date() - d.timedelta(days=$(SIM_DAYS)))"); \
	$(BIN)/civitai-sync simulator serve --port $(SIM_PORT) --start $$start --days $(SIM_DAYS) \
		--token $(SIM_TOKEN) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT INT TERM; \
	cd $(DEV_HOME) && \
	DAGSTER_HOME=$(DEV_HOME) \
	CIVITAI_API_URL=http://127.0.0.1:$(SIM_PORT) CIVITAI_API_TOKEN=$(SIM_TOKEN) \
	CIVITAI_SYNC_DATA_DIR=$(CURDIR)/$(DEV_DATA_DIR) CIVITAI_SYNC_START_DATE=$$start \
	$(CURDIR)/$(BIN)/dagster dev -m assets.definitions --working-directory $(CURDIR) \
		-p $(DAGSTER_PORT)

# The official npm client for tests/e2e (pinned in tests/e2e/npm/package.json and its lock);
# tests/e2e/test_npm_client.py skips until it is installed.
CIVITAI_CLIENT_VERSION := 0.2.0-beta.86

e2e-deps:
	npm install --prefix tests/e2e/npm --save-exact @civitai/client@$(CIVITAI_CLIENT_VERSION)

# The servers and libraries of the production deployment (deploy/), for `make test-distributed`:
# PostgreSQL and Redis from the system's packages (apt-get, as root) when they are missing, and
# the pinned `deploy` extra (Dagster on PostgreSQL, Celery, Redis client, moto's S3 server).
distributed-deps: $(STAMP)
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq postgresql; }
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'

# PostgreSQL, Redis, an S3 server (moto), two Celery workers and the Dagster daemon on loopback;
# a 6-day backfill across the workers with the lake on S3 (tests/distributed, ~5 min).
test-distributed: distributed-deps
	$(BIN)/python -m pytest -q -m distributed tests/distributed

lint: $(STAMP)
	$(BIN)/ruff check pipeline assets tests benchmarks
	$(BIN)/ruff format --check pipeline assets tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) data/lake data/raw data/warehouse.duckdb data/ledger.sqlite
