"""Expand the idiom sources into the labelled sets: sources/cwe-*.yaml into validation.jsonl,
holdout/cwe-*.yaml into holdout.jsonl.

Each source snippet is an idiom template over `$slot` placeholders (string.Template); snippet
`k` of a template takes the k-th value of every slot list (cycling), so a template with slot
lists of length 2 gives two snippets with different names. Every snippet must parse.

Run from the repository root after editing a source:
    python tests/data/analyser/build.py          # rewrites both JSONL files
`tests/test_analyser.py` checks each JSONL is what this script writes.
"""

from __future__ import annotations

import ast
import json
import string
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
FIELDS = ("id", "vulnerable", "idioms", "slots", "code")
SETS = {"sources": "validation.jsonl", "holdout": "holdout.jsonl"}


def expand(source: Path) -> list[dict]:
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    cwe = spec["cwe"]
    if source.stem != cwe.lower():
        raise ValueError(f"{source.name}: cwe {cwe} does not match the file name")
    rows, seen = [], set()
    for snippet in spec["snippets"]:
        if set(snippet) != set(FIELDS):
            raise ValueError(f"{source.name}: {snippet.get('id')}: keys must be {FIELDS}")
        if snippet["id"] in seen:
            raise ValueError(f"{source.name}: duplicate id {snippet['id']}")
        seen.add(snippet["id"])
        slots = {k: [str(v) for v in values] for k, values in snippet["slots"].items()}
        n = max((len(v) for v in slots.values()), default=1)
        for k in range(n):
            values = {name: choices[k % len(choices)] for name, choices in slots.items()}
            code = string.Template(snippet["code"]).substitute(values)
            try:
                ast.parse(code)
            except SyntaxError as err:
                raise ValueError(f"{source.name}: {snippet['id']}#{k}: {err}") from None
            rows.append(
                {
                    "id": f"{cwe}/{snippet['id']}/{k}",
                    "cwe": cwe,
                    "vulnerable": bool(snippet["vulnerable"]),
                    "idioms": list(snippet["idioms"]),
                    "code": code,
                }
            )
    return rows


def build(folder: str = "sources") -> list[dict]:
    sources = sorted(HERE.glob(f"{folder}/cwe-*.yaml"), key=lambda p: int(p.stem.split("-")[1]))
    return [row for source in sources for row in expand(source)]


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)


if __name__ == "__main__":
    for folder, name in SETS.items():
        rows = build(folder)
        (HERE / name).write_text(render(rows), encoding="utf-8")
        n_vulnerable = sum(r["vulnerable"] for r in rows)
        print(
            f"{name}: {len(rows)} snippets, {n_vulnerable} vulnerable, {len(rows) - n_vulnerable} secure"
        )
    sys.exit(0)
