#!/usr/bin/env node
// `npm test`: the native op tests (every op on every available backend against the CPU
// reference), the benchmark harness check, then every uvu suite under dist/test. Exits non-zero
// if anything fails.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
let failed = false;

const opTests = ['build/Release/plast_op_tests', 'build/plast_op_tests'].map((p) => path.join(root, p)).find(existsSync);
if (opTests) {
  console.log(`\n== native op tests (${path.relative(root, opTests)})`);
  const r = spawnSync(opTests, [], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
} else {
  console.log('\n== native op tests: binary not built (cmake target plast_op_tests); run `npm run build:native`');
  failed = true;
}

// The benchmark's model workloads (plast_bench, CUDA builds only) at a tiny shape on the CPU:
// checks the harness (batches, labels, trainable names, sanity checks) without a GPU.
const bench = ['build/Release/plast_bench', 'build/plast_bench'].map((p) => path.join(root, p)).find(existsSync);
if (bench) {
  console.log(`\n== benchmark harness (${path.relative(root, bench)} --model-harness-check)`);
  const r = spawnSync(bench, ['--model-harness-check'], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}

const filter = process.argv[2] ?? '\\.test\\.js$';
console.log(`\n== uvu suites (dist/test, ${filter})`);
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const r = spawnSync(process.execPath, [uvu, path.join('dist', 'test'), filter], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PLAST_NO_PROGRESS: '1' },
});
if (r.status !== 0) failed = true;
process.exitCode = failed ? 1 : 0;
