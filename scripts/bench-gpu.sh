#!/usr/bin/env bash
# The GPU benchmark, ours and PyTorch's on the same device in the same run:
#  1. plast_bench: every kernel variant of ffn, linear, attn, attn-bwd checked against the CPU
#     reference, then timed (a failing variant is not timed); then the model workloads on random
#     bf16 weights generated on the device: LLaMA-7B-shaped profile (16x640 tokens, all 32 layers
#     counted) and PLAST step (layers 0-4 trainable, 4x640 tokens, fp32 masters).
#  2. scripts/bench_torch.py: the same kernels in PyTorch, the same model workloads with HF
#     transformers (LlamaForCausalLM, hooks on gate_proj, AdamW on fp32 masters), and the GEMM peak.
#  3. the comparison table, printed last: workload, plast ms, torch ms, speedup (torch ms / plast
#     ms), TFLOP/s and % of the GEMM peak measured in this run, peak memory of both, DESIGN.md's
#     target with MET / NOT MET.
# Logs and JSON go to $OUT (default /tmp/plast-bench): bench_ours.{log,json},
# bench_torch.{log,json}, bench_table.txt, bench_summary.json.
# Usage: scripts/bench-gpu.sh [--quick] [--no-model]
#   PLAST_BIN_DIR: where plast_bench is; PLAST_BENCH_MODEL_LAYERS: layers of the model workloads (32)
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
OUT="${OUT:-/tmp/plast-bench}"
mkdir -p "$OUT"
ours_args=()
torch_args=()
for a in "$@"; do
  case "$a" in
    --quick) ours_args+=(--quick); torch_args+=(--quick) ;;
    --no-model) ours_args+=(--only ops); torch_args+=(--no-model) ;;
    *) echo "bench-gpu: unknown argument $a (expected --quick, --no-model)"; exit 2 ;;
  esac
done
if [ -n "${PLAST_BENCH_MODEL_LAYERS:-}" ]; then
  ours_args+=(--model-layers "$PLAST_BENCH_MODEL_LAYERS")
  torch_args+=(--model-layers "$PLAST_BENCH_MODEL_LAYERS")
fi
bin=""
for d in "${PLAST_BIN_DIR:-}" "$here" "$root/build" "$root/build-cuda" "$root/build/Release"; do
  if [ -n "$d" ] && [ -x "$d/plast_bench" ]; then bin="$d/plast_bench"; break; fi
done
if [ -z "$bin" ]; then
  echo "bench-gpu: plast_bench not found (build the CMake target plast_bench with CUDA)"; exit 1
fi
py="$here/bench_torch.py"
[ -f "$py" ] || py="$root/scripts/bench_torch.py"
rm -f "$OUT/bench_ours.json" "$OUT/bench_table.txt" "$OUT/bench_summary.json"
echo "== plast_bench ($bin ${ours_args[*]:-})"
"$bin" "${ours_args[@]}" --json "$OUT/bench_ours.json" 2>&1 | tee "$OUT/bench_ours.log"
rc_ours=${PIPESTATUS[0]}
if grep -q "^plast_bench: skipped" "$OUT/bench_ours.log"; then
  echo "bench-gpu: plast_bench found no usable CUDA device; nothing to compare"
  exit 1
fi
echo "== PyTorch ($py ${torch_args[*]:-})"
ours=()
[ -s "$OUT/bench_ours.json" ] && ours=(--ours "$OUT/bench_ours.json")
PYTHONUNBUFFERED=1 python3 "$py" "${torch_args[@]}" "${ours[@]}" --json "$OUT/bench_torch.json" \
  --table "$OUT/bench_table.txt" --summary "$OUT/bench_summary.json" 2>&1 | tee "$OUT/bench_torch.log"
rc_torch=${PIPESTATUS[0]}
echo
echo "================ benchmark: plast vs PyTorch (same device, same run) ================"
if [ -s "$OUT/bench_table.txt" ]; then cat "$OUT/bench_table.txt"; else echo "(no comparison table: see $OUT/bench_*.log)"; fi
echo "plast_bench exit $rc_ours, bench_torch.py exit $rc_torch; logs in $OUT"
exit $(( rc_ours != 0 || rc_torch != 0 ))
