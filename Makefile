# The two set-up commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint install clean

$(BIN)/aduan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/aduan

install: $(BIN)/aduan

serve: install
	$(BIN)/aduan serve

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
