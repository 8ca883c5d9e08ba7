# The two commands for a fresh machine:  make test   and   make demo
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: deps venv test unit lint demo bench lab crds chart manifests clean

deps:            ## install apt packages, the virtualenv, the Go builds (idempotent)
	bash scripts/install-deps.sh

venv:            ## only the virtualenv with the package and its dev tools (pip, nothing else)
	bash scripts/install-deps.sh --venv-only

# The tests that start no service (the unit suite, the scenario and recording suites: all
# CPU) run on every core, a file per worker; those that start real services (Prometheus,
# MariaDB, Redis, nginx, the control plane) run one at a time after them.  Both always run;
# make fails if either does.
CPU_TESTS := tests/unit tests/integration/test_diagnose_scenarios.py \
	tests/integration/test_golden_outputs.py tests/lab/test_lab_recordings.py \
	$(sort $(wildcard tests/integration/test_holdout*_scenarios.py \
	                  tests/integration/test_holdout*_lab_recordings.py))

test: deps lint  ## everything: lint, types, layering, unit, integration and e2e tests
	@rc=0; \
	$(PY) -m pytest -n auto --dist loadfile $(PYTEST_ARGS) $(CPU_TESTS) || rc=$$?; \
	$(PY) -m pytest $(PYTEST_ARGS) $(addprefix --ignore=,$(CPU_TESTS)) || rc=$$?; \
	exit $$rc

unit: venv       ## fast tests only (no real services; needs only pip)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check operator tests examples bench scripts
	$(VENV)/bin/ruff format --check operator tests examples bench scripts
	$(PY) scripts/check_sizes.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: venv       ## diagnose the reference incident offline: Markdown on stdout, HTML report in out/
	$(PY) examples/incidents/generate.py reference --out out/bundles
	$(PY) -m diagnosis_operator diagnose --bundle out/bundles/reference --format json --out out/reference.json
	$(PY) -m diagnosis_operator report --input out/reference.json --format markdown
	$(PY) -m diagnosis_operator report --input out/reference.json --format html --out out/reference.html
	@echo "HTML report: $(CURDIR)/out/reference.html"

bench: deps      ## benchmarks (not tests): see bench/README.md
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) bench/run.py

lab: deps        ## the lab's long scenarios: record every fault into a bundle; the live heal (docs/lab.md)
	$(PY) -m pytest -m lab tests/lab $(PYTEST_ARGS)
	$(PY) -m pytest -m e2e tests/e2e/test_live_heal.py $(PYTEST_ARGS)

crds:            ## regenerate crds/ and the chart's crds/ from operator/.../the api package
	$(PY) -m diagnosis_operator.entrypoints.cli.crdgen

manifests: crds  ## regenerate manifests/install.yaml from the chart (needs the cached helm)
	bash manifests/render.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
