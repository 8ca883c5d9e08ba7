# The two commands for a fresh machine:  make test   and   make demo
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: deps test unit lint demo bench crds chart manifests clean

deps:            ## install apt packages, the virtualenv, the Go builds (idempotent)
	bash scripts/install-deps.sh

test: deps lint  ## everything: lint, types, layering, unit, integration and e2e tests
	$(PY) -m pytest $(PYTEST_ARGS)

unit: deps       ## fast tests only (no real services)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check operator tests examples bench scripts
	$(VENV)/bin/ruff format --check operator tests examples bench scripts
	$(PY) scripts/check_sizes.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: deps       ## diagnose the reference incident offline and print the report
	$(PY) examples/incidents/generate.py reference --out out/bundles && $(PY) -m diagnosis_operator diagnose --bundle out/bundles/reference --format markdown

bench: deps      ## benchmarks (not tests): see bench/README.md
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) bench/run.py

crds:            ## regenerate crds/ and the chart's crds/ from operator/.../models/crd.py
	$(PY) -m diagnosis_operator.api.crdgen

manifests: crds  ## regenerate manifests/install.yaml from the chart (needs the cached helm)
	bash manifests/render.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
