// `plast bench --op`: argument checks, the variant registry seen from TS, the row format (a variant
// that fails its check shows FAIL and no time), and without a CUDA device ERR_NO_DEVICE / exit 1.
// The timings themselves need a GPU (scripts/gpu-check.sh).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BENCH_OPS, KERNEL_OP, formatRow, parseBenchOp, requireCudaDevice, resolveVariants } from '../../src/bench/ops';
import { addon, listBackends } from '../../src/native';
import { plastCli, rejects } from '../helpers';

const cuda = listBackends().find((b) => b.name === 'cuda');
const hasDevice = cuda?.available === true;

// The environment as it is: progress lines are not turned off.
const plast = plastCli({ env: process.env });

test('parseBenchOp accepts the four ops and names them when rejecting', async () => {
  for (const op of BENCH_OPS) assert.is(parseBenchOp(op), op);
  await rejects(() => parseBenchOp('gemm'), 'ERR_INVALID', /one of ffn, linear, attn, attn-bwd but received "gemm"/);
});

test('the variant registry: every bench op has "auto" first; unknown names are listed', async () => {
  if (!addon().cudaCompiled) {
    await rejects(() => addon().kernelVariants(), 'ERR_NO_DEVICE', /no CUDA backend/);
    return;
  }
  for (const op of BENCH_OPS) {
    const all = resolveVariants(op, ['all']);
    assert.ok(all.length >= 2, `${op}: ${all.length} variants`);
    assert.is(all[0]!.name, 'auto');
    assert.ok(all.every((v) => v.op === KERNEL_OP[op]));
    assert.equal(resolveVariants(op, []).map((v) => v.name), all.map((v) => v.name));
  }
  assert.equal(resolveVariants('ffn', ['unfused', 'auto']).map((v) => v.name), ['unfused', 'auto']);
  await rejects(() => resolveVariants('attn', ['nope']), 'ERR_INVALID', /attention variants \(auto, .*\) but received "nope"/);
});

test('a variant that fails its check is reported with FAIL and not timed', () => {
  const base = { bench: 'ffn+count', variant: 'x', shape: '1x2x3', checked: true, err: 0.5, ms: 0, tflops: 0, peakMiB: 0 };
  const bad = formatRow({ ...base, ok: false, timed: false, note: 'not timed: failed the CPU check' });
  assert.match(bad, /FAIL \(5\.0e-1\)\s+-\s+-\s+not timed/);
  const good = formatRow({ ...base, ok: true, timed: true, err: 1e-3, ms: 3.25, tflops: 512.3, note: '' });
  assert.match(good, /ok\s+\(1\.0e-3\)\s+3\.250\s+512\.3/);
});

test('without a CUDA device: ERR_NO_DEVICE from the check, exit 1 from the CLI, the reason printed', async () => {
  if (hasDevice) {
    console.log(`  (a CUDA device is present: ${cuda?.device}; the no-device path is not exercised)`);
    assert.ok(requireCudaDevice().length > 0);
    return;
  }
  await rejects(() => requireCudaDevice(), 'ERR_NO_DEVICE', /no CUDA device is available/);
  const r = plast('bench', '--op', 'ffn', '--variants', 'all');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /plast: error \[ERR_NO_DEVICE\]: no CUDA device is available, so the kernel benchmark cannot run \(.+\)/);
  assert.is(r.stdout, '');
});

test('bad bench arguments exit 2', () => {
  assert.is(plast('bench', '--op', 'conv').status, 2);
  assert.is(plast('bench', '--variants', 'all').status, 2);
});

test.run();
