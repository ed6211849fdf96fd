# The README's commands. `make demo` and `make test` install what they need first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-python test-replicas lint postgres-binaries browser ui contracts bench mutation clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/sf-mcp demo --out sf-mcp-demo

# Everything CI runs: lint and types, the contracts (build, Foundry tests, artifact check, slither), then pytest.
test: install lint contracts test-python test-replicas

# ruff (lint and import order) over src/ and tests/; mypy, strict, over the packages pyproject.toml names.
lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy

contracts:
	$(MAKE) -C contracts all PYTHON=$(abspath $(PY))

# The MCP Inspector CLI (npm) is an outside client the transport tests drive.
tests/inspector/node_modules/.installed: tests/inspector/package-lock.json
	cd tests/inspector && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The tests start their own throwaway PostgreSQL server: they need its binaries (Debian's postgresql package).
postgres-binaries:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
		  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q postgresql; }

# The OAuth login page and MCP Apps view tests drive Debian's chromium with playwright-core (npm; it never
# downloads a browser), beside the ext-apps AppBridge and the MCP TypeScript client for the test host.
tests/browser/node_modules/.installed: tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

browser: tests/browser/node_modules/.installed
	@test -x /usr/bin/chromium || \
		{ $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -q && \
		  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q chromium; }

# The in-chat views' ext-apps bundle (src/sf_mcp/server/apps/static/ext-apps.js) is committed, so `make demo`
# needs no npm; `make ui` rebuilds it from the npm packages pinned in ui/package-lock.json (a test checks it is fresh).
ui/node_modules/.installed: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ui: ui/node_modules/.installed
	cd ui && node build.mjs

test-python: install tests/inspector/node_modules/.installed postgres-binaries browser ui/node_modules/.installed
	$(PY) -m pytest -m "not replicas" $(PYTEST_ARGS)

# The multi-replica end-to-end tests (slow: three servers, PostgreSQL and anvil; needs `make contracts`).
test-replicas: install postgres-binaries
	$(PY) -m pytest -m replicas $(PYTEST_ARGS)

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Mutation testing (cosmic-ray) of the modules that guard money and identity: slow, outside CI and `make test`.
# Each mutation/<module>.toml names the module, the tests that should kill its mutants, the operators it skips
# ([cosmic-ray.filters.operators-filter]) and its [select] budget. mutation/sample.py skips the mutants that cannot
# matter (inside annotations and log calls), keeps the most telling mutant per site and samples the rest
# reproducibly (MUTATION_SAMPLE=N overrides the budget), then reports killed/total and every survivor.
# cosmic-ray edits the module in place while it runs (and puts it back), so run it on a clean tree you are not
# editing. One module: `make mutation MUTATION=payments`.
MUTATION ?= $(basename $(notdir $(wildcard mutation/*.toml)))
mutation: install
	$(PY) -m pip install -q 'cosmic-ray>=8.7,<9'
	@for m in $(MUTATION); do \
	  echo "== $$m"; rm -f mutation/$$m.sqlite; \
	  PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/cosmic-ray init mutation/$$m.toml mutation/$$m.sqlite || exit 1; \
	  $(VENV)/bin/cr-filter-operators mutation/$$m.sqlite mutation/$$m.toml || exit 1; \
	  $(PY) mutation/sample.py mutation/$$m.toml mutation/$$m.sqlite $(if $(MUTATION_SAMPLE),--sample $(MUTATION_SAMPLE)) || exit 1; \
	  PATH=$(abspath $(VENV))/bin:$$PATH nice -n 19 $(VENV)/bin/cosmic-ray exec mutation/$$m.toml mutation/$$m.sqlite || exit 1; \
	  $(PY) mutation/sample.py --report mutation/$$m.toml mutation/$$m.sqlite; \
	done

clean:
	rm -rf $(VENV) sf-mcp-demo contracts/out contracts/cache
