# CareCentre: `make run` serves on the embedded database; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-stamp
DEV := $(VENV)/.dev-stamp
# uv installs in seconds what pip takes a minute for; pip stays the fallback.
install = if [ -x $(BIN)/uv ]; then UV_NATIVE_TLS=1 $(BIN)/uv pip install --quiet \
	--python $(BIN)/python $(1); else $(BIN)/python -m pip install --quiet \
	--disable-pip-version-check $(1); fi

.PHONY: run test lint typecheck layers pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	-$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# `make run` needs only what the service needs; `make test` adds the tools.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(call install,-e .)
	@touch $@

$(DEV): pyproject.toml $(RUNTIME)
	$(call install,-e '.[dev]')
	@touch $@

run: $(RUNTIME)
	$(BIN)/carecentre serve --demo

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV)
	$(BIN)/mypy

layers: $(DEV)
	$(BIN)/lint-imports

# Two workers by default: most tests wait on servers, sockets and disks, not the CPU; a test file
# stays on one worker (its module fixtures start once). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
pytest: $(DEV)
	$(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint typecheck layers pytest

bench: $(DEV)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
