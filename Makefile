# The two commands of the README: `make demo` runs the main job, `make test` the whole test suite.
# Each creates its own virtual environment (.venv) and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/agentinsight demo

# Integration tests start real Prometheus, Alertmanager, VictoriaMetrics and Jaeger on loopback
# (see .ci/run for how those programs are installed on a fresh machine).
test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check agentinsight tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
