# Seeing inside CNNs -- two commands do everything on a fresh machine:
#   make lab    create the environment if missing, open the course in JupyterLab
#   make test   create the environment if missing, run lint + all tests (notebooks in quick mode)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export MPLBACKEND := Agg

.PHONY: lab test env lint format notebooks bench site slides slides-check homework browser-deps clean-env

env: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e ".[dev,site,slides]"
	touch $(STAMP)

lab: $(STAMP)
	unset MPLBACKEND; $(VENV)/bin/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/00_why_and_what.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Debian's Chromium for tests/test_browser.py (Playwright drives it; no browser download)
browser-deps:
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

test: lint browser-deps
	LECTURE_QUICK=1 $(PY) -m pytest -q

# The static edition, a Jupyter Book (stored outputs, no kernel needed, nothing loaded from the internet):
# build/site/index.html; the book's generated sources go to build/site_src
site: $(STAMP)
	$(PY) -m pip install --quiet -e ".[site]"
	$(PY) tools/build_site.py build/site

# Present one notebook as RISE slides (1280x720): make slides NB=notebooks/03_cam.ipynb opens it in the classic
# notebook (nbclassic + RISE 5.7, the extra `slides`; RISE's nbextension comes enabled with its wheel):
# Cell > Run All, then Alt-R starts the slideshow. notebooks/rise.css fits figures and long code to the slide.
slides: NB = notebooks/00_why_and_what.ipynb
slides: $(STAMP)
	$(PY) -m pip install --quiet -e ".[slides]"
	$(PY) tools/slides.py present $(NB)

# Slide metadata present, and the slides that would not fit 1280x720 (estimated heights) listed
slides-check: $(STAMP)
	$(PY) tools/slides.py check notebooks/*.ipynb

# Student versions of the notebooks (build/student/notebooks), the checks' expected values (data/homework),
# then every check run against its solution and its stub: a table (also in build/student/solutions_check.md)
homework: $(STAMP)
	$(PY) tools/homework_build.py build

# Re-execute notebooks with full settings and store their outputs (NB=notebooks/NN_x.ipynb for one).
NB ?= notebooks/*.ipynb
notebooks: $(STAMP)
	for nb in $(NB); do LECTURE_QUICK=0 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; done
	$(PY) tools/compact_figures.py $(NB)
	$(PY) tools/slides.py apply $(NB)

# Peer libraries (optional extra `bench`), then the benchmarks; results go to benchmarks/RESULTS.md.
# BENCH_ARGS=--quick for a short development run; DEVICE=cuda on a GPU machine.
DEVICE ?= cpu
BENCH_ARGS ?=
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_methods.py --device $(DEVICE) $(BENCH_ARGS) --out benchmarks/RESULTS.md
	$(PY) benchmarks/bench_notebooks.py --out benchmarks/RESULTS.md
	$(if $(findstring --quick,$(BENCH_ARGS)),,$(PY) benchmarks/bench_notebooks.py --full --no-quick --section bench_notebooks_full --out benchmarks/RESULTS.md)

clean-env:
	rm -rf $(VENV)
