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
# `make bench-grid`: where its table goes (+ .json) and extra flags, e.g. BENCH_GRID_ARGS="--kernel torch"
BENCH_GRID_OUT  ?= results/bench_grid.md
BENCH_GRID_ARGS ?=

.PHONY: install test test-demo test-slurm demo bench bench-grid report clean help golden mutants

help:
	@echo "make demo    - the whole pipeline on the embedded synthetic SHD (minutes on 2 cores)"
	@echo "make test    - the test suite"
	@echo "make test-demo  - the quick demo pipeline end to end (minutes)"
	@echo "make test-slurm - the SLURM tests on a single-node cluster it installs (root, apt-get) and starts"
	@echo "make bench   - performance benchmarks (baseline vs sccl, ratios)"
	@echo "make bench-grid - one real run of each kind of the paper grid, extrapolated to its run time (~7 min, native)"
	@echo "make report  - tables and figures from the result records under results/"
	@echo "make install - only create .venv and install sccl into it"
	@echo "make golden  - rewrite tests/golden/ after a deliberate output change (docs/testing.md)"
	@echo "make mutants - mutation check: every listed one-line change must fail a test (docs/testing.md)"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@# the compiled LIF kernel (sccl/kernels.py): never fails the install, the PyTorch path runs without it
	-$(PY) -m sccl.kernels
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q

# the quick demo end to end (every script as a subprocess, then the report): minutes, so kept
# out of `make test`; CI runs it
test-demo: install
	SCCL_DEMO_TEST=1 $(PY) -m pytest -q tests/test_demo.py -k quick_demo

# root + apt-get: installs slurm-wlm, munge, slurmdbd, mariadb-server when missing, starts a
# single-node cluster on 127.0.0.1, runs tests/test_slurm.py, stops the cluster (docs/sweeps.md)
test-slurm: install
	scripts/test_slurm.sh

golden: install
	OMP_NUM_THREADS=1 $(PY) tests/make_golden.py

mutants: install
	OMP_NUM_THREADS=1 $(PY) tests/mutants.py

demo: install
	$(PY) -m sccl demo --out_dir $(DEMO_DIR) $(DEMO_ARGS)

bench: install
	$(PY) benchmarks/run_all.py

# the run-time table of the paper grid (docs/sweeps.md): one thread per run, --kernel native by default
bench-grid: install
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_grid.py --out $(BENCH_GRID_OUT) $(BENCH_GRID_ARGS)

# the compression figure's data is written by an analysis command; the report reads records only
report: install
	@if [ ! -e $(REPORT_DIR)/compression_example.json ] && ls $(REPORT_DIR)/statedicts_64_elements/state_dict_*.pt >/dev/null 2>&1; then \
	  $(PY) -m sccl compression --statedict_dir $(REPORT_DIR)/statedicts_64_elements --out $(REPORT_DIR)/compression_example.json; fi
	$(PY) -m sccl report --results $(REPORT_DIR)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
