# Intake: `make run` to try it, `make test` to check everything. `make` alone lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_SYSTEM ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
VAR := var
DEMO := $(VAR)/demo
HOST ?= 127.0.0.1
PORT ?= 8000
# The development server's own settings; production sets these in deploy/.
export INTAKE_DATABASE_URL ?= sqlite:///$(CURDIR)/$(VAR)/intake.db
export INTAKE_BLOB_DIR ?= $(CURDIR)/$(VAR)/blobs
export INTAKE_ENVIRONMENT ?= development

.PHONY: help messages deploy-tools run test lint audit migrations-check bench resilience vendor deps test-deps chromium lock wheelhouse clean

help: ## List the targets
	@echo "Intake -- end-to-end encrypted intake. Targets:"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.deps: pyproject.toml requirements/lock.txt
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PIP) install -q --upgrade pip==25.3
	$(PIP) install -q -c requirements/lock.txt -e '.[server]'
	touch $@

$(VENV)/.test-deps: $(VENV)/.deps
	$(PIP) install -q -c requirements/lock.txt -e '.[server,test]'
	touch $@

deps: $(VENV)/.deps ## Create .venv with the server and the offline tools

test-deps: $(VENV)/.test-deps chromium vendor deploy-tools ## Install everything the tests need (Python, Chromium, vendored JS, caddy/tor/systemd)

deploy-tools: ## Install caddy, tor, systemd-analyze and strace for the tests (Debian packages)
	@sh deploy/install-test-tools.sh

chromium: ## Install Debian's Chromium if it is missing (tests drive it through Playwright)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi
	@/usr/bin/chromium --version 2>/dev/null | head -1

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install -y nodejs npm"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

vendor: node_modules/.installed $(VENV)/.deps ## Copy libsodium.js (pinned in package-lock.json) into app/static/vendor
	$(PY) scripts/vendor_assets.py

run: deps vendor ## Migrate, create the demo organisation once, serve on http://127.0.0.1:8000
	@mkdir -p $(VAR)
	$(VENV)/bin/intake migrate
	@# Demo manifests are valid 30 days like any other: an older demo folder gets a renewal.
	@if [ ! -d $(DEMO) ]; then $(VENV)/bin/intake-admin demo --out $(DEMO) --server http://$(HOST):$(PORT); \
	  else $(VENV)/bin/intake-admin demo --out $(DEMO) --renew; fi
	@export INTAKE_TRUST_ROOT="$$(cat $(DEMO)/trust-root.json)"; \
	  held="$$($(VENV)/bin/intake manifests list)"; \
	  for v in $$(ls $(DEMO) | sed -n 's/^manifest-\([0-9]*\)\.json$$/\1/p' | sort -n); do \
	    if ! grep -q "^version $$v " <<<"$$held"; then $(VENV)/bin/intake manifests import $(DEMO)/manifest-$$v.json; fi; \
	  done
	@echo; cat $(DEMO)/README.txt; echo
	@echo "The commands above are in .venv/bin: first run  source .venv/bin/activate"
	@echo "Open http://$(HOST):$(PORT)/ in a browser (Ctrl-C stops the server)."
	INTAKE_TRUST_ROOT="$$(cat $(DEMO)/trust-root.json)" $(VENV)/bin/intake serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.test-deps ## ruff, mypy, bandit, import contracts (pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy crypto app
	$(VENV)/bin/bandit -q -c pyproject.toml -r app crypto
	$(VENV)/bin/lint-imports --no-cache

audit: $(VENV)/.test-deps ## pip-audit of every pinned dependency
	$(PY) scripts/audit.py

migrations-check: $(VENV)/.test-deps ## alembic check: models and migrations agree
	@rm -f $(VAR)/alembic-check.db; mkdir -p $(VAR)
	INTAKE_DATABASE_URL=sqlite:///$(CURDIR)/$(VAR)/alembic-check.db $(VENV)/bin/alembic upgrade head
	INTAKE_DATABASE_URL=sqlite:///$(CURDIR)/$(VAR)/alembic-check.db $(VENV)/bin/alembic check
	@rm -f $(VAR)/alembic-check.db

# pytest-xdist workers: the suite waits on browsers, servers and the network
# emulation as much as on the CPU, so two halve it on a 2-core machine (about
# 15 minutes instead of 22). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: test-deps lint audit migrations-check ## Every check and every test, SQLite and PostgreSQL (when it answers)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: test-deps ## Benchmarks; writes docs/PERFORMANCE.md
	$(PY) -m bench

resilience: test-deps ## Full resilience suite: 200 killed uploads, disk full, 200 clients for 60 s
	INTAKE_RESILIENCE_FULL=1 $(PY) -m pytest tests/resilience

lock: ## Re-pin every dependency after editing pyproject.toml
	rm -rf $(VAR)/lockenv && $(PYTHON_SYSTEM) -m venv $(VAR)/lockenv
	$(VAR)/lockenv/bin/pip install -q '.[server,test]'
	{ echo '# Exact versions of every package, direct and transitive: pip installs with -c this file.'; \
	  echo '# Regenerate with `make lock` after changing pyproject.toml.'; \
	  $(VAR)/lockenv/bin/pip freeze --exclude-editable | grep -v '^intake' | sort; } > requirements/lock.txt

# The laptop's Python (x86-64 Linux); override for another, e.g.
# make wheelhouse WHEEL_PYTHON=3.12 WHEEL_PLATFORM=manylinux2014_aarch64
WHEEL_PYTHON ?= 3.11
WHEEL_PLATFORM ?= manylinux2014_x86_64

wheelhouse: $(VENV)/.deps ## Wheels and an install script for the air-gapped laptop (pip --no-index)
	rm -rf wheelhouse && mkdir -p wheelhouse
	$(PIP) wheel -q -w wheelhouse --no-deps .
	$(PIP) download -q -d wheelhouse --only-binary=:all: -c requirements/lock.txt \
	  --platform $(WHEEL_PLATFORM) --python-version $(WHEEL_PYTHON) --implementation cp \
	  wheelhouse/intake-*.whl
	cp scripts/install-offline.sh wheelhouse/install.sh
	cd wheelhouse && sha256sum *.whl install.sh > SHA256SUMS
	tar czf wheelhouse.tar.gz wheelhouse
	@echo "wheelhouse.tar.gz: copy it to the laptop, untar, run: sh wheelhouse/install.sh"

clean: ## Remove the environment and local data (var/, .venv, node_modules)
	rm -rf $(VENV) node_modules $(VAR) app/static/vendor

messages: $(VENV)/.deps ## Extract page strings and merge them into every language's catalog
	$(VENV)/bin/pybabel extract -F babel.cfg -k mark -o app/locale/messages.pot --no-location --omit-header .
	$(VENV)/bin/pybabel update -i app/locale/messages.pot -d app/locale -D messages --no-fuzzy-matching
