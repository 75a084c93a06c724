# The two commands a user needs: `make report` (the whole job) and `make test`.
# Both create .venv/ on first use and install the project into it with its dev and ray extras;
# later runs reuse it and only reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.facegen-installed

.PHONY: install report data test test-fast lint benchmark clean-cache

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	@# Notebooks reach git without outputs: nbstripout as this clone's filter (.gitattributes names
	@# it). Skipped outside a git checkout of this folder, e.g. in an unpacked sdist.
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ]; then \
		$(BIN)/nbstripout --install --attributes .gitattributes; fi
	@touch $@

## The main job: the notebooks, run by papermill into reports/<run-id>/ (ARGS adds options,
## e.g. make report ARGS="--profile smoke").
report: $(STAMP)
	$(BIN)/facegen report $(ARGS)

data: $(STAMP)
	$(BIN)/facegen data

test: $(STAMP)
	$(BIN)/ruff check facegen tests benchmarks .ci
	$(BIN)/python -m pytest

## The inner loop: ruff, then every test not marked slow (no notebook, report pipeline or
## training run in a new process). `make test` stays the full suite, the one CI runs.
test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check facegen tests benchmarks .ci

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py

clean-cache:
	rm -rf data/processed/*
