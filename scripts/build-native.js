#!/usr/bin/env node
// Builds the native addon with cmake-js (run by `npm install`). CUDA is compiled in when CMake
// finds nvcc; if that build fails, the CPU-only build is tried next and the reason is printed.
'use strict';
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const jobs = String(Math.max(1, os.cpus().length));

function build(extra) {
  const args = [cmakeJs, 'compile', '--parallel', jobs, ...extra];
  console.log(`[plast] node ${args.slice(1).join(' ')}`);
  return spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status === 0;
}

if (process.env.PLAST_SKIP_NATIVE_BUILD) {
  console.log('[plast] PLAST_SKIP_NATIVE_BUILD is set: not building the native addon');
  process.exit(0);
}
const extra = [];
if (process.env.PLAST_CUDA === '0') extra.push('--CDPLAST_CUDA=OFF');
if (process.env.PLAST_CUDA_ARCHS) extra.push(`--CDPLAST_CUDA_ARCHS=${process.env.PLAST_CUDA_ARCHS}`);
if (build(extra)) process.exit(0);
if (!extra.includes('--CDPLAST_CUDA=OFF')) {
  console.warn('[plast] the build with CUDA failed; trying a CPU-only build (set PLAST_CUDA=0 to skip CUDA)');
  if (build(['--CDPLAST_CUDA=OFF'])) process.exit(0);
}
console.error('[plast] the native build failed; see the compiler output above');
process.exit(1);
