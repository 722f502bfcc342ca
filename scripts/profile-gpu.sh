#!/usr/bin/env bash
# Nsight Compute summaries of the default kernels (plast_bench --once: one launch each) at the
# quick benchmark shapes: speed of light, occupancy, launch statistics, warp stall reasons.
# Clocks are left as they are (--clock-control none). Writes $OUT/ncu.txt, prints key lines.
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
stalls=(--metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio")
{
  echo "######## attention (flash forward + backward), B=1 H=32 T=2048 D=128"
  ncu --clock-control none -k regex:"flash" --launch-count 2 "${sections[@]}" "${stalls[@]}" \
    "$bin" --quick --once --only attention
  echo "######## GEMMs (FFN up-projection, down projection), 2048x4096x11008"
  ncu --clock-control none -k regex:"emmKernel" --launch-count 2 "${sections[@]}" "${stalls[@]}" \
    "$bin" --quick --once --only ffn
} > "$OUT/ncu.txt" 2>&1
grep -E "^  [a-zA-Z]|Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Executed Ipc Active|Local Memory Spilling Requests|SM Active Cycles|Elapsed Cycles|issue_stalled|ERROR" "$OUT/ncu.txt" \
  | awk '!/issue_stalled/ || $NF+0 >= 0.05' | head -120
