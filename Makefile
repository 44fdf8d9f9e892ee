PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST := $(BIN)/python -m pytest
STAMP := $(VENV)/.installed
# The pinned versions the tests ran with (written by `make lock`): every install below takes them,
# so a fresh machine gets what was tested.
LOCK := constraints.txt

.PHONY: test test-e2e test-distributed e2e-deps distributed-deps demo dev lint bench lock lock-upgrade clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(LOCK) --upgrade pip
	$(PIP) install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# The fast tier: unit and integration tests (pyproject.toml's addopts leave out e2e, distributed
# and live). PYTEST_ARGS passes more options, e.g. PYTEST_ARGS='-k html --durations=20'.
test: $(STAMP)
	$(PYTEST) -q $(PYTEST_ARGS)

# The slow tier (tests/e2e/): headless Chromium, a wheel installed into a fresh venv, `dagster dev`
# running a backfill, the --quick benchmark. Run `make e2e-deps` once first.
test-e2e: $(STAMP)
	$(PYTEST) -q -m e2e $(PYTEST_ARGS)

# The production deployment on loopback (tests/distributed/): PostgreSQL, Redis, an S3 server
# (moto), two Celery workers and the Dagster daemon; a 6-day backfill across the workers with the
# lake on S3, and four workers against one rate budget (~5 min). Installs what it needs first.
test-distributed: distributed-deps
	$(PYTEST) -q -m distributed $(PYTEST_ARGS)

# What the distributed tier needs: PostgreSQL and Redis from Debian's packages (root, apt-get)
# when they are missing, and the pinned `deploy` extra (Dagster on PostgreSQL, Celery, the Redis
# client, moto's S3 server).
distributed-deps: $(STAMP)
	@if command -v redis-server >/dev/null && { command -v initdb >/dev/null || \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then \
		echo "redis-server and PostgreSQL: installed"; \
	elif test "$$(id -u)" -ne 0; then \
		echo "make distributed-deps: needs root to run: apt-get install -y postgresql redis-server" >&2; exit 1; \
	else \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql redis-server; \
	fi
	$(PIP) install --quiet -c $(LOCK) -e '.[dev,deploy]'

# What the e2e tier needs outside the venv: Debian's Chromium (root, apt-get) and the npm client.
e2e-deps:
	@if test -x /usr/bin/chromium || command -v chromium >/dev/null; then \
		echo "chromium: $$(command -v chromium || echo /usr/bin/chromium)"; \
	elif test "$$(id -u)" -ne 0; then \
		echo "make e2e-deps: needs root to run: apt-get install -y chromium" >&2; exit 1; \
	else \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi
	# The official npm client (pinned in tests/e2e/npm/package-lock.json) for test_npm_client.py.
	npm ci --prefix tests/e2e/npm --no-audit --no-fund

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

lint: $(STAMP)
	$(BIN)/ruff check pipeline assets tests benchmarks tools
	$(BIN)/ruff format --check pipeline assets tests benchmarks tools
	$(BIN)/mypy

bench: $(STAMP)
	$(PIP) install --quiet -c $(LOCK) -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.history
	$(BIN)/python -m benchmarks.rate_budget

# After a dependency changed in pyproject.toml: install the project with every extra (what is
# installed and still fits stays as it is; only what must move moves), then pin the whole
# dependency closure from the venv into constraints.txt. `make lock-upgrade` instead takes the
# newest versions the bounds allow. Run `make test test-e2e` afterwards and commit the file.
lock-upgrade: UPGRADE := --upgrade --upgrade-strategy eager
lock lock-upgrade:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(UPGRADE) pip -e '.[dev,bench,deploy]'
	$(BIN)/python tools/lock.py > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	touch $(STAMP)

# Everything the project writes: the venv, data/ (all but .gitkeep: lake, raw archive, ledger,
# warehouse, report.html, scratch, make dev's data/dev), Dagster homes, downloads of
# `civitai-sync results|blob --download`, caches, build output, the e2e npm modules, the
# benchmark's cached history.
clean:
	rm -rf $(VENV) .dagster_home .tmp_dagster_home_* .tmp downloads build dist *.egg-info \
		.pytest_cache .mypy_cache .ruff_cache tests/e2e/npm/node_modules $(LOCK).new .bench-cache
	find data -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
