# The two commands of the README: `make demo` runs the main job, `make test` the whole test suite.
# Each creates its own virtual environment (.venv) and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-setup lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/agentinsight demo

# Integration tests start real Prometheus, Alertmanager, VictoriaMetrics and Jaeger on loopback;
# tools/setup-tests.sh installs those programs (and builds Jaeger) the first time.
test: test-setup $(VENV)/.installed
	$(PY) -m pytest

test-setup:
	tools/setup-tests.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check agentinsight tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
