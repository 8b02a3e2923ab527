# Two commands do all set-up on a fresh machine with python3 (3.11+) and make:
#   make lab    create .venv if missing, install kubelearn with what the lessons need (no test tools),
#               copy the lessons to ./lessons (git-ignored: your edits never touch notebooks/) and open JupyterLab
#   make test   create .venv if missing, install kubelearn with the development tools, run the whole suite
# and one for the course site:
#   make book   build the rendered course (static HTML in docs/book/_build/html) from the lessons' stored outputs
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)
LAB_STAMP  := $(VENV)/.lab-$(HASH)
DEV_STAMP  := $(VENV)/.dev-$(HASH)
BOOK_STAMP := $(VENV)/.book-$(HASH)
# extra pytest arguments for the unit-test run (.ci/run passes a deselection for Python 3.12)
PYTEST_ARGS ?=
# pip >= 25.1 installs PEP 735 dependency groups (--group)
PIP_INSTALL := $(BIN)/python -m pip install --quiet

.PHONY: lab test venv lint book clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: kubelearn needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install it with: sudo apt-get install python3-venv"; exit 1; }
	$(PIP_INSTALL) --upgrade "pip>=25.1"

$(LAB_STAMP): $(BIN)/python pyproject.toml setup.py
	$(PIP_INSTALL) -e ".[notebooks]"
	rm -f $(VENV)/.lab-*
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml setup.py
	$(PIP_INSTALL) -e ".[notebooks,parquet]" --group test --group schema
	rm -f $(VENV)/.dev-* $(VENV)/.lab-*
	touch $@ $(LAB_STAMP)

$(BOOK_STAMP): $(BIN)/python pyproject.toml setup.py
	$(PIP_INSTALL) -e . --group book
	rm -f $(VENV)/.book-*
	touch $@

venv: $(DEV_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/kubelearn lab --dir lessons

test: $(DEV_STAMP)
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks
	$(BIN)/ruff check kubelearn tests benchmarks scripts docs/book
	$(BIN)/mypy

lint: $(DEV_STAMP)
	$(BIN)/ruff check kubelearn tests benchmarks scripts docs/book
	$(BIN)/mypy

book: $(BOOK_STAMP)
	$(BIN)/python docs/book/build_book.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/book/_build
