#!/usr/bin/env bash
# One call on a GPU machine: the native parity tests (plast_op_tests: every op on CUDA against
# the CPU reference), then the benchmark (scripts/bench-gpu.sh). Full logs under $OUT; a short
# summary last. Binaries are looked up in $PLAST_BIN_DIR, this script's folder, build-cuda/,
# build/Release/, build/.
# Usage: scripts/gpu-check.sh [--quick] [--tests-only] [--profile]
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
export OUT="${OUT:-/tmp/plast-gpu-check}"
mkdir -p "$OUT"
quick=""; testsOnly=0; profile=0
for a in "$@"; do
  case "$a" in --quick) quick="--quick" ;; --tests-only) testsOnly=1 ;; --profile) profile=1 ;; esac
done
find_bin() {
  for d in "${PLAST_BIN_DIR:-}" "$here" "$root/build-cuda" "$root/build/Release" "$root/build"; do
    if [ -n "$d" ] && [ -x "$d/$1" ]; then echo "$d/$1"; return; fi
  done
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv 2>&1 | tee "$OUT/gpu.txt"
tests="$(find_bin plast_op_tests)"
if [ -z "$tests" ]; then echo "gpu-check: plast_op_tests not found"; exit 1; fi
echo "== $tests"
seed="${PLAST_TEST_SEED:-$RANDOM$RANDOM}"
# PLAST_CUDA_SYNC=1: each launch is synchronised, so a device fault names the op that caused it.
PLAST_CUDA_SYNC=1 timeout "${PLAST_TEST_TIMEOUT:-300}" "$tests" --seed "$seed" --verbose > "$OUT/op_tests.log" 2>&1
rc_tests=$?
grep -E "^==|^  [a-z_/]+ +[0-9]+ passed|FAIL|skipped|plast_op_tests:|failed:" "$OUT/op_tests.log" | head -80
rc_bench=0
if [ $testsOnly = 0 ]; then
  timeout "${PLAST_BENCH_TIMEOUT:-400}" bash "$here/bench-gpu.sh" $quick > /dev/null 2>&1
  rc_bench=$?
fi
if [ $profile = 1 ]; then
  echo "== profile (ncu)"
  timeout "${PLAST_PROFILE_TIMEOUT:-200}" bash "$here/profile-gpu.sh"
fi
echo
echo "================ summary ================"
head -2 "$OUT/gpu.txt" | tail -1
tail -n 1 "$OUT/op_tests.log"
if [ $testsOnly = 0 ]; then
  sed -n '/^device:/,$p' "$OUT/bench_torch.log"
  grep -E "plast_bench: |error" "$OUT/bench_ours.log" | tail -3
fi
echo "logs: $OUT (op_tests.log, bench_ours.log/json, bench_torch.log/json, ncu.txt)"
exit $(( rc_tests != 0 || rc_bench != 0 ))
