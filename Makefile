# callbridge: `make demo` runs the system with its demo data, `make test` runs every test tier.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LOCK := requirements.lock
LOCK_TOOL ?= /tmp/callbridge-lock-tool
LOCK_ARGS ?=

# The Node clients of the interop tests: MSAL for Node and openid-client (node), Microsoft's communication identity
# client (node-acs), Microsoft's calling SDK for browsers (its declarations) and the TypeScript compiler (node-types).
NODE_DIRS := tests/interop/node tests/interop/node-acs tests/interop/node-types

.PHONY: install test-deps system-deps demo test lint bench clean lock

system-deps:
	@bash scripts/system-deps.sh

# Every dependency (runtime, test extras, the build backend) at the version and hashes of the lock; then the
# project itself, built with the locked setuptools.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# A Node client folder's packages, exactly as its lock file pins them (no install scripts run).
%/node_modules/.installed: %/package.json %/package-lock.json
	cd $* && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# Refresh the lock after a change of pyproject.toml's dependencies: pins already in it stay unless LOCK_ARGS says
# otherwise (LOCK_ARGS=--upgrade, or --upgrade-package NAME). pip-tools runs from a venv of its own, not the project's.
lock:
	@test -x $(LOCK_TOOL)/bin/pip-compile || { python3 -m venv $(LOCK_TOOL) && $(LOCK_TOOL)/bin/pip install -q pip-tools; }
	$(LOCK_TOOL)/bin/pip-compile -q --generate-hashes --extra test --build-deps-for editable --strip-extras \
		--allow-unsafe --no-emit-index-url --no-emit-trusted-host --no-emit-find-links --no-header $(LOCK_ARGS) \
		-o $(LOCK) pyproject.toml

install: system-deps $(VENV)/.installed

test-deps: install $(NODE_DIRS:%=%/node_modules/.installed)

demo: install
	$(VENV)/bin/callbridge demo

test: test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "bench: install Debian's wrk"; exit 1; }
	@command -v kamailio >/dev/null || { [ "$$(id -u)" -eq 0 ] && \
		apt-get install -y -qq --no-install-recommends kamailio >/dev/null; } || \
		{ echo "bench: install Debian's kamailio (the SIP benchmark's reference)"; exit 1; }
	$(PY) -m bench.token_exchange
	$(PY) -m bench.graph_queries
	$(PY) -m bench.call_setup
	$(PY) -m bench.sip_calls
	$(PY) -m bench.meetings
	$(PY) -m bench.portal

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(NODE_DIRS:%=%/node_modules)
