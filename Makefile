# Two commands do everything: `make demo` and `make test`. Both create the venv themselves.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck venv clean bench lock wheel-check

# constraints.txt locks every version make installs (see `make lock`); pyproject.toml keeps the
# ranges for people who install the package themselves.
CONSTRAINTS := constraints.txt

# Two stamps: the demo needs only the package (no dev tools, no Spark: a smaller, faster install);
# make test adds the dev and spark extras to the same venv.
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "installing c2c-link and what the demo needs into $(VENV) (about a minute on a fresh machine)"
	$(BIN)/python -m pip install --quiet --progress-bar off -c $(CONSTRAINTS) -e .
	touch $(DEMO_STAMP)

$(TEST_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "installing c2c-link with the dev and spark extras into $(VENV)"
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev,spark]'  # spark: CI runs the cross-backend link test
	touch $(DEMO_STAMP) $(TEST_STAMP)

venv: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/c2c demo

# Whole test files per worker, longest first (the order is set in tests/conftest.py).
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy .

bench: $(DEMO_STAMP)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[bench]'
	@echo "see bench/README.md for each script"

clean:
	rm -rf $(VENV) .c2c .pytest_cache .mypy_cache .ruff_cache

# Deliberate update of the locked versions: resolve the newest versions pyproject.toml allows (all
# extras) in a throw-away venv and write them to constraints.txt. Review the diff, run make test, commit.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[dev,bench,spark]'
	{ echo "# Locked versions for make demo / make test / CI. Update with: make lock"; \
	  .lock-venv/bin/python -m pip freeze --exclude c2c-link; } > $(CONSTRAINTS)
	rm -rf .lock-venv build

# The package as users install it (what CI runs before make test).
wheel-check:
	bash .ci/wheel_check.sh
