# segkit: two commands set up everything on a fresh machine with only python3.
#   make report   create .venv, generate the demo shop, run the four notebooks, write reports/demo/
#                 (make report SCREENSHOTS=1 also writes reports/demo/screenshots/ at 390 and 1366 px)
#   make test     create .venv, run the whole test suite
# The environment is (re)installed when .venv is missing or pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.segkit-installed
RUN    ?= demo
PYTEST_ARGS ?=

.PHONY: help env report test lab lint format bench clean

help:
	@echo "make report  - environment + demo data + four notebooks -> reports/$(RUN)/index.html"
	@echo "make test    - environment + the whole test suite"
	@echo "make lab     - JupyterLab on notebooks/"
	@echo "make lint    - ruff check and format check"
	@echo "make bench   - run the benchmark scripts (prints figures)"
	@echo "make clean   - remove .venv, caches, generated data and reports"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)
	@command -v java >/dev/null 2>&1 || test -x "$$JAVA_HOME/bin/java" || echo "note: no Java found: the spark engine and its tests are skipped (install Java 17+, e.g. apt-get install openjdk-17-jre-headless)"

env: $(STAMP)

report: $(STAMP)
	$(BIN)/segkit run --name $(RUN) $(if $(SCREENSHOTS),--screenshots)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check segkit tests benchmarks
	$(BIN)/ruff format --check segkit tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format segkit tests benchmarks
	$(BIN)/ruff check --fix segkit tests benchmarks

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find data/raw data/processed reports -mindepth 1 ! -name README.md -exec rm -rf {} + 2>/dev/null || true
