#!/usr/bin/env bash
# The GPU benchmark: plast_bench (every kernel variant checked against the CPU reference, then
# timed) and PyTorch's numbers from the same device in the same run (scripts/bench_torch.py),
# then one comparison table. Logs and JSON go to $OUT (default /tmp/plast-bench).
# Usage: scripts/bench-gpu.sh [--quick]    (PLAST_BIN_DIR: where plast_bench is)
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
OUT="${OUT:-/tmp/plast-bench}"
mkdir -p "$OUT"
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
bin=""
for d in "${PLAST_BIN_DIR:-}" "$here" "$root/build-cuda" "$root/build/Release" "$root/build"; do
  if [ -n "$d" ] && [ -x "$d/plast_bench" ]; then bin="$d/plast_bench"; break; fi
done
if [ -z "$bin" ]; then
  echo "bench-gpu: plast_bench not found (build the CMake target plast_bench with CUDA)"; exit 1
fi
py="$here/bench_torch.py"
[ -f "$py" ] || py="$root/scripts/bench_torch.py"
echo "== plast_bench ($bin)"
"$bin" "${quick[@]}" --json "$OUT/bench_ours.json" 2>&1 | tee "$OUT/bench_ours.log"
rc_ours=${PIPESTATUS[0]}
echo "== PyTorch ($py)"
PYTHONUNBUFFERED=1 python3 "$py" "${quick[@]}" --ours "$OUT/bench_ours.json" --json "$OUT/bench_torch.json" 2>&1 \
  | tee "$OUT/bench_torch.log"
rc_torch=${PIPESTATUS[0]}
exit $(( rc_ours != 0 || rc_torch != 0 ))
