# One entry point per job; the README, the before-stop hook and .ci/run call these.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup:
	@./deploy/bootstrap.sh

demo: setup            ## the main job on the embedded defaults
	$(BIN)/custody demo

test: setup            ## the whole test suite, real components
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check foundation integrity policy storage services ingest api custody witness tests bench
	$(BIN)/mypy

bench: setup           ## benchmarks against their named peers (slow); PASS/FAIL per target, one summary table, exit 1 on a miss
	@WANT_BENCH=1 ./deploy/bootstrap.sh
	$(BIN)/python bench/verdict.py run store_put log_append verify upload verify_api agent_pull proxy \
		disposition browser_hash witness

clean:
	rm -rf var
