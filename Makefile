# shadowit: `make demo` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= demo-output
BENCH ?= small,medium

.PHONY: demo test test-long lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,logs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shadowit demo --out $(OUT)

test: $(STAMP)
	$(BIN)/ruff format --check scanner connectors reports tests bench tools
	$(BIN)/ruff check scanner connectors reports tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q --cov=scanner --cov=connectors --cov=reports --cov-report=term:skip-covered

test-long: $(STAMP)
	SHADOWIT_LONG=1 $(BIN)/python -m pytest -q -m "slow or not slow"

lint: $(STAMP)
	$(BIN)/ruff format scanner connectors reports tests bench tools
	$(BIN)/ruff check --fix scanner connectors reports tests bench tools

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,logs,bench]'
	$(BIN)/python -m bench.run --sizes $(BENCH)
	$(BIN)/python -m bench.log_engines

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
