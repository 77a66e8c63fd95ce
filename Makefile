PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make demo` keeps its local lake and report.
DATA_DIR ?= .stockpipe

.PHONY: test lint format demo clean lock lock-upgrade docs docs-serve diagrams

# pip installs exactly the lock: every line pinned and hashed (--require-hashes), wheels only
# (--only-binary), so nothing is built from source.
PIP_INSTALL = $(BIN)/python -m pip install --quiet --disable-pip-version-check \
	--require-hashes --only-binary=:all:

# The venv is made anew whenever the lock changes, so it never keeps a package the lock
# dropped; `make test` on a fresh clone creates it and later runs reuse it. It also downloads
# the Lambda's pinned wheels once (build/wheels), so building the artifact needs no network.
$(VENV)/.installed: requirements.txt components/lambda_requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	$(BIN)/python -m components.artifacts --wheels-only
	touch $@

# The locks, compiled by uv for every supported Python and platform: requirements.txt from
# requirements.in, then the policy pack's from its own input with the project's lock as
# constraints. `make lock` keeps every pin it can; `make lock-upgrade PACKAGE="a b"` moves
# the named packages to their newest releases the inputs allow.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --generate-hashes --no-strip-extras \
	--python-version=3.11
lock lock-upgrade: $(VENV)/.installed
	$(UV_COMPILE) requirements.in $(UPGRADE) --output-file=requirements.txt
	$(UV_COMPILE) policy/requirements.in --constraints=requirements.txt \
		--output-file=policy/requirements.txt
lock-upgrade: UPGRADE = $(foreach p,$(PACKAGE),--upgrade-package=$(p))
ifneq ($(filter lock-upgrade,$(MAKECMDGOALS)),)
ifeq ($(strip $(PACKAGE)),)
$(error usage: make lock-upgrade PACKAGE="name [name ...]")
endif
endif

# The suite runs on every core (pytest-xdist); `pytest path::test` alone runs in one process.
# The documentation is built strictly first (a test checks the generated pages are current).
test: $(VENV)/.installed
	$(BIN)/python -m tools.lock_check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MKDOCS) build --strict
	$(BIN)/pytest -n auto

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(VENV)/.installed
	$(BIN)/python -m runtime.local run --source sample --outputsize full --data-dir $(DATA_DIR)

# docs/report.png anew: the demo's report in headless Chromium (STOCKPIPE_CHROMIUM, default
# /usr/bin/chromium: Debian's `chromium` package).
.PHONY: screenshot
screenshot: $(VENV)/.installed
	$(BIN)/python -m tools.screenshot

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The offline plan: the program under Pulumi mocks with Pulumi.$(STACK).yaml, printed as a
# resource tree (secrets masked); `plan-update` rewrites the snapshots a test compares with.
STACK ?= dev
.PHONY: plan plan-update
plan: $(VENV)/.installed
	$(BIN)/python -m components.plan $(STACK)

plan-update: $(VENV)/.installed
	$(BIN)/python -m components.plan --update

# The documentation site (mkdocs.yml, docs/): the generated pages rewritten from the code
# (tools/docs_pages.py), then a strict build into build/site: a broken link or anchor, a page
# missing from the nav or a nav entry without its page fails it. Never add --quiet: it drops
# the warnings strict mode counts, and a broken site builds. NO_MKDOCS_2_WARNING silences the
# end-of-life notice Material prints on every build (docs/development.md: why Material).
MKDOCS = NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
docs: $(VENV)/.installed
	$(BIN)/python -m tools.docs_pages
	$(MKDOCS) build --strict

docs-serve: docs
	$(MKDOCS) serve --strict

# The diagrams are committed as SVG so the site needs no renderer; this re-renders them
# (Graphviz: apt-get install graphviz, brew install graphviz).
diagrams:
	dot -Tsvg docs/diagrams/flow.dot -o docs/diagrams/flow.svg

# Before a stack's first `pulumi up`, with the AWS credentials it will use: read-only checks
# of the account (docs/preflight-and-smoke.md). After `pulumi up`: the deployed chain, step
# by step, touching no production data. Both take more arguments in ARGS, e.g.
#   make smoke STACK=dev ARGS="--outputs outputs.json"      make preflight ARGS=--help
.PHONY: preflight smoke
preflight: $(VENV)/.installed
	$(BIN)/python -m components.preflight $(STACK) $(ARGS)

smoke: $(VENV)/.installed
	$(BIN)/python -m components.smoke $(STACK) $(ARGS)

# What a stack costs a month (docs/cost.md): the same mocked program priced from
# components/cost/prices.toml; USAGE=path reads a usage file over components/cost/usage.yml,
# FORMAT=json prints JSON for CI.
.PHONY: cost
cost: $(VENV)/.installed
	$(BIN)/python -m components.cost $(STACK) $(if $(USAGE),--usage $(USAGE)) \
		$(if $(FORMAT),--format $(FORMAT))

# The component package's schema (package/), as the SDK's analyzer infers it from the
# components; `schema-update` rewrites the snapshot a test compares with.
.PHONY: schema schema-update
schema: $(VENV)/.installed
	$(BIN)/python -m components.package

schema-update: $(VENV)/.installed
	$(BIN)/python -m components.package --update
