# Tidings: `make run` (embedded demo: SQLite + filesystem broker) and `make test` (PostgreSQL + Redis).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv run test lint format fuzz bench bench-trace chaos compose-smoke clean

venv: $(STAMP)

$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]" -e clients/python
	rm -f $(VENV)/.installed-*
	touch $@

# `make run PORT=8001` (or TIDINGS_PORT=8001 in the environment) picks another web port.
run: venv
	$(BIN)/python manage.py runlocal $(if $(PORT),--port $(PORT))

# The whole suite on Redis, then the end-to-end and broker tests again on RabbitMQ, in a
# vhost of their own that the run creates and deletes (but the per-provider end-to-end
# modules: every provider against its fake, and receipts, which the broker does not change).
test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest
	TIDINGS_TEST_BROKER=rabbitmq \
	TIDINGS_TEST_RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/tidings_test_$$$$ \
	$(BIN)/pytest -m "e2e or broker" \
	  --ignore=tests/e2e/test_channels.py --ignore=tests/e2e/test_native_receipts.py \
	  --ignore=tests/e2e/test_new_provider.py
	# The Redis-backed rules and breakers again, on a throwaway 3-node Redis Cluster.
	$(BIN)/python -m tests.redis_cluster $(BIN)/pytest -q tests/rules tests/channels/test_breaker.py tests/infra

# The import contract (one-way layers, pyproject.toml [tool.importlinter]) and mypy with the
# Django and DRF plugins on app code ([tool.mypy]) run in both.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The API fuzz test, long: schemathesis with 100 cases per operation (over 10,000 cases)
# against a live server; `make test` runs a short version of it (5 per operation).
fuzz: venv
	TIDINGS_FUZZ_EXAMPLES=$${TIDINGS_FUZZ_EXAMPLES:-100} $(BIN)/pytest tests/test_fuzz_api.py -s -p no:logging

# Benchmarks, not timed tests: throughput (P1/P2), priority lanes, campaign fan-out.
bench: venv
	$(BIN)/python bench/run.py
	$(BIN)/python bench/priority.py
	$(BIN)/python bench/campaign.py

# Trace lookups over 10M messages (loading them takes a while; --reuse skips the load).
bench-trace: venv
	$(BIN)/python bench/trace_lookup.py

# docker/compose.yml brought up for real and checked end to end (minutes; not in CI): see
# docs/operations.md, "Deployment with docker compose".
compose-smoke:
	docker/smoke/run.sh

# Fault injection on private PostgreSQL, Redis (and RabbitMQ) servers it starts itself; not
# in CI. Arguments: make chaos CHAOS_ARGS="--scenario R4 --messages 2000".
chaos: venv
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf var
