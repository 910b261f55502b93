# Every target creates what it needs: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test lint bench bench-smoke drill clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/replydesk serve

# A living inbox: embedded database (temporary), provider simulator, a webhook stream.
demo: install
	$(BIN)/replydesk demo $(DEMO_ARGS)

# Two pytest-xdist workers (each its own embedded server, or its own databases on
# TEST_DATABASE_URL); PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

# Bench and drill write results/<name>-<UTC>.json (untracked); --record appends to
# docs/benchmarks.md, e.g. make bench BENCH_ARGS="--record".
bench: install
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

drill: install
	$(BIN)/python bench/drill.py $(DRILL_ARGS)

# Every bench script for a few seconds, on its own embedded PostgreSQL, so none breaks
# silently (CI runs it). Writes only results/smoke/ (untracked), replaced on each run.
SMOKE_ENV := env -u DATABASE_URL -u REPLYDESK_DATABASE_URL -u TEST_DATABASE_URL
SMOKE_OUT := --results-dir results/smoke
bench-smoke: install
	rm -rf results/smoke
	$(SMOKE_ENV) $(BIN)/python bench/ingest.py --seconds 1 --warmup 0.5 --concurrency 8 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/ingest_cpu.py --requests 300 --concurrency 8 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/queue_drain.py --events 300 --jobs 300 --leads 50 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/counts.py --leads 2000 --small-workspaces 2 --requests 5 \
		--cte-runs 1 --deep-offset 100 --drop $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/pages.py --leads 2000 --small-workspaces 2 --requests 5 \
		--drop $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/drill.py --events 300 --leads 50 --concurrency 8 \
		--drain-timeout 60 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/categorise.py --repeat 1 $(SMOKE_OUT)
	# Two "hosts" (network namespaces) need root; elsewhere this step says so and is skipped.
	if [ "$$(id -u)" = 0 ] && command -v ip >/dev/null; then \
		$(SMOKE_ENV) $(BIN)/python bench/drill.py --events 300 --leads 50 --concurrency 8 \
			--hosts 2 --drain-timeout 60 $(SMOKE_OUT); \
	else echo "bench-smoke: not root or no ip(8): two-host drill skipped"; fi
	$(SMOKE_ENV) $(BIN)/python bench/triage.py --lines 20000 --repeat 1 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/retention_soak.py --days 4 --events-per-day 30 \
		--window-days 1 --payload-days 1 $(SMOKE_OUT)
	$(SMOKE_ENV) $(BIN)/python bench/queue_compare.py --only ours,pgqueuer --jobs 200 $(SMOKE_OUT)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
