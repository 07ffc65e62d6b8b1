# Two commands to start: `make run` (build and serve on http://127.0.0.1:8000/) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The front-end packages (npm, pinned with integrity hashes in the lock file; git-ignored).
FRONTEND       := server/iomkg/web/frontend
FRONTEND_STAMP := $(FRONTEND)/node_modules/.installed

.PHONY: run build test lint typecheck check bench bench-serve bench-build clean generate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Without npm the pages still work as plain HTML forms (and say what is missing).
$(FRONTEND_STAMP): $(FRONTEND)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "npm not found: the front end (editor, charts, maps) is not installed; pages stay plain HTML"; \
	fi

# Another port: make run PORT=8001 (IOMKG_PORT is honoured too).
PORT ?= $(or $(IOMKG_PORT),8000)
run: $(STAMP) $(FRONTEND_STAMP)
	$(BIN)/iomkg build
	$(BIN)/iomkg serve --host 127.0.0.1 --port $(PORT)

build: $(STAMP)
	$(BIN)/iomkg build

test: $(STAMP) $(FRONTEND_STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

generate: $(STAMP)
	$(BIN)/iomkg generate

# Both benchmarks; sizes by flags, e.g. make bench-build BENCH_BUILD_ARGS='--sizes 100k,1m,3m'
bench: bench-serve bench-build

bench-serve: $(STAMP)
	$(BIN)/python server/bench/run.py

bench-build: $(STAMP)
	$(BIN)/python server/bench/build.py $(BENCH_BUILD_ARGS)
	$(BIN)/python server/bench/iati_import.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
