PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup kernels demo results test test-slow lint format bench gpu-wheels dashboard clean

# `make results`: the reference study, then docs/results.md with its figures and runs (Parquet).
RESULTS_STUDY ?= studies/reference.yaml
RESULTS_NAME ?= reference
RESULTS_DB ?= sqlite:///results/reference.db
RESULTS_DIR ?= docs/results
RESULTS_PAGE ?= docs/results.md

$(BIN)/polybench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(BIN)/polybench

setup: $(BIN)/polybench kernels

# The compiled CPU kernel of the softmax losses (polybench/losses/_native.cpp): a no-op when it
# is built; without a C++ compiler the losses keep their eager path, so setup goes on.
kernels: $(BIN)/polybench
	$(BIN)/polybench kernels --build || echo "warning: no compiled kernel; the losses use their eager path" >&2

demo: setup
	$(BIN)/polybench run studies/quickstart.yaml
	$(BIN)/polybench report quickstart

results: setup
	mkdir -p results
	$(BIN)/polybench run $(RESULTS_STUDY) --storage $(RESULTS_DB)
	$(BIN)/polybench report $(RESULTS_NAME) --storage $(RESULTS_DB) --format page --figures $(RESULTS_DIR) --output $(RESULTS_PAGE) --force

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n auto

test-slow: setup
	$(BIN)/pytest -m slow

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python benchmarks/losses.py
	$(BIN)/python benchmarks/train.py

# Wheels (Python 3.12, x86-64) of the dependencies a GPU machine's image may lack, at the versions
# installed here, into .whl/: benchmarks/gpu_check.sh installs them there (docs/scaling.md, GPUs).
GPU_WHEELS ?= optuna cmaes sqlalchemy alembic mako colorlog pydantic pydantic-core annotated-types typing-inspection plotly
gpu-wheels: setup
	rm -rf .whl
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
		--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		$$($(BIN)/python -c 'import sys; from importlib.metadata import version; print(" ".join(f"{n}=={version(n)}" for n in sys.argv[1:]))' $(GPU_WHEELS))
	du -sh .whl

dashboard: setup
	$(BIN)/polybench dashboard

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .whl
