# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv from the pinned
# lock when it is missing or older than pyproject.toml / requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# Test modules run in TEST_WORKERS processes (pytest-xdist, one module per worker at a time); each worker
# has its own EIS_HOME, embedded PostgreSQL and Airflow home (tests/conftest.py). TEST_WORKERS=0: serial.
# 3 on the 2-core CI machine: a clean-clone run kept the 2 cores about 60 % busy with 2 workers (much of the
# suite waits on Airflow's scheduler, dbt start-up and PostgreSQL), so a third worker fills the gaps.
TEST_WORKERS ?= 3

.PHONY: help venv lock lint format demo demo-chicago test bench bench-quality airflow airflow-stop db-start db-stop clean lint-contract webapp severity-api

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (first run takes a few minutes) ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip check
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)  ## create or refresh .venv from requirements.lock (every extra, hashes checked)

# The lock: every dependency of pyproject.toml and of all its extras, pinned with hashes. Versions already in
# requirements.lock are kept; LOCK_ARGS="--upgrade-package NAME" moves one (docs/development.md).
LOCK_ARGS ?=
lock: $(STAMP)  ## regenerate requirements.lock (with hashes) from pyproject.toml, keeping the current pins
	$(BIN)/uv pip compile pyproject.toml --all-extras --generate-hashes --python-version 3.11 \
	  --custom-compile-command "make lock" $(LOCK_ARGS) -o requirements.lock

# Lint: ruff (lint + format check) and mypy on the Python, sqlfluff on the dbt models and macros.
PY_SRC := eis_core dags
lint: $(STAMP)  ## ruff check, ruff format --check, mypy, sqlfluff (docs/development.md, "Lint")
	$(BIN)/ruff check $(PY_SRC)
	$(BIN)/ruff format --check $(PY_SRC)
	$(BIN)/mypy | $(BIN)/mypy-baseline filter
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models dbt_project/macros
	$(BIN)/pre-commit validate-config .pre-commit-config.yaml

format: $(STAMP)  ## apply ruff's fixes and formatting (then check `make lint`)
	$(BIN)/ruff check --fix $(PY_SRC)
	$(BIN)/ruff format $(PY_SRC)

demo: $(STAMP)  ## run the pipeline end to end on the small synthetic department, through Airflow
	$(BIN)/eis demo

demo-chicago: $(STAMP)  ## the officer EIS on the real Chicago sample (../shared/data/cpdp): import to a scoring day
	$(BIN)/eis demo --real chicago

test: $(STAMP)  ## run the test suite (embedded PostgreSQL and real Airflow included)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

bench: $(STAMP)  ## run the benchmarks; figures go to docs/benchmarks/
	$(BIN)/python bench/run_all.py

bench-quality: $(STAMP)  ## decision quality per department vs a plain reference and the legacy EIS (docs/benchmarks/quality.md)
	$(BIN)/python bench/bench_quality.py

WEBAPP_PORT ?= 8050
webapp: $(STAMP)  ## upgrade the warehouse schema, then serve the web app on http://127.0.0.1:8050/ (WEBAPP_PORT=...; `make demo` prints a login)
	$(BIN)/eis db upgrade
	$(BIN)/eis webapp --port $(WEBAPP_PORT)

SEVERITY_PORT ?= 8001
severity-api: $(STAMP)  ## serve the crime-severity API on http://127.0.0.1:8001/ (SEVERITY_PORT=...; docs at /docs)
	$(BIN)/eis severity serve --port $(SEVERITY_PORT)

airflow: $(STAMP)  ## start the real Airflow 3 stack on localhost (stop with `make airflow-stop`)
	$(BIN)/eis airflow start

airflow-stop: $(STAMP)  ## stop the local Airflow stack
	$(BIN)/eis airflow stop

db-start: $(STAMP)  ## start the embedded PostgreSQL
	$(BIN)/eis db start

db-stop: $(STAMP)  ## stop the embedded PostgreSQL
	$(BIN)/eis db stop

lint-contract: $(STAMP)  ## fail when generated suites / dbt sources drift from the contract
	$(BIN)/eis contract check

clean:  ## remove the virtual env and everything under var/ (database included)
	-$(BIN)/eis airflow stop 2>/dev/null
	-$(BIN)/eis db stop 2>/dev/null
	rm -rf $(VENV) var
