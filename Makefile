PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-slow lint format bench dashboard clean

$(BIN)/polybench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(BIN)/polybench

setup: $(BIN)/polybench

demo: setup
	$(BIN)/polybench run studies/quickstart.yaml

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

dashboard: setup
	$(BIN)/polybench dashboard

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
