// Weights holding NaN or Inf are refused at load (ERR_FORMAT naming the file, the tensor and the
// first bad index; bf16/f16 data in the native op tests); `checkFinite: false` / PLAST_SKIP_FINITE_CHECK=1 load
// them for a trusted checkpoint. Without the check, +Inf in the embeddings profiled as "zero
// activated neurons everywhere" and training exported NaN weights, all with exit 0.
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { ASSETS, rejects } from '../helpers';

const SRC = join(ASSETS, 'stories260K');

/** A copy of stories260K whose tensor `name` has `bits` written at flat index `index`. */
function poisoned(name: string, index: number, write: (buf: Buffer, at: number) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'plast-finite-'));
  for (const f of readdirSync(SRC)) copyFileSync(join(SRC, f), join(dir, f));
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const t = header[name];
  assert.ok(t, name);
  const size = t.dtype === 'F32' ? 4 : 2;
  write(buf, 8 + n + t.data_offsets[0] + index * size);
  writeFileSync(file, buf);
  return dir;
}

test('a NaN in an f32 weight is refused, naming the tensor and the index', async () => {
  const dir = poisoned('model.layers.0.mlp.gate_proj.weight', 1234, (b, at) => b.writeFloatLE(NaN, at));
  await rejects(Model.load(dir, { backend: 'cpu' }), 'ERR_FORMAT',
    /model\.safetensors: tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' holds a non-finite value \(NaN or Inf\) at flat index 1234 of 11008/);
});

test('+Inf in the embeddings is refused; -Inf in a norm weight too', async () => {
  await rejects(Model.load(poisoned('model.embed_tokens.weight', 0, (b, at) => b.writeFloatLE(Infinity, at)), { backend: 'cpu' }),
    'ERR_FORMAT', /'model\.embed_tokens\.weight' .* at flat index 0 /);
  await rejects(Model.load(poisoned('model.norm.weight', 63, (b, at) => b.writeFloatLE(-Infinity, at)), { backend: 'cpu' }),
    'ERR_FORMAT', /'model\.norm\.weight' .* at flat index 63 of 64/);
});

test('large finite values are not refused (only an all-ones exponent is)', async () => {
  const dir = poisoned('model.norm.weight', 5, (b, at) => b.writeFloatLE(3.0e38, at));
  const m = await Model.load(dir, { backend: 'cpu' });
  m.dispose();
});

test('checkFinite: false and PLAST_SKIP_FINITE_CHECK=1 load a trusted checkpoint as it is', async () => {
  const dir = poisoned('model.layers.1.self_attn.q_proj.weight', 7, (b, at) => b.writeFloatLE(NaN, at));
  const m = await Model.load(dir, { backend: 'cpu', checkFinite: false });
  m.dispose();
  process.env['PLAST_SKIP_FINITE_CHECK'] = '1';
  try {
    const m2 = await Model.load(dir, { backend: 'cpu' });
    m2.dispose();
    await rejects(Model.load(dir, { backend: 'cpu', checkFinite: true }), 'ERR_FORMAT', /flat index 7 /);
  } finally {
    delete process.env['PLAST_SKIP_FINITE_CHECK'];
  }
});

test.run();
