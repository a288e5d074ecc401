# The two commands the README opens with: `make run` and `make test`. Both set themselves up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint audit lock format unit integration browser bench clean deploy destroy invite keyset

# Exactly uv.lock: every dependency pinned, each file's hash checked (deploy/lock.py). pip
# installs only uv, itself pinned with its hashes; uv removes what the lock no longer has.
$(STAMP): pyproject.toml uv.lock deploy/uv-requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r deploy/uv-requirements.txt
	$(BIN)/uv sync --quiet --frozen --extra dev --python $(BIN)/python
	@touch $(STAMP)

install: $(STAMP)

## Start the whole backend locally (moto, gateway, eBay simulator) with demo data.
run: install
	$(BIN)/sniper up --port $(PORT)

## Every test and every linter, as CI runs them.
test: install lint
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: install audit
	$(BIN)/uv lock --check
	$(BIN)/python deploy/lock.py --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

## Known vulnerabilities in any locked dependency (says so when it cannot look them up).
audit: install
	$(BIN)/python deploy/audit.py

## After changing pyproject.toml's dependencies: re-lock, and rewrite the layer's requirements.
lock: install
	$(BIN)/python deploy/lock.py

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: install
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: install
	$(BIN)/pytest -n 2 --dist loadfile tests/integration $(PYTEST_ARGS)

## The dashboard in Debian's Chromium (`apt-get install chromium`); they skip without it.
browser: install
	$(BIN)/pytest -m browser tests/browser $(PYTEST_ARGS)

## Benchmarks print figures; they never fail on a timing.
bench: install
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/package.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/moto_cost.py
	$(BIN)/python bench/snipe_timing.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/price_freshness.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/fuzz_api.py
	$(BIN)/python bench/chaos.py

## Your own stack (AWS credentials needed; docs/deployment.md). The first `make deploy` asks
## (sam deploy --guided: region, stack, Stage, Profile, AlarmEmail; then the eBay keyset), saves
## the answers in samconfig.toml, uploads the dashboard and prints its URL. CONFIG_ENV=prod for
## samconfig.toml's production environment; GUIDED=1 to answer again.
CONFIG_ENV ?= default
deploy: install
	$(BIN)/python deploy/stack.py deploy --config-env $(CONFIG_ENV) $(if $(GUIDED),--guided)

## Deletes the stack (its dashboard bucket emptied first) and its SSM parameters; keeps the tables.
destroy: install
	$(BIN)/python deploy/stack.py destroy --config-env $(CONFIG_ENV)

## Invite a user to an invite-only stack: make invite EMAIL=you@example.com
invite: install
	$(BIN)/python deploy/stack.py invite $(EMAIL) --config-env $(CONFIG_ENV)

## Set the eBay keyset and the Postmark token again.
keyset: install
	$(BIN)/python deploy/stack.py keyset --config-env $(CONFIG_ENV)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .aws-sam
