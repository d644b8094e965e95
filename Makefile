# Two commands on a fresh machine: `make demo` and `make test` (each sets everything up first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench setup services clean lint

setup: $(STAMP)

# torch is installed first and pinned, so nothing pulls a multi-gigabyte CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# What the integration tests start themselves, from Debian: a Mosquitto broker, and Chromium
# with its driver for the dashboard's browser test.
services:
	@missing=""; \
	  { command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto; } || missing="$$missing mosquitto"; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	  if [ -n "$$missing" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi

demo: $(STAMP)
	$(BIN)/listener demo

# Style and types first: a lint or type error fails `make test` before the suite runs.
test: $(STAMP) services lint
	$(BIN)/python -m pytest -q

# ruff's rules and mypy's settings (pydantic plugin, the untyped libraries) are set in pyproject.toml.
# mypy keeps an incremental cache in .mypy_cache, so a second run only re-checks what changed.
LINT_PATHS := listener connectors alerts models config tests benchmarks
MYPY_PATHS := listener connectors alerts models config

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy $(MYPY_PATHS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
