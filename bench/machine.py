"""What a benchmark ran on: CPU model, cores, PyTorch and its CPU capability, the CPU's bf16
features (avx512_bf16, AMX), oneDNN's bf16 support and the load average at the time.

Example (from a script in bench/):
    from machine import describe
    print(f"machine: {describe()}")
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

BF16_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and flags from /proc/cpuinfo (Linux); unknown elsewhere."""
    path = Path("/proc/cpuinfo")
    lines = path.read_text().splitlines() if path.exists() else []
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return model, set(flags)


def describe(bf16: bool = False) -> str:
    model, flags = cpuinfo()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = (
        f"{model}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"(capability {torch.backends.cpu.get_cpu_capability()})"
    )
    if bf16:
        features = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in BF16_FLAGS)
        onednn = "yes" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "no"
        text += f", {features}, oneDNN bf16 {onednn}"
    return f"{text}; load average {load}"
