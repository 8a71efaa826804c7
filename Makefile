# Seeing inside CNNs -- two commands do everything on a fresh machine:
#   make lab    create the environment if missing, open the course in JupyterLab
#   make test   create the environment if missing, run lint + all tests (notebooks in quick mode)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export MPLBACKEND := Agg

.PHONY: lab test env lint format notebooks bench clean-env

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

lab: $(STAMP)
	unset MPLBACKEND; $(VENV)/bin/jupyter lab notebooks/00_why_and_what.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	LECTURE_QUICK=1 $(PY) -m pytest -q

# Re-execute notebooks with full settings and store their outputs (NB=notebooks/NN_x.ipynb for one).
NB ?= notebooks/*.ipynb
notebooks: $(STAMP)
	for nb in $(NB); do LECTURE_QUICK=0 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; done

bench: $(STAMP)
	$(PY) benchmarks/bench_models.py

clean-env:
	rm -rf $(VENV)
