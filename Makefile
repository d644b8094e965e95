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

test: $(STAMP) services
	$(BIN)/python -m pytest -q

# Style and types, on the parts that pass today (issue 17 grows these lists to the whole tree; then
# `make test` runs them too). ruff's rules and mypy's pydantic plugin are set in pyproject.toml.
KERNEL     := listener/__init__.py listener/domain.py listener/errors.py listener/clock.py listener/redact.py \
              listener/text.py listener/timefmt.py listener/dedupe.py listener/backoff.py listener/http.py config/types.py
LINT_PATHS := $(KERNEL) listener/cli models/pool tests/test_layers.py tests/test_timefmt.py benchmarks/cli_start.py
MYPY_PATHS := $(KERNEL) listener/cli models/pool

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy --follow-imports=silent $(MYPY_PATHS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
