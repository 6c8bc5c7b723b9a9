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
BENCH_ARGS ?=

.PHONY: install docker chromium eval test test-unit bench report nightly cluster-up cluster-down clean

## one install at a time into one venv (flock: a second `make` waits, then finds it done); pip's whole
## output goes to $(VENV)/pip.log, and all of it but the site's pip-config noise (a missing
## extra-index folder, said once per package) is shown, errors included
$(VENV)/.installed: pyproject.toml
	@mkdir -p $(VENV)
	@exec 9>$(VENV)/.install.lock; flock 9; \
	if [ -f $@ ] && [ $@ -nt pyproject.toml ]; then exit 0; fi; \
	export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_WARN_SCRIPT_LOCATION=1 PIP_NO_INPUT=1 \
		PYTHONWARNINGS='ignore:Editable installation'; \
	noise="^WARNING: Location '.*' is ignored|^WARNING: The directory .* is not owned|^\[notice\]"; \
	pip() { echo "$(BIN)/pip $$*" >>$(VENV)/pip.log; \
		if $(BIN)/pip "$$@" >$(VENV)/pip.out 2>&1; then status=0; else status=$$?; fi; \
		cat $(VENV)/pip.out >>$(VENV)/pip.log; grep -Ev "$$noise" $(VENV)/pip.out >&2 || true; \
		if [ $$status -ne 0 ]; then echo "make install: pip failed (exit $$status); log: $(VENV)/pip.log" >&2; \
			exit $$status; fi; }; \
	: >$(VENV)/pip.log; \
	$(PYTHON) -m venv $(VENV) && \
	pip install -q --upgrade pip && \
	pip install -q -e '.[test]' && \
	rm -f $(VENV)/pip.out && touch $@

install: $(VENV)/.installed

docker:
	@scripts/docker-up

chromium:
	@scripts/chromium-up

## make eval [MODEL=name] [AGENT=llm|qwen-code|mini-swe-agent|claude-code|gold|empty]
##           [DATASET=builtin|verified|file] [WORKERS=n] [ARGS="--slice 0:5"]
eval: install
	@$(if $(MODEL),$(BIN)/evalharness models --check $(MODEL),true)
	@scripts/docker-up
	$(BIN)/evalharness eval --dataset $(DATASET) --agent $(AGENT) $(if $(MODEL),--model $(MODEL)) --workers $(WORKERS) $(ARGS)

## the whole suite, end-to-end tests against the real Docker engine (and the browser test) included
test: install docker chromium
	$(BIN)/pytest -q $(PYTEST_ARGS)

## the tests that need no Docker
test-unit: install
	$(BIN)/pytest -q -m "not docker" $(PYTEST_ARGS)

## speed figures (printed as markdown tables): shell session vs docker exec; the model gateway's
## overhead per request vs calling the model directly; agent throughput at
## 1-256 sessions, 0.5 s and 2 s per model call (256 containers, ~16 min; BENCH_ARGS="--concurrency 1,8");
## RL: reset warm vs cold, step in process vs through serve-envs, rollouts per minute at 64;
## a local cluster of 1, 2 and 3 nodes, and image distribution through its registry
bench: install docker
	$(BIN)/python -m benchmarks.bench_shell
	$(BIN)/python -m benchmarks.bench_gateway
	$(BIN)/python -m benchmarks.bench_agent $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.bench_rl
	$(BIN)/python -m benchmarks.bench_cluster

## a local multi-node Ray cluster: worker nodes as privileged containers, each with its own
## dockerd, and a registry (docs/SCALING.md); NODES=2
NODES ?= 2
cluster-up: install docker
	scripts/cluster-up --nodes $(NODES)

cluster-down:
	scripts/cluster-down

## the leaderboard site over every run in reports/ (open reports/site/index.html)
report: install
	$(BIN)/evalharness report reports --out reports/site $(ARGS)

## make nightly [MODEL=name]: the subset in tasks/nightly.txt, compared with the stored baseline
## (docs/NIGHTLY.md); exits non-zero on a regression
nightly: install docker
	MODEL='$(MODEL)' AGENT='$(AGENT)' DATASET='$(DATASET)' WORKERS='$(WORKERS)' EVAL_ARGS='$(ARGS)' scripts/nightly

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
