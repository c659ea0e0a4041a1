# callbridge: `make demo` runs the system with its demo data, `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install system-deps demo test lint bench clean

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

install: system-deps $(VENV)/.installed

demo: install
	$(VENV)/bin/callbridge demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/token_exchange.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
