# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
EMULATOR_PORT ?= 8765
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Emulator-only demo credentials (see README); real ones come from the environment or .env.
export AMILI_SE_API_CODE ?= demo-api-code
export AMILI_NO_CLIENT_SECRET ?= demo-secret

.PHONY: install demo test dev check emulator bench clean prod-check

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

$(DAGSTER_HOME)/dagster.yaml: dagster_instance.yaml | $(INSTALLED)
	mkdir -p $(DAGSTER_HOME)
	cp dagster_instance.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster instance concurrency set duckdb_writer 1 > /dev/null

# Start the emulator, run the whole pipeline on the demo data, print a summary, stop the emulator.
demo: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/amili-pipelines demo

# The full test suite (CI runs exactly this through .ci/run). Most tests wait on real runs, servers and
# clocks, so TEST_WORKERS pytest-xdist workers share them; the few that assert wall-clock time
# (marked `serial`) run after them, alone, where a neighbour's load cannot move their clock.
# Fails when either part fails; plain `pytest` still runs everything in one process.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not serial"; parallel=$$?; \
	$(PY) -m pytest -q -m serial; alone=$$?; \
	if [ $$parallel -ne 0 ]; then exit $$parallel; fi; exit $$alone

# The code location loads, and the layer contracts of ARCHITECTURE.md hold.
check: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dg check defs
	$(VENV)/bin/lint-imports

# The emulator plus the Dagster UI on http://127.0.0.1:3000 (`dg dev`), with run history and sensor
# cursors kept in .dagster_home and the emulator's state in data/ across restarts.
dev: install $(DAGSTER_HOME)/dagster.yaml
	mkdir -p data
	$(VENV)/bin/amili-pipelines emulator --port $(EMULATOR_PORT) --state data/emulator_state.json & \
	emu=$$!; trap 'kill $$emu 2>/dev/null' EXIT INT TERM; \
	AMILI_SE_BASE_URL=http://127.0.0.1:$(EMULATOR_PORT) \
	AMILI_NO_BASE_URL=http://127.0.0.1:$(EMULATOR_PORT)/collection/v1 \
	AMILI_NO_AUTH_URL=http://127.0.0.1:$(EMULATOR_PORT)/token \
	$(VENV)/bin/dg dev --port 3000

# The production profile locally: PostgreSQL (installed if missing), code server, daemon and
# webserver as separate processes, 6 daily runs at once, one SIGKILLed; ends with
# "prod-check: runs=N failed=N duplicates=N lost=N" (exit 0 only with 0 duplicates and 0 lost).
prod-check: install
	$(PY) deploy/prod_check.py

emulator: install
	$(VENV)/bin/amili-pipelines emulator --port $(EMULATOR_PORT)

# Benchmarks print tables; the figures go in the README.
bench: install
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf data .dagster_home
