PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make demo` keeps its local lake and report.
DATA_DIR ?= .stockpipe

.PHONY: test lint format demo clean

# The stamp is rebuilt when requirements.txt changes, so `make test` on a fresh
# clone creates the venv and later runs reuse it. It also downloads the Lambda's
# pinned wheels once (build/wheels), so building the artifact needs no network.
$(VENV)/.installed: requirements.txt components/lambda_requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m components.artifacts --wheels-only
	touch $@

# The suite runs on every core (pytest-xdist); `pytest path::test` alone runs in one process.
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(VENV)/.installed
	$(BIN)/python -m runtime.local run --source sample --outputsize full --data-dir $(DATA_DIR)

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
