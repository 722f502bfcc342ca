#!/usr/bin/env bash
# The native op tests (the contract, the CPU reference against float64, and the parity harness
# run against the CPU itself) under AddressSanitizer + UndefinedBehaviorSanitizer, in a CPU-only
# build of its own (build-sanitize/). Any report fails the run. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${PLAST_SANITIZE_DIR:-build-sanitize}"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$dir" "${gen[@]}" -DPLAST_CUDA=OFF -DPLAST_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --target plast_op_tests --parallel "$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$dir/plast_op_tests"
"$dir/plast_op_tests" --self-check
echo "sanitize: op tests clean under ASan + UBSan"
