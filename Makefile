# Luister — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help install demo test test-unit services-up services-down services-status bench clean schemas

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (Python 3.11)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install Luister with its test tools

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
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: install ## Only the tests that need no services
	$(PY) -m pytest -m "not e2e"

schemas: install ## Export the JSON Schemas to schemas/json/
	$(VENV)/bin/luister schemas --out schemas/json

clean: ## Remove the virtualenv (keeps the service downloads in .cache/)
	rm -rf $(VENV)
