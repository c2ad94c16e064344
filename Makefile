# materials-ai — every command creates the virtual environment it needs.
#
#   make demo    replay a short Castelli water-splitting campaign (≈10 min on 2 cores)
#   make test    import contracts (lint-imports), then the test suite (unit + integration)
#   make lint    ruff + mypy + lint-imports (layers, no import cycles: [tool.importlinter])
#   make bench   benchmarks (slow; writes docs/benchmarks.md figures)
#   make gpaw    optional GPAW DFT oracle (apt build deps + the `dft` extra)
#   make mlp     optional CHGNet ML-potential oracle (the `mlp` extra)

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

# The exact versions installed here and in CI (pyproject.toml declares ranges).
CONSTRAINTS := constraints.txt

DEMO_WORKFLOW ?= workflows/castelli_water_splitting_chgnet_gp.yaml
DEMO_ITERATIONS ?= 17
DEMO_RUN_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: venv demo test test-all lint bench clean gpaw mlp

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing materials-ai and its dependencies into $(VENV) ..."
	@( $(PY) -m pip install -q -c $(CONSTRAINTS) uv && \
	   $(VENV)/bin/uv pip install -q --python $(PY) $(UV_FLAGS) -c $(CONSTRAINTS) -e '.[dev]' ) || \
	 $(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/materials-ai campaign run $(DEMO_WORKFLOW) \
		--run-dir $(DEMO_RUN_DIR) --iterations $(DEMO_ITERATIONS)

# lint-imports first: an import cycle or a layer violation fails CI before the long suite.
test: venv
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q --durations=25

test-all: venv
	$(VENV)/bin/pytest -q -m ""

lint: venv
	$(VENV)/bin/ruff check materials_ai tests benchmarks
	$(VENV)/bin/mypy materials_ai
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) benchmarks/run_all.py

# GPAW (serial build, C++17, against Debian's libxc/OpenBLAS/FFTW; configs/gpaw/siteconfig.py).
# GPAW_BUILD_JOBS must stay unset: its Makefile build loses _gpaw under uv.
GPAW_APT := libxc-dev libopenblas-dev libfftw3-dev g++
gpaw: venv
	@if ! dpkg -s $(GPAW_APT) >/dev/null 2>&1; then \
	  SUDO=""; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$SUDO apt-get install -y -qq $(GPAW_APT) >/dev/null; fi
	@echo "building GPAW (about 2 min) ..."
	@unset GPAW_BUILD_JOBS; export GPAW_CONFIG=$(abspath configs/gpaw/siteconfig.py); \
	  ( test -x $(VENV)/bin/uv && $(VENV)/bin/uv pip install -q --python $(PY) $(UV_FLAGS) -c $(CONSTRAINTS) -e '.[dev,dft]' ) || \
	  $(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev,dft]'
	@$(PY) -c 'import _gpaw' 2>/dev/null || { echo "GPAW has no _gpaw extension: rebuilding without cache"; \
	  GPAW_CONFIG=$(abspath configs/gpaw/siteconfig.py) $(PY) -m pip install -q --no-cache-dir \
	  --force-reinstall --no-deps -c $(CONSTRAINTS) gpaw; }
	@OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(VENV)/bin/gpaw info | grep -E '^(gpaw|_gpaw|libxc|FFTW|PAW)'

mlp: venv
	@( test -x $(VENV)/bin/uv && $(VENV)/bin/uv pip install -q --python $(PY) $(UV_FLAGS) -c $(CONSTRAINTS) -e '.[dev,mlp]' ) || \
	  $(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[dev,mlp]'

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# A single-node SLURM on this machine (slurm-wlm + munge from apt; issue 19) for the tests
# marked `slurm` and configs/compute/slurm.yaml. `make slurm-stop` stops it again.
.PHONY: slurm slurm-stop
slurm:
	scripts/slurm-dev-cluster.sh start

slurm-stop:
	scripts/slurm-dev-cluster.sh stop
