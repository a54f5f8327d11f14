# Tidings: `make run` (embedded demo: SQLite + filesystem broker) and `make test` (PostgreSQL + Redis).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv run test lint format fuzz bench bench-trace clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(BIN)/python manage.py runlocal

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The API fuzz test, long: schemathesis with 100 cases per operation (over 10,000 cases)
# against a live server; `make test` runs a short version of it (10 per operation).
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

clean:
	rm -rf var
