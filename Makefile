# The commands in the README. `make reproduce` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup reproduce test test-fast lint format dryrun report bench clean

setup: $(VENV)/.installed

# torch first and exactly pinned: 2.13.0 is the CPU wheel on the project's machines' disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

reproduce: setup  ## run the default study end to end
	$(BIN)/snakemake --cores $(CORES)

test: setup  ## unit, integration and workflow tests
	$(BIN)/pytest -q

test-fast: setup  ## everything except the end-to-end workflow runs
	$(BIN)/pytest -q -m "not workflow"

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff format src tests bench

dryrun: setup  ## dry run of every shipped config
	$(BIN)/snakemake -n -q --cores 1
	for cfg in configs/*.yaml; do $(BIN)/snakemake -n -q --cores 1 --configfile $$cfg || exit 1; done

report: setup  ## self-contained HTML report of the default study
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

bench: setup  ## default-study wall time and training throughput
	$(BIN)/python bench/throughput.py

clean:
	rm -rf results logs .snakemake
