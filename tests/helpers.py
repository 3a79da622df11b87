"""Helpers for tests that run the workflow: a copy of it in a temporary folder, and snakemake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a copy of the workflow needs (everything but src/, which runs from the installed package).
WORKFLOW_FILES = ("Snakefile", "config.yaml")
WORKFLOW_DIRS = ("workflow", "configs", "profiles", "envs")


def run_snakemake(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """Run this venv's snakemake; on failure raise with the tail of its output."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow definition (not results) into `dest` and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        shutil.copy(REPO / name, dest / name)
    for name in WORKFLOW_DIRS:
        shutil.copytree(REPO / name, dest / name)
    return dest
