#!/usr/bin/env bash
# The translation benchmark on an NVIDIA GPU: MLX (mlx[cuda]) against transformers and
# CTranslate2 on CUDA, same tokens, both shapes, figures under OUT (default
# bench/results/gpu). Written for a lent device machine, whose image carries CUDA torch and
# transformers but reaches no package index: the other wheels travel in .whl/ (download
# them here for its Python, see the device notes), or come from the index where there is
# one. mlx[cuda] brings CUDA 12 libraries as wheels; CTranslate2's CUDA build needs CUDA 12
# too, and an engine that fails to start is reported and left out of the table.
# NOT RUN YET: no GPU was lent to the task that wrote it. Run from the repository root;
# --smoke runs translate's --smoke on CUDA instead (figures under OUT, default a temporary
# directory, never bench/results).
#   bash bench/gpu.sh [--smoke] [OUT]
set -euo pipefail
runs=(--shape mid,full --threads 1 --rounds 3 --sentences 6 --min-sentences 3 --budget 20
  --engines torch,ct2-float32,ct2-int8,mlx-fp32,mlx-fp32-pruned,mlx-bf16,mlx-bf16-pruned)
if [ "${1:-}" = --smoke ]; then
  runs=(--smoke)
  shift
  out=${1:-${OUT:-$(mktemp -d -t streamtts-bench-smoke-XXXXXX)}}
else
  out=${1:-${OUT:-bench/results/gpu}}
fi
mkdir -p "$out"
venv=/tmp/streamtts-gpu
# The image's torch and transformers stay visible: a CUDA build of each is already there.
python3 -m venv --system-site-packages "$venv"
source=()
[ -d .whl ] && source=(--no-index --find-links .whl)
"$venv/bin/pip" install -q "${source[@]}" "mlx[cuda]" ctranslate2 sentencepiece safetensors
# The benchmark needs the translation path only, not the speech engines' dependencies.
"$venv/bin/pip" install -q --no-deps --no-build-isolation -e .
export STREAMTTS_BENCH_CACHE=/tmp/streamtts-bench
nvidia-smi >"$out/nvidia-smi.txt"
"$venv/bin/python" -m bench.translate --device cuda "${runs[@]}" --tag cuda --results "$out" \
  2>&1 | tee "$out/run.log"
