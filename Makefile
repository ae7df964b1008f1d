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

# uv installs the locked versions: every download at once, no byte-compiling of modules the
# demo never imports (Python compiles what it imports on first use). pip took 60-90 s for the
# same set, most of it one package index look-up after another (docs/portal.md, "How long make
# demo takes").
# uv itself comes from PyPI through the venv's own pip; when it cannot be had, pip installs.
UV_VERSION := 0.13.9
UV_INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python -c $(CONSTRAINTS)
PIP_INSTALL = $(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off -c $(CONSTRAINTS)

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) || echo "uv not installed: pip installs instead (slower)"

$(DEMO_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/uv
	@echo "installing c2c-link and what the demo needs into $(VENV)"
	$(UV_INSTALL) -e . || $(PIP_INSTALL) -e .
	touch $(DEMO_STAMP)

$(TEST_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/uv
	@echo "installing c2c-link with the dev and spark extras into $(VENV)"
	$(UV_INSTALL) -e '.[dev,spark]' || $(PIP_INSTALL) -e '.[dev,spark]'  # spark: CI runs the cross-backend link test
	touch $(DEMO_STAMP) $(TEST_STAMP)

venv: $(TEST_STAMP)

# DEMO_ARGS: options for `c2c demo` (e.g. DEMO_ARGS="--port 8001").
demo: $(DEMO_STAMP)
	$(BIN)/c2c demo $(DEMO_ARGS)

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
