#!/usr/bin/env bash
# The whole GPU check in ONE device call: build there, native parity tests, the CUDA model tests
# (JS), the `plast bench --op` CLI, and the benchmark against PyTorch. Full logs under $OUT; a
# status table and the benchmark table are printed last.
#
# How to run it (GPU.md: the device tool copies the working tree but no git-ignored paths, has no
# node, and allows 600 s per call and 64 MiB of carried files):
#   here:    npm install                  # builds the addon, plast_op_tests, plast_bench
#            bash scripts/pack-device.sh  # fills .device/: node.xz, runtime.tar.xz (dist/,
#                                         # runtime node_modules, Node-API headers), prebuilt.tar.xz
#   device:  run(command="bash scripts/gpu-check.sh", carry=[".device"], timeout_s=600)
# There, this script unpacks node into /tmp/nb (GPU.md's recipe) and dist/ + node_modules/ into the
# checkout, then builds with CMake + nvcc for sm_90 only (PLAST_CUDA_ARCHS=90 plus the sm_90a
# wgmma objects; set PLAST_CUDA_ARCHS to change) into build/: plast_op_tests, plast_bench and the
# addon build/Release/plast.node (CMake without cmake-js: CMAKE_JS_INC = the carried Node-API
# headers). If that build fails, it falls back to the carried prebuilt binaries (sm_80/sm_90).
#
# Phases (each under a timeout; all inside a budget of PLAST_CHECK_BUDGET seconds, default 560):
#   device     nvidia-smi, python3/torch versions                         -> gpu.txt
#   build      cmake configure + build (or --prebuilt)                    -> build.log
#   op tests   PLAST_CUDA_SYNC=1 plast_op_tests --verbose                 -> op_tests.log
#   model      uvu dist/test/cuda/model-cuda.test.js on CUDA (+ the bench --op unit test)
#                                                                         -> model_tests.log
#   cli        plast bench --op ffn --variants all --quick                -> cli_bench.log
#   bench      scripts/bench-gpu.sh (plast_bench + bench_torch.py)        -> bench*.log/json, bench_table.txt
#   profile    scripts/profile-gpu.sh (Nsight Compute; only with --profile) -> ncu.txt
# Usage: scripts/gpu-check.sh [--quick] [--tests-only] [--bench-only] [--prebuilt] [--rebuild] [--profile]
#   --quick: benchmark at the quick shapes (8-layer model workloads); chosen automatically when
#   less than PLAST_FULL_BENCH_MIN (240) seconds are left for the benchmark.
# Exit status 0 only when every phase that ran passed (a machine without a GPU exits 1).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
export OUT="${OUT:-/tmp/plast-gpu-check}"
mkdir -p "$OUT"
export PLAST_NO_PROGRESS=1

quick=0; tests=1; bench=1; prebuilt=0; rebuild=0; profile=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --tests-only) bench=0 ;;
    --bench-only) tests=0 ;;
    --prebuilt) prebuilt=1 ;;
    --rebuild) rebuild=1 ;;
    --profile) profile=1 ;;
    *) echo "gpu-check: unknown argument $a"; exit 2 ;;
  esac
done

BUDGET="${PLAST_CHECK_BUDGET:-560}"
start=$SECONDS
left() { echo $(( BUDGET - (SECONDS - start) )); }
STATUS=()  # "phase|status|seconds|detail"
record() { STATUS+=("$1|$2|$3|$4"); echo "-- $1: $2 ($3 s) $4"; }

# run_phase NAME MAX_SECONDS LOG cmd...: runs cmd under a timeout that also respects the budget.
# Sets PHASE_RC (124 = timed out, 200 = not run: no time left) and PHASE_S.
run_phase() {
  local name="$1" max="$2" log="$3"; shift 3
  local t; t=$(left); t=$(( t - 15 < max ? t - 15 : max ))
  PHASE_S=0
  if [ "$t" -lt 10 ]; then PHASE_RC=200; return; fi
  echo "== $name (timeout ${t} s) -> $log"
  local s0=$SECONDS
  timeout -k 10 "$t" "$@" > "$OUT/$log" 2>&1
  PHASE_RC=$?
  PHASE_S=$(( SECONDS - s0 ))
  [ $PHASE_RC -eq 137 ] && PHASE_RC=124
}

# ---------------------------------------------------------------- device, node, runtime files
{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv 2>&1 || echo "nvidia-smi: not available"
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -1)"
  echo "cmake: $(cmake --version 2>/dev/null | head -1)"
  echo "python3: $(python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "| transformers", transformers.__version__)' 2>&1 | tail -1)"
  echo "cpus: $(nproc)"
} > "$OUT/gpu.txt" 2>&1
gpu_name="$(sed -n 3p "$OUT/gpu.txt" | cut -d, -f1)"
cat "$OUT/gpu.txt"

if [ -s .device/node.xz ] && { ! command -v node > /dev/null || [ -n "${PLAST_USE_CARRIED_NODE:-}" ]; }; then
  mkdir -p /tmp/nb && xz -dc .device/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node
  export PATH="/tmp/nb:$PATH"
fi
napi=""
if [ -s .device/runtime.tar.xz ]; then
  if [ ! -d dist ] || [ ! -d node_modules ] || [ -n "${PLAST_USE_CARRIED_NODE:-}" ]; then
    tar -xJf .device/runtime.tar.xz -C "$root" dist node_modules
  fi
  mkdir -p /tmp/plast-napi && tar -xJf .device/runtime.tar.xz -C /tmp/plast-napi napi-include && napi=/tmp/plast-napi/napi-include
fi
if [ -z "$napi" ] && command -v node > /dev/null; then
  d="$(dirname "$(dirname "$(command -v node)")")/include/node"
  [ -f "$d/node_api.h" ] && napi="$d"
fi
echo "node: $(command -v node || echo none) $(node --version 2>/dev/null)"

# ---------------------------------------------------------------- build
use_prebuilt() {
  [ -s .device/prebuilt.tar.xz ] || return 1
  tar -xJf .device/prebuilt.tar.xz -C "$root" && echo "gpu-check: using the carried prebuilt binaries (sm_80/sm_90)"
}
build() {
  local gen=()
  command -v ninja > /dev/null && gen=(-G Ninja)
  local addon=()
  if [ -n "$napi" ] && command -v node > /dev/null && [ -d node_modules/node-addon-api ]; then
    addon=(-DCMAKE_JS_VERSION=gpu-check -DCMAKE_JS_INC="$napi" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$root/build/Release")
  else
    echo "gpu-check: no node / Node-API headers / node-addon-api: building the native binaries without the addon"
  fi
  cmake -S . -B build "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DPLAST_CUDA_ARCHS="${PLAST_CUDA_ARCHS:-90}" \
    -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$root/build" "${addon[@]}" || return 1
  local targets=(plast_op_tests plast_bench)
  [ ${#addon[@]} -gt 0 ] && targets+=(plast)
  cmake --build build --parallel "$(nproc)" --target "${targets[@]}"
}
export -f build use_prebuilt
export napi root
if [ $prebuilt = 1 ]; then
  s0=$SECONDS
  if use_prebuilt > "$OUT/build.log" 2>&1; then record build PASS $((SECONDS - s0)) "carried prebuilt binaries (--prebuilt)"
  else record build FAIL $((SECONDS - s0)) "--prebuilt but no .device/prebuilt.tar.xz"; fi
elif [ $rebuild = 0 ] && [ -x build/plast_op_tests ] && [ -x build/plast_bench ]; then
  record build PASS 0 "existing build/ (use --rebuild to build again)"
else
  run_phase build 300 build.log bash -c build
  if [ $PHASE_RC -eq 0 ] && ! grep -q "CUDA backend ON" "$OUT/build.log"; then
    record build FAIL $PHASE_S "CMake found no CUDA compiler: a CPU-only build (see build.log)"
  elif [ $PHASE_RC -eq 0 ]; then
    record build PASS $PHASE_S "cmake + nvcc, archs ${PLAST_CUDA_ARCHS:-90}$(grep -q 'wgmma kernels ON' "$OUT/build.log" && echo ' + sm_90a')"
  else
    why="$( [ $PHASE_RC -eq 124 ] && echo 'timed out' || echo "exit $PHASE_RC")"
    if use_prebuilt >> "$OUT/build.log" 2>&1; then record build FAIL $PHASE_S "$why; continuing with the carried prebuilt binaries"
    else record build FAIL $PHASE_S "$why; see build.log"; fi
  fi
fi
[ -f "$OUT/build.log" ] && grep -E "error:|Error [0-9]|FAILED:" "$OUT/build.log" | head -5

# ---------------------------------------------------------------- tests
cuda_skipped=0
if [ $tests = 1 ]; then
  if [ -x build/plast_op_tests ]; then
    seed="${PLAST_TEST_SEED:-$RANDOM$RANDOM}"
    # PLAST_CUDA_SYNC=1: each launch is synchronised, so a device fault names the op that caused it.
    PLAST_CUDA_SYNC=1 run_phase "op tests" "${PLAST_TEST_TIMEOUT:-200}" op_tests.log build/plast_op_tests --seed "$seed" --verbose
    last="$(grep -E '^plast_op_tests:' "$OUT/op_tests.log" | tail -1)"
    if grep -q "CUDA backend vs CPU reference: skipped" "$OUT/op_tests.log"; then
      cuda_skipped=1
      record "op tests" SKIP $PHASE_S "CUDA part skipped: $(grep -o 'skipped: .*' "$OUT/op_tests.log" | head -1 | cut -c10-120)"
    elif [ $PHASE_RC -eq 0 ]; then record "op tests" PASS $PHASE_S "${last#plast_op_tests: } (seed $seed)"
    elif [ $PHASE_RC -eq 200 ]; then record "op tests" FAIL 0 "not run: no time left"
    elif [ $PHASE_RC -eq 124 ]; then record "op tests" FAIL $PHASE_S "timed out; see op_tests.log"
    else record "op tests" FAIL $PHASE_S "${last:-exit $PHASE_RC} (seed $seed); failures: $(grep -c FAIL "$OUT/op_tests.log")"
    fi
    grep -E "FAIL" "$OUT/op_tests.log" | head -20
  else
    record "op tests" FAIL 0 "build/plast_op_tests missing"
  fi

  if command -v node > /dev/null && [ -f dist/test/cuda/model-cuda.test.js ] && [ -f build/Release/plast.node ]; then
    run_phase "model tests" 150 model_tests.log bash -c \
      "node node_modules/uvu/bin.js dist/test/cuda 'model-cuda\\.test\\.js\$' && node node_modules/uvu/bin.js dist/test/unit 'bench-ops\\.test\\.js\$'"
    sed -i 's/\x1b\[[0-9;]*m//g' "$OUT/model_tests.log"
    totals="$(grep -E '^  (Total|Passed|Skipped):' "$OUT/model_tests.log" | head -3 | tr -s ' ' | tr '\n' ' ')"
    if grep -q "SKIPPED" "$OUT/model_tests.log"; then
      cuda_skipped=1
      record "model tests" SKIP $PHASE_S "$(grep -m1 '^  skip:' "$OUT/model_tests.log" | cut -c3-140)"
    elif [ $PHASE_RC -eq 0 ]; then record "model tests" PASS $PHASE_S "$totals"
    elif [ $PHASE_RC -eq 200 ]; then record "model tests" FAIL 0 "not run: no time left"
    else record "model tests" FAIL $PHASE_S "$( [ $PHASE_RC -eq 124 ] && echo 'timed out; ')$totals; see model_tests.log"
    fi
    grep -E "^    FAIL|✘|AssertionError|Error:" "$OUT/model_tests.log" | head -20
  else
    record "model tests" FAIL 0 "needs node, dist/ and build/Release/plast.node (run pack-device.sh here; see build.log)"
  fi

  if command -v node > /dev/null && [ -f build/Release/plast.node ]; then
    run_phase "plast bench --op" 90 cli_bench.log node dist/src/cli/main.js bench --op ffn --variants all --quick
    if grep -q "ERR_NO_DEVICE" "$OUT/cli_bench.log"; then
      record "plast bench --op" SKIP $PHASE_S "ERR_NO_DEVICE (exit $PHASE_RC), as expected without a device"
    elif [ $PHASE_RC -eq 0 ]; then record "plast bench --op" PASS $PHASE_S "$(tail -1 "$OUT/cli_bench.log" | cut -c1-150)"
    else record "plast bench --op" FAIL $PHASE_S "exit $PHASE_RC: $(tail -1 "$OUT/cli_bench.log" | cut -c1-150)"
    fi
  fi
fi

# ---------------------------------------------------------------- benchmark
if [ $bench = 1 ]; then
  bargs=()
  note=""
  if [ $quick = 1 ]; then bargs+=(--quick); note="quick shapes (--quick)"
  elif [ "$(left)" -lt "${PLAST_FULL_BENCH_MIN:-240}" ]; then bargs+=(--quick); note="quick shapes: only $(left) s left"
  fi
  run_phase benchmark 400 bench.log bash "$here/bench-gpu.sh" "${bargs[@]}"
  if grep -q "^plast_bench: skipped" "$OUT/bench.log"; then
    cuda_skipped=1
    record benchmark SKIP $PHASE_S "$(grep -m1 '^plast_bench: skipped' "$OUT/bench.log" | cut -c1-150)"
  elif [ $PHASE_RC -eq 0 ]; then
    record benchmark PASS $PHASE_S "$(grep -m1 '^targets met' "$OUT/bench_table.txt" 2>/dev/null) ${note}"
  elif [ $PHASE_RC -eq 200 ]; then record benchmark FAIL 0 "not run: no time left"
  else
    record benchmark FAIL $PHASE_S "$( [ $PHASE_RC -eq 124 ] && echo 'timed out; ')$(grep -m1 'plast_bench: [0-9]* rows' "$OUT/bench.log") ${note}; see bench.log"
  fi
fi
if [ $profile = 1 ]; then
  run_phase profile 200 profile.log bash "$here/profile-gpu.sh"
  record profile "$( [ $PHASE_RC -eq 0 ] && echo PASS || echo FAIL)" $PHASE_S "ncu.txt"
fi

# ---------------------------------------------------------------- summary (printed last)
echo
echo "================================ gpu-check summary ================================"
echo "device: ${gpu_name:-unknown} | $(grep '^python3:' "$OUT/gpu.txt" | cut -c10-) | $((SECONDS - start)) s of a ${BUDGET} s budget"
printf "%-17s %-5s %5s  %s\n" phase status secs detail
bad=0
for row in "${STATUS[@]}"; do
  IFS='|' read -r p s t d <<< "$row"
  printf "%-17s %-5s %5s  %s\n" "$p" "$s" "$t" "$d"
  [ "$s" = PASS ] || bad=1
done
if [ -s "$OUT/bench_table.txt" ]; then
  echo
  cat "$OUT/bench_table.txt"
fi
[ $cuda_skipped = 1 ] && echo "NOTE: no usable CUDA device here, so nothing was checked on a GPU."
echo "logs: $OUT (gpu.txt build.log op_tests.log model_tests.log cli_bench.log bench.log bench_ours.* bench_torch.* bench_table.txt bench_summary.json)"
exit $bad
