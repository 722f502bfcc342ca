#!/usr/bin/env bash
# Nsight Compute summaries of the main kernels at the quick benchmark shapes: speed of light,
# occupancy, launch statistics, warp stall reasons. Clocks are left as they are (--clock-control
# none). Writes $OUT/ncu.txt and prints the key lines.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
OUT="${OUT:-/tmp/plast-profile}"
mkdir -p "$OUT"
bin=""
for d in "${PLAST_BIN_DIR:-}" "$here" "$root/build-cuda" "$root/build/Release" "$root/build"; do
  if [ -n "$d" ] && [ -x "$d/plast_bench" ]; then bin="$d/plast_bench"; break; fi
done
[ -n "$bin" ] || { echo "profile-gpu: plast_bench not found"; exit 1; }
command -v ncu > /dev/null || { echo "profile-gpu: ncu not found"; exit 1; }
sections=(--section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats
          --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis)
{
  echo "######## attention (flash forward, flash backward) at B=1 H=32 T=2048 D=128"
  ncu --clock-control none -k regex:"flashFwdKernel|flashBwdKernel" --launch-count 2 "${sections[@]}" \
    "$bin" --quick --only attention
  echo "######## GEMMs: the FFN up-projection and the down projection (auto variants) at 2048x4096x11008"
  ncu --clock-control none -k regex:"gemmKernel|wgmmaGemmKernel" --launch-count 2 "${sections[@]}" \
    "$bin" --quick --only ffn
} > "$OUT/ncu.txt" 2>&1
grep -E "^  [a-zA-Z]|Kernel|Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Stall|Executed Ipc Active|Issue Slots Busy|Warp Cycles Per Issued|L1/TEX Hit|Shared Memory|Block Limit|Dynamic Shared|One or More|Est" "$OUT/ncu.txt" \
  | grep -vE "^\s*$" | head -150
