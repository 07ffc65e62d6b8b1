# Two commands to start: `make run` (build and serve on http://127.0.0.1:8000/) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run build test lint typecheck check bench clean generate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/iomkg build
	$(BIN)/iomkg serve --host 127.0.0.1 --port 8000

build: $(STAMP)
	$(BIN)/iomkg build

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

generate: $(STAMP)
	$(BIN)/iomkg generate

bench: $(STAMP)
	$(BIN)/python server/bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
