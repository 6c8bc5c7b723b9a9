# The two commands: `make eval` and `make test`. Each sets up what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?=
AGENT  ?= $(if $(MODEL),llm,gold)
DATASET ?= builtin
WORKERS ?= 2
ARGS   ?=
PYTEST_ARGS ?=

.PHONY: install docker eval test test-unit clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

docker:
	@scripts/docker-up

## make eval [MODEL=name] [DATASET=builtin|verified|file] [WORKERS=n] [ARGS="--slice 0:5"]
eval: install docker
	$(BIN)/evalharness eval --dataset $(DATASET) --agent $(AGENT) $(if $(MODEL),--model $(MODEL)) --workers $(WORKERS) $(ARGS)

## the whole suite, end-to-end tests against the real Docker engine included
test: install docker
	$(BIN)/pytest -q $(PYTEST_ARGS)

## the tests that need no Docker
test-unit: install
	$(BIN)/pytest -q -m "not docker" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
