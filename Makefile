# Every target sets up .venv first (make install); nothing else needs to be installed by hand.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sccl-installed
# Demo folder (git-ignored) and the folder `make report` reads records from
DEMO_DIR   ?= results/demo
REPORT_DIR ?= $(DEMO_DIR)
# extra flags of `sccl demo`, e.g. DEMO_ARGS=--resume or DEMO_ARGS="--jobs 4"
DEMO_ARGS  ?=

.PHONY: install test demo bench report clean help

help:
	@echo "make demo    - the whole pipeline on the embedded synthetic SHD (minutes on 2 cores)"
	@echo "make test    - the test suite"
	@echo "make bench   - performance benchmarks (baseline vs sccl, ratios)"
	@echo "make report  - tables and figures from the result records under results/"
	@echo "make install - only create .venv and install sccl into it"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) -m sccl demo --out_dir $(DEMO_DIR) $(DEMO_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

report: install
	$(PY) -m sccl report --results $(REPORT_DIR)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
