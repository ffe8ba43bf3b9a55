# Two commands on a fresh machine with only Python 3 and make: `make demo`, `make test`.
# Both create (or refresh, when pyproject.toml changed) the local virtualenv .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.diffkit-installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diffkit compare --report reports/ridge-sigmoid.html

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py --json benchmarks/results.json

clean:
	rm -rf $(VENV) build *.egg-info
