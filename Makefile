# Two commands on a fresh machine: `make demo` and `make test`.
# The environment comes from the committed uv.lock (`uv sync --frozen`): a fresh clone installs
# exactly what passed when the lock was written. `uv` itself is bootstrapped with pip into the
# project's own .venv, at the version pinned in pyproject's `tools` group.
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
PY := $(VENV)/bin/python
UV := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration compat lock bench clean

$(STAMP): pyproject.toml uv.lock
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && \
		$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	$(UV) sync --frozen --python $(PY)
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(UV) lock --check --offline  # uv.lock still matches pyproject.toml
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit_tests --disable-socket --allow-unix-socket

integration: $(STAMP)
	$(PY) -m pytest tests/integration_tests

test: lint typecheck
	$(PY) -m pytest tests/unit_tests --disable-socket --allow-unix-socket
	$(PY) -m pytest tests/integration_tests

# What users get from `pip install`: the oldest Python with the lowest allowed versions, and the
# newest Python with the newest versions, each in its own environment (not the lock).
compat: $(STAMP)
	UV="$(VENV)/bin/uv" bash .ci/compat

# Update the lock after changing a dependency in pyproject.toml (or to take new releases).
lock: $(STAMP)
	$(UV) lock --upgrade

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-compat-* .mypy_cache .ruff_cache .pytest_cache
