# Developer and CI entry points. `make test` on a fresh machine of this kind installs
# everything it needs (venv, Python packages, the built labextension, chromium).

SHELL := /bin/bash
.DEFAULT_GOAL := install

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv from PATH, else the one that the venv got (uv is also a [project] dependency).
UV = $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
# jlpm, jupyter-builder and node_modules/.bin on PATH for the frontend build.
JLPM := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/jlpm
CHROMIUM := /usr/bin/chromium

LABEXT := jupyter_handover/labextension/package.json
# js/components/ and the other folders under js/ too; the jest tests are not built.
FRONTEND_SRC := package.json yarn.lock .yarnrc.yml tsconfig.json \
	$(filter-out js/__tests__/%,$(wildcard js/*.ts js/*.tsx js/*/*.ts js/*/*.tsx style/* schema/*.json))

.PHONY: install chromium java lint test demo clean

install: $(STAMP) chromium java

# The venv itself; uv ends up inside it either way.
$(PY):
	@if command -v uv >/dev/null 2>&1; then \
		uv venv --seed -p python3.11 $(VENV) || uv venv --seed -p python3 $(VENV); \
	else \
		python3 -m venv $(VENV) && $(VENV)/bin/pip install uv; \
	fi

# The prebuilt labextension, rebuilt only when a frontend source changed. JupyterLab comes
# first because it brings jlpm and jupyter-builder. The output folder is wiped first: a stale
# bundle (or an install.json left there by `jupyter labextension develop`) must never reach
# a wheel.
$(LABEXT): $(FRONTEND_SRC) | $(PY)
	@command -v node >/dev/null 2>&1 || { echo "node (>= 20.19) is needed to build the JupyterLab extension: install Node.js and rerun make" >&2; exit 1; }
	$(UV) pip install -p $(PY) "jupyterlab>=4.6,<5"
	rm -rf jupyter_handover/labextension
	$(JLPM) install
	$(JLPM) build:prod
	touch $@

# Editable install: the tests run against this tree's Python code. The labextension is
# already built (hatch-jupyter-builder finds it up to date) and is copied into
# $(VENV)/share/jupyter/labextensions by the wheel's shared-data, so the venv's
# `jupyter labextension list` sees it. No `jupyter labextension develop`: see the
# editable-install trap in docs/decisions.md. --compile-bytecode writes every .pyc now: with
# PYTHONDONTWRITEBYTECODE set (as on this machine) each new process would otherwise compile
# mlflow, pandas and scikit-learn from source again (docs/decisions.md, "Test suite time").
$(STAMP): pyproject.toml $(LABEXT) | $(PY)
	$(UV) pip install -p $(PY) --compile-bytecode --reinstall-package jupyter_handover -e ".[test,bench]"
	touch $@

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y chromium; \
		else \
			echo "$(CHROMIUM) is missing and this is not root: run 'sudo apt-get install -y chromium'; the browser tests are skipped until then" >&2; \
		fi; \
	fi

# Java 17 for PySpark 4 (the batch engine's tests), installed like chromium.
java:
	@if ! command -v java >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y openjdk-17-jre-headless; \
		else \
			echo "java is missing and this is not root: run 'sudo apt-get install -y openjdk-17-jre-headless'; the Spark tests fail until then" >&2; \
		fi; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(JLPM) lint:check

# The panel's jest tests (model and helpers, no server) first, then pytest.
test: install
	$(JLPM) test
	$(PY) -m pytest

demo: install
	$(PY) -m jupyter_handover run notebooks/churn.ipynb

clean:
	rm -rf $(VENV) node_modules lib tsconfig.tsbuildinfo jupyter_handover/labextension jupyter_handover/_version.py dist build
