# Two entry points: `make run` and `make test`. Everything else they need, they install.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test reliability lint install clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Run OptiHub on the embedded SQLite database with demo data.
run: $(STAMP)
	$(BIN)/optihub serve --demo

## Run the whole test suite: SQLite, then PostgreSQL too when a server can be started.
test: $(STAMP)
	$(BIN)/python scripts/run_tests.py

## The reliability suite (docs/reliability.md): two nodes over PostgreSQL and Redis, five
## faults, a 10-minute soak. E.g. make reliability RELIABILITY_ARGS="--minutes 3".
reliability: $(STAMP)
	$(BIN)/python scripts/reliability.py $(RELIABILITY_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache
