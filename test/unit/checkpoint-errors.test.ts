// Bad checkpoints: every malformed input is a typed error naming the file and the field, never a
// crash or a hang.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors';
import { ASSETS, rejects } from '../helpers';

const SRC = join(ASSETS, 'stories260K');

/** A fresh copy of stories260K whose model.safetensors is `bytes` (or a copy of the real one). */
function checkpoint(bytes?: Buffer, config?: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'plast-bad-'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(SRC, f), join(dir, f));
  const cfg = config ?? (JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Record<string, unknown>);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'model.safetensors'), bytes ?? readFileSync(join(SRC, 'model.safetensors')));
  return dir;
}

/** A safetensors file with a hand-written header and `dataBytes` of zeros. */
function rawFile(header: Record<string, unknown>, dataBytes: number, headerLenOverride?: bigint): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const b = Buffer.alloc(8 + h.length + dataBytes);
  b.writeBigUInt64LE(headerLenOverride ?? BigInt(h.length), 0);
  h.copy(b, 8);
  return b;
}

const dirs: string[] = [];
const mk = (bytes?: Buffer, config?: Record<string, unknown>): string => {
  const d = checkpoint(bytes, config);
  dirs.push(d);
  return d;
};

test('a valid copy loads (control)', async () => {
  const m = await Model.load(mk(), { backend: 'cpu' });
  assert.is(m.config.numLayers, 5);
});

test('truncated safetensors (shorter than the 8-byte length)', async () => {
  const e = await rejects(Model.load(mk(Buffer.from([1, 2, 3, 4]))), 'ERR_FORMAT', /truncated: 4 bytes/);
  assert.match(e.message, /model\.safetensors/);
});

test('truncated safetensors (data cut short)', async () => {
  const real = readFileSync(join(SRC, 'model.safetensors'));
  const e = await rejects(Model.load(mk(real.subarray(0, real.length - 100))), 'ERR_FORMAT', /lie outside the data section/);
  assert.match(e.message, /model\.safetensors: tensor '/);
});

test('header length past the end of the file', async () => {
  await rejects(Model.load(mk(rawFile({}, 0, 1000n))), 'ERR_FORMAT', /header length 1000 runs past the end of the file/);
});

test('header that is not JSON', async () => {
  const b = Buffer.alloc(8 + 5);
  b.writeBigUInt64LE(5n, 0);
  b.write('{nope', 8);
  await rejects(Model.load(mk(b)), 'ERR_FORMAT', /header is not valid JSON/);
});

test('data offsets out of range', async () => {
  const f = rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
  const e = await rejects(Model.load(mk(f)), 'ERR_FORMAT', /tensor 'a': data_offsets \[0, 16\] lie outside the data section \(8 bytes\)/);
  assert.is((e as { field?: string }).field, 'a.data_offsets');
});

test('overlapping data offsets', async () => {
  const f = rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, 24);
  await rejects(Model.load(mk(f)), 'ERR_FORMAT', /tensors 'a' and 'b' overlap/);
});

test('unknown dtype', async () => {
  const f = rawFile({ a: { dtype: 'Q4_K', shape: [4], data_offsets: [0, 16] } }, 16);
  const e = await rejects(Model.load(mk(f)), 'ERR_DTYPE', /tensor 'a' has unknown dtype "Q4_K"/);
  assert.is((e as { field?: string }).field, 'a.dtype');
});

test('shape x dtype not matching the byte range', async () => {
  const f = rawFile({ a: { dtype: 'BF16', shape: [4, 3], data_offsets: [0, 16] } }, 16);
  await rejects(Model.load(mk(f)), 'ERR_FORMAT', /shape \[4,3\] x BF16 needs 24 bytes but data_offsets \[0, 16\] hold 16/);
});

test('a supported file with an unsupported element type for a weight', async () => {
  const real = readSafetensorsHeader(join(SRC, 'model.safetensors'));
  const bytes = readFileSync(join(SRC, 'model.safetensors'));
  const tensors = [...real.tensors.values()].map((t) => ({
    name: t.name,
    dtype: t.name === 'model.norm.weight' ? ('I32' as const) : t.dtype,
    shape: t.shape,
    data: bytes.subarray(t.begin, t.end),
  }));
  const dir = mk();
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  await rejects(Model.load(dir), 'ERR_DTYPE', /tensor 'model\.norm\.weight' is I32; expected BF16, F16 or F32/);
});

test('a tensor missing from the checkpoint', async () => {
  const real = readSafetensorsHeader(join(SRC, 'model.safetensors'));
  const bytes = readFileSync(join(SRC, 'model.safetensors'));
  const tensors = [...real.tensors.values()]
    .filter((t) => t.name !== 'model.layers.3.mlp.up_proj.weight')
    .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: bytes.subarray(t.begin, t.end) }));
  const dir = mk();
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const e = await rejects(Model.load(dir), 'ERR_FORMAT', /missing from the checkpoint: model\.layers\.3\.mlp\.up_proj\.weight/);
  assert.is((e as { field?: string }).field, 'model.layers.3.mlp.up_proj.weight');
});

test('a tensor whose shape disagrees with config.json', async () => {
  const cfg = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Record<string, unknown>;
  await rejects(Model.load(mk(undefined, { ...cfg, intermediate_size: 170 })), 'ERR_SHAPE', /tensor 'model\.layers\.0\.mlp\.\w+_proj\.weight' has shape \[\d+, \d+\] but config\.json implies/);
});

test('config missing a required field', async () => {
  const cfg = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete cfg['num_hidden_layers'];
  const e = await rejects(Model.load(mk(undefined, cfg)), 'ERR_FORMAT', /config\.json: required field "num_hidden_layers" is missing/);
  assert.is((e as { field?: string }).field, 'num_hidden_layers');
});

test('config that is not JSON', async () => {
  const dir = mk();
  writeFileSync(join(dir, 'config.json'), '{"model_type": "llama",');
  await rejects(Model.load(dir), 'ERR_FORMAT', /config\.json: not valid JSON/);
});

test('unsupported architecture', async () => {
  const cfg = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Record<string, unknown>;
  const e = await rejects(Model.load(mk(undefined, { ...cfg, model_type: 'gpt2' })), 'ERR_UNSUPPORTED', /unsupported architecture "gpt2"/);
  assert.is((e as { field?: string }).field, 'model_type');
});

test('sharded index naming a missing shard', async () => {
  const dir = mk();
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': 'model-00001-of-00002.safetensors' } }));
  await rejects(Model.load(dir), 'ERR_FORMAT', /shard "model-00001-of-00002\.safetensors" listed in weight_map does not exist/);
});

test('not a directory / no weights', async () => {
  await rejects(Model.load('/nonexistent/model'), 'ERR_IO', /not a checkpoint directory/);
  const dir = mk();
  rmSync(join(dir, 'model.safetensors'));
  await rejects(Model.load(dir), 'ERR_FORMAT', /no model\.safetensors/);
});

test('token id outside the vocabulary', async () => {
  const m = await Model.load(mk(), { backend: 'cpu' });
  await rejects(m.forward([{ ids: [1, 600], logitAt: [1] }]), 'ERR_INVALID', /token id 600 at row 0, column 1 is outside the vocabulary \[0, 512\)/);
});

test('bad backend names', async () => {
  await rejects(Model.load(mk(), { backend: 'tpu' as 'cpu' }), 'ERR_INVALID', /Expected a backend of auto, cpu or cuda/);
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
