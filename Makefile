# ma-notebook: `make run` starts JupyterLab with the extension; `make test` runs every check.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8888
ROOT_DIR ?= $(CURDIR)/run/work
PYTEST_ARGS ?=
export PATH := $(BIN):$(PATH)

# Debian packages the tests drive as real peers (browser, git server, ...).
# docker.io/debootstrap/docker-registry: notebook images (tests start dockerd when none runs).
SYSTEM_PACKAGES ?= chromium git openssh-server putty-tools docker.io debootstrap docker-registry

.PHONY: help run test setup frontend lint test-python system-deps clean

help:
	@echo "make run   - set up .venv, build the frontend and start JupyterLab on 127.0.0.1:$(PORT)"
	@echo "make test  - install test dependencies, then run linters, Python tests and browser tests"

$(VENV)/.installed: pyproject.toml package.json
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is required") if sys.version_info < (3, 10) else None'
	@command -v node >/dev/null || { echo "Node.js >= 20 is required to build the frontend"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	# `labextension develop` leaves install.json in the build dir; the wheel adds it too.
	rm -f ma_notebook/labextension/install.json
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

setup: $(VENV)/.installed

frontend: setup
	jlpm install >/dev/null
	jlpm build

run: frontend
	mkdir -p "$(ROOT_DIR)"
	@echo "Starting JupyterLab with ma-notebook; open the URL with its token printed below."
	exec $(BIN)/jupyter lab --ip=127.0.0.1 --port=$(PORT) --no-browser \
		--ServerApp.root_dir="$(ROOT_DIR)" $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(RUN_ARGS)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "Missing Debian packages (install them as root):$$missing"; exit 1; fi; \
	fi

lint: frontend
	ruff check ma_notebook tests benchmarks
	ruff format --check ma_notebook tests benchmarks
	mypy
	jlpm lint:check

test-python: system-deps frontend
	python -m pytest $(PYTEST_ARGS)

test: system-deps lint test-python

clean:
	rm -rf $(VENV) .venv-mindinsight lib ma_notebook/labextension node_modules dist build run .pytest_cache
