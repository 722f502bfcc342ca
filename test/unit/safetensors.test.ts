// The one safetensors writer (src/model/safetensors.ts) every output goes through: streamed in
// header order, 8-byte aligned data, atomic (temp file + rename; a failure leaves no file and no
// temp behind, and an old file untouched); and the f32 -> bf16/f16 encodings the export uses.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SafetensorsWriter,
  bytesOf,
  f32ToBf16,
  f32ToF16,
  readSafetensorsHeader,
  safetensorsHeader,
  writeSafetensors,
  writeSafetensorsStreamed,
} from '../../src/model/safetensors';
import { rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-st-'));

function tensorValues(file: string, name: string): number[] {
  const h = readSafetensorsHeader(file);
  const t = h.tensors.get(name)!;
  const buf = readFileSync(file);
  const bytes = buf.buffer.slice(buf.byteOffset + t.begin, buf.byteOffset + t.end);
  return Array.from(t.dtype === 'I32' ? new Int32Array(bytes) : t.dtype === 'I64' ? Array.from(new BigInt64Array(bytes), Number) : new Float32Array(bytes));
}

test('bf16/f16: round to nearest even, NaN kept, overflow to inf', () => {
  const x = new Float32Array([1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -9, 1 + 2 ** -9, 3.4e38, NaN, 0, -0, 65520, 6e-8, 1 + 2 ** -11]);
  const b = f32ToBf16(x);
  assert.is(b[0], 0x3f80);
  assert.is(b[1], 0xc020);
  assert.is(b[2], 0x3f80); // 1 + 2^-8 is a tie -> even (1.0)
  assert.is(b[3], 0x3f81); // 1 + 0.75 ulp -> up
  assert.is(b[4], 0x3f80); // a quarter ulp -> down
  assert.is(b[5], 0x7f80); // rounds past the largest bf16 -> inf
  assert.ok((b[6]! & 0x7f80) === 0x7f80 && (b[6]! & 0x7f) !== 0, 'NaN stays NaN');
  assert.is(b[8], 0x8000);
  assert.is(f32ToBf16(new Float32Array([1 + 3 * 2 ** -8]))[0], 0x3f82); // 1.5 ulp: a tie -> even
  const h = f32ToF16(x);
  assert.is(h[0], 0x3c00);
  assert.is(h[1], 0xc100);
  assert.is(h[9], 0x7c00); // 65520 rounds to inf in f16
  assert.is(h[10], 0x0001); // 6e-8 -> the smallest subnormal
  assert.is(h[11], 0x3c00); // 1 + 2^-11 is a tie -> even
});

test('writer: streamed file reads back with our reader, in order, 8-byte aligned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plast-st-'));
  try {
    const p = join(dir, 'a.safetensors');
    const w = new SafetensorsWriter(p, [{ name: 'x', dtype: 'F32', shape: [2, 3] }, { name: 'o', dtype: 'I32', shape: [4] }], { k: 'v' });
    await rejects(() => w.write('o', new Uint8Array(16)), 'ERR_INTERNAL', /expected tensor 'x'/);
    w.write('x', bytesOf(new Float32Array([1, 2, 3, 4, 5, 6])));
    w.write('o', bytesOf(new Int32Array([9, 8, 7, 6])));
    w.close();
    const h = readSafetensorsHeader(p);
    assert.is(h.dataStart % 8, 0);
    assert.equal(h.metadata, { k: 'v' });
    const buf = readFileSync(p);
    const x = h.tensors.get('x')!;
    assert.equal(Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset + x.begin, buf.byteOffset + x.end))), [1, 2, 3, 4, 5, 6]);
    const o = h.tensors.get('o')!;
    assert.equal(Array.from(new Int32Array(buf.buffer.slice(buf.byteOffset + o.begin, buf.byteOffset + o.end))), [9, 8, 7, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writer: the data starts 8-byte aligned for every header length', () => {
  for (let n = 1; n <= 9; n++) {
    const h = safetensorsHeader([{ name: 'x'.repeat(n), dtype: 'U8', shape: [3] }], n % 2 ? { note: 'y'.repeat(n) } : undefined);
    assert.is(h.length % 8, 0, `name length ${n}`);
    assert.is(Number(h.readBigUInt64LE(0)), h.length - 8);
  }
});

test('writer: atomic: nothing at the path until close; abort and an incomplete close leave no file and no temp; an old file survives a failed rewrite', async () => {
  const dir = join(tmp, 'atomic');
  const p = join(dir, 'b.safetensors'); // the directory is created on demand
  const specs = [{ name: 'a', dtype: 'F32' as const, shape: [2] }, { name: 'b', dtype: 'F32' as const, shape: [1] }];
  const w = new SafetensorsWriter(p, specs);
  w.write('a', bytesOf(new Float32Array([1, 2])));
  assert.not.ok(existsSync(p), 'no file under the final name before close');
  w.abort();
  assert.equal(readdirSync(dir), [], 'abort removes the temp file');

  writeSafetensors(p, [{ name: 'a', dtype: 'F32', shape: [2], data: bytesOf(new Float32Array([5, 6])) }]);
  const before = readFileSync(p);
  const w2 = new SafetensorsWriter(p, specs);
  w2.write('a', bytesOf(new Float32Array([1, 2])));
  await rejects(() => w2.close(), 'ERR_INTERNAL', /closed after 1 of 2 tensors/);
  assert.ok(readFileSync(p).equals(before), 'the old file is untouched');
  await rejects(() => writeSafetensors(p, [{ name: 'a', dtype: 'F32', shape: [2], data: new Uint8Array(4) }]), 'ERR_SHAPE', /tensor 'a' \[2\] x F32 needs 8 bytes but received 4/);
  assert.ok(readFileSync(p).equals(before));
  let thrown: unknown;
  try {
    await writeSafetensorsStreamed(p, [{ ...specs[0]!, bytes: () => Promise.reject(new Error('backend failed')) }]);
  } catch (err) {
    thrown = err;
  }
  assert.is((thrown as Error | undefined)?.message, 'backend failed', 'the producer error comes through');
  assert.ok(readFileSync(p).equals(before));
  assert.equal(readdirSync(dir), ['b.safetensors'], 'no temp files left behind');
});

test('writer: names listed twice and the reserved __metadata__ are refused before a file is created', async () => {
  const p = join(tmp, 'dup.safetensors');
  await rejects(() => new SafetensorsWriter(p, [{ name: 'x', dtype: 'U8', shape: [1] }, { name: 'x', dtype: 'U8', shape: [1] }]), 'ERR_INVALID', /dup\.safetensors: tensor 'x' listed twice/);
  await rejects(() => new SafetensorsWriter(p, [{ name: '__metadata__', dtype: 'U8', shape: [1] }]), 'ERR_INVALID', /reserved/);
  assert.not.ok(existsSync(p));
});

test('writeSafetensorsStreamed: asks for each tensor only when it is written, in order', async () => {
  const p = join(tmp, 'lazy.safetensors');
  const asked: string[] = [];
  const mk = (name: string, v: number[]) => ({
    name,
    dtype: 'I32' as const,
    shape: [v.length],
    bytes: async () => {
      asked.push(name);
      return bytesOf(Int32Array.from(v));
    },
  });
  await writeSafetensorsStreamed(p, [mk('z', [1, 2, 3]), mk('a', [4])], { format: 'pt' });
  assert.equal(asked, ['z', 'a']);
  assert.equal([...readSafetensorsHeader(p).tensors.keys()], ['z', 'a']);
  assert.equal(tensorValues(p, 'z'), [1, 2, 3]);
  assert.equal(tensorValues(p, 'a'), [4]);
  assert.equal(readSafetensorsHeader(p).metadata, { format: 'pt' });
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
