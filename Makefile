# genlabs: `make run` executes every lab (CI profile unless PROFILE=full) into build/; `make site` makes the
# course website of what it executed (build/site/);
# `make test` runs the unit tests, every notebook in its CI profile, and the nbval-style checks.
# Both set up .venv first when it is missing or pyproject.toml changed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= ci
NB     ?=
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONHASHSEED := 0
# Idle OpenMP threads sleep instead of spinning: with one core busy elsewhere, 02's CI run took 581 s
# with spinning threads and 28 s with this (benchmarks/RESULTS.md, OpenMP wait policy).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup run site mathjax test test-slow test-unit test-notebooks nbval lint lab refs verify strip student grade test-browser test-site benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v bwrap >/dev/null || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq bubblewrap; else echo "note: grading sandboxes submissions with bubblewrap: install the package bubblewrap (e.g. sudo apt-get install bubblewrap)"; fi; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,site]"
	touch $(STAMP)

run: $(STAMP)  ## execute every lab headless into build/notebooks (PROFILE=ci|full)
	$(PY) -m labutils.notebooks run --profile $(PROFILE) $(NB)

# MathJax 3 for the site (npm's `mathjax`, its es5 folder is served by the site itself: maths renders offline)
MATHJAX_VERSION := 3.2.2
MATHJAX_DIR := build/mathjax/node_modules/mathjax/es5

site: $(STAMP) $(MATHJAX_DIR)/tex-mml-chtml.js  ## the course website from build/notebooks (make run first) into build/site
	$(PY) -c "import sphinx, myst_nb, sphinx_book_theme" 2>/dev/null || $(PY) -m pip install --quiet -e ".[dev,site]"
	$(PY) -m labutils.tools.site --mathjax $(MATHJAX_DIR)

mathjax: $(MATHJAX_DIR)/tex-mml-chtml.js

$(MATHJAX_DIR)/tex-mml-chtml.js:
	command -v npm >/dev/null || test "$$(id -u)" != 0 || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; }
	command -v npm >/dev/null || { echo "make site needs npm to install MathJax: apt-get install npm"; exit 2; }
	npm install --prefix build/mathjax --no-audit --no-fund --no-save mathjax@$(MATHJAX_VERSION)

test-site: $(STAMP)  ## the built site in headless Chromium, offline: images, maths, console, downloads (make site first)
	$(PY) tests/browser/run_site_test.py

# The labs run two at a time (each kernel uses one torch thread, so the two cores are both used); the
# unit tests run after them, two test files at a time, reusing their cached trainings (the grading tests
# run the labs' student versions, which must not restart a lab's results file while its CI run is being
# verified).
test: $(STAMP)  ## every notebook in its CI profile (checked outputs, numeric references), then the unit tests
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=12 -m "not slow" tests/notebooks
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=12 -m "not slow" tests/unit

test-slow: $(STAMP)  ## the long tests left out of `make test` (each lab graded as a submission)
	$(PY) -m pytest -q -m slow

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not notebook and not slow"

test-notebooks: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist worksteal -m notebook

nbval: $(STAMP)  ## the nbval plugin itself (executes the notebooks again, in the CI profile)
	GENLABS_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg $(or $(NB),notebooks/[0-9][0-9]_*.ipynb)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

lab: $(STAMP)  ## open JupyterLab on the labs
	$(VENV)/bin/jupyter lab notebooks/

refs: $(STAMP)  ## store NB's references on purpose: CI (re-executes; checked outputs + numeric checks) or PROFILE=full (from the last full run); SEEDS=5: tolerances cover 5 training seeds
	$(PY) -m labutils.notebooks refs --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS)) $(NB)

verify: $(STAMP)  ## the last run's numeric checks against the committed reference: make verify PROFILE=full NB=...
	$(PY) -m labutils.notebooks verify --profile $(PROFILE) $(NB)

strip: $(STAMP)
	$(PY) -m labutils.notebooks strip $(NB)

student: $(STAMP)  ## student versions of the labs (solutions and hidden checks removed) into build/student
	$(PY) -m labutils.grade student --out build/student

OUT ?= build/grading
grade: $(STAMP)  ## grade a batch: make grade SUB=submissions/ [OUT=build/grading]
	@test -n "$(SUB)" || (echo "usage: make grade SUB=submissions/ [OUT=build/grading]"; exit 2)
	$(PY) -m labutils.grade grade $(SUB) --out $(OUT)

test-browser: $(STAMP)  ## a lab in JupyterLab in headless Chromium: runs, widgets render, slider redraws (NB=, SLIDER=)
	$(PY) tests/browser/run_browser_test.py $(NB) $(if $(SLIDER),--slider "$(SLIDER)")

benchmarks: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache .ruff_cache
