# One entry point per job; the README, the before-stop hook and .ci/run call these.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench faults fuzz clean

setup:
	@./deploy/bootstrap.sh

demo: setup            ## the main job on the embedded defaults
	$(BIN)/custody demo

test: setup            ## the whole test suite, real components
	$(BIN)/pytest

fuzz: setup           ## schemathesis, every check, admin and station tokens (slow; prints the counts)
	$(BIN)/pytest -m fuzz tests/api/test_fuzz.py -s

lint: setup
	$(BIN)/ruff check foundation integrity policy storage services ingest api custody witness tests bench
	$(BIN)/mypy

bench: setup           ## benchmarks against their named peers (slow); PASS/FAIL per target, one summary table, exit 1 on a miss
	@WANT_BENCH=1 ./deploy/bootstrap.sh
	$(BIN)/python bench/verdict.py run store_put log_append verify upload verify_api agent_pull proxy \
		agent_faults disposition scrub browser_hash witness masking redaction browser_upload

faults: setup         ## kill the docking-station agent at 100 random moments; every count must be 0
	$(BIN)/python bench/agent_faults.py

clean:
	rm -rf var
