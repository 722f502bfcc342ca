#!/usr/bin/env bash
# Packs what ONE device call of scripts/gpu-check.sh needs into .device/ (git-ignored; the device
# tool copies the working tree without ignored paths, so .device/ travels as `carry: [".device"]`,
# 64 MiB at most). The device machine has cmake, nvcc, g++, python3 + torch, but no node (GPU.md).
#   .device/node.xz          this machine's node binary (GPU.md's recipe)
#   .device/runtime.tar.xz   dist/ (compiled TypeScript), the runtime node_modules the CUDA model
#                            tests and `plast bench` load (+ node-addon-api for the build), and
#                            Node-API headers (napi-include/) so CMake can build the addon there
#   .device/prebuilt.tar.xz  this machine's build (plast.node, plast_op_tests, plast_bench for
#                            sm_80/sm_90): gpu-check.sh falls back to it if the build there fails,
#                            or uses it directly with --prebuilt (skip with --no-prebuilt)
# Run after `npm install` (or `npm run build`); it runs tsc itself.
# Usage: scripts/pack-device.sh [--no-prebuilt]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
prebuilt=1
[ "${1:-}" = "--no-prebuilt" ] && prebuilt=0
dev=.device
mkdir -p "$dev"
git check-ignore -q "$dev/x" || { echo "pack-device: $dev/ is not git-ignored; add /.device/ to .gitignore"; exit 1; }

node_bin="$(command -v node)"
if [ ! -s "$dev/node.xz" ] || [ "$node_bin" -nt "$dev/node.xz" ]; then
  echo "pack-device: node $(node --version) -> $dev/node.xz"
  xz -T2 -c "$node_bin" > "$dev/node.xz.tmp" && mv "$dev/node.xz.tmp" "$dev/node.xz"
fi

echo "pack-device: tsc"
node node_modules/typescript/bin/tsc -p tsconfig.json

# The runtime closure of the packages the CUDA tests, the unit test of `plast bench --op` and the
# CLI load (traced with a require hook), expanded through their package.json dependencies.
mods="$(node -e '
const fs = require("fs"), path = require("path");
const seeds = ["@huggingface/tokenizers", "bindings", "commander", "cli-progress", "uvu", "node-addon-api"];
const out = new Set();
const visit = (name) => {
  if (out.has(name)) return;
  const pj = path.join("node_modules", name, "package.json");
  if (!fs.existsSync(pj)) return;
  out.add(name);
  for (const d of Object.keys(JSON.parse(fs.readFileSync(pj, "utf8")).dependencies || {})) visit(d);
};
seeds.forEach(visit);
console.log([...out].sort().map((m) => "node_modules/" + m).join(" "));
')"
napi="$(dirname "$(dirname "$node_bin")")/include/node"
[ -f "$napi/node_api.h" ] || napi="$(node -p 'require("path").join(process.execPath, "..", "..", "include", "node")')"
[ -f "$napi/node_api.h" ] || { echo "pack-device: Node-API headers not found (looked in $napi)"; exit 1; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/napi-include"
for h in node_api.h node_api_types.h js_native_api.h js_native_api_types.h node_version.h; do
  [ -f "$napi/$h" ] && cp "$napi/$h" "$stage/napi-include/"
done
echo "pack-device: runtime = dist/ + $(echo "$mods" | wc -w) packages + Node-API headers"
tar -cf "$stage/runtime.tar" dist $mods
tar -rf "$stage/runtime.tar" -C "$stage" napi-include
xz -T2 -c "$stage/runtime.tar" > "$dev/runtime.tar.xz"

rm -f "$dev/prebuilt.tar.xz"
if [ $prebuilt = 1 ]; then
  files=()
  for f in build/Release/plast.node build/plast_op_tests build/plast_bench; do [ -f "$f" ] && files+=("$f"); done
  if [ ${#files[@]} -gt 0 ]; then
    tar -cf - "${files[@]}" | xz -T2 > "$dev/prebuilt.tar.xz"
    echo "pack-device: prebuilt = ${files[*]}"
  else
    echo "pack-device: no local build to add as a fallback (npm install first)"
  fi
fi
total=$(du -cb "$dev"/* | tail -1 | cut -f1)
du -h "$dev"/*
echo "pack-device: $((total / 1048576)) MiB in $dev/ (the carry limit is 64 MiB)"
[ "$total" -lt $((64 * 1048576)) ] || { echo "pack-device: too large to carry"; exit 1; }
echo "pack-device: now call the device tool with carry [\".device\"] and the command: bash scripts/gpu-check.sh"
