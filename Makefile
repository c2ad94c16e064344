# materials-ai — every command creates the virtual environment it needs.
#
#   make demo    replay a short Castelli water-splitting campaign (≈10 min on 2 cores)
#   make test    run the test suite (unit + integration on the real datasets)
#   make lint    ruff + mypy
#   make bench   benchmarks (slow; writes docs/benchmarks.md figures)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# Datasets: an explicit MATERIALS_AI_DATA_DIR wins; otherwise ../shared/datasets if present.
SHARED_DATA := $(abspath ../shared/datasets)
ifeq ($(strip $(MATERIALS_AI_DATA_DIR)),)
ifneq ($(wildcard $(SHARED_DATA)),)
export MATERIALS_AI_DATA_DIR := $(SHARED_DATA)
endif
endif

# pip's configured wheel folder (holds the CPU build of torch on the project's machines).
FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
UV_FLAGS := $(if $(FIND_LINKS),--find-links $(FIND_LINKS),)

DEMO_ITERATIONS ?= 14
DEMO_RUN_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: venv demo test test-all lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing materials-ai and its dependencies into $(VENV) ..."
	@( $(PY) -m pip install -q uv && \
	   $(VENV)/bin/uv pip install -q --python $(PY) $(UV_FLAGS) -e '.[dev]' ) || \
	 $(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/materials-ai campaign run workflows/castelli_water_splitting.yaml \
		--run-dir $(DEMO_RUN_DIR) --iterations $(DEMO_ITERATIONS)

test: venv
	$(VENV)/bin/pytest -q

test-all: venv
	$(VENV)/bin/pytest -q -m ""

lint: venv
	$(VENV)/bin/ruff check materials_ai tests benchmarks
	$(VENV)/bin/mypy materials_ai

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
