// Pure parts of training: the HF schedule against the lrs torch recorded in the fixtures, seeded
// data order, micro-batching, layer lists, bf16/f16 rounding, the streaming safetensors writer,
// and the loss-curve SVG.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensorsHeader } from '../../src/model/safetensors';
import { microBatches } from '../../src/train/batching';
import { layersFromProfile, parseLayerList } from '../../src/train/layers';
import { Mulberry32, epochOrder, mixSeed } from '../../src/train/rng';
import { cosineWithWarmup, warmupSteps } from '../../src/train/schedule';
import { SafetensorsWriter, bytesOf, f32ToBf16, f32ToF16 } from '../../src/train/st-writer';
import { lossCurveSvg } from '../../src/train/svg';
import { fixture, rejects } from '../helpers';

test('schedule: reproduces the HF get_cosine_schedule_with_warmup lrs recorded in every fixture (warmup 2, total 10)', () => {
  for (const name of ['llama', 'mistral', 'qwen2']) {
    const { meta } = fixture(name);
    const a = meta.adamw;
    assert.is(a.warmup_steps, 2);
    assert.is(a.total_steps, 10);
    const lists = [meta.steps.map((s) => s.lr), meta.optim.steps.map((s) => s.lr)];
    for (const lrs of lists) {
      assert.is(lrs.length, 10);
      lrs.forEach((want, i) => {
        const got = cosineWithWarmup(i, a.warmup_steps, a.total_steps, a.lr);
        assert.ok(Math.abs(got - want) <= 1e-15 * a.lr, `${name} step ${i}: lr ${got} vs torch ${want}`);
      });
    }
  }
});

test('schedule: warmup steps = ceil(ratio x total) as HF Trainer, and the lrs torch gives for 94 steps at 2e-5', () => {
  assert.is(warmupSteps(0.03, 94), 3);
  assert.is(warmupSteps(0.03, 100), 3);
  assert.is(warmupSteps(0.03, 200), 6);
  assert.is(warmupSteps(0.03, 10), 1);
  assert.is(warmupSteps(0, 10), 0);
  // python: get_cosine_schedule_with_warmup(SGD(lr=2e-5), 3, 94), lr before each step
  const want: [number, number][] = [[0, 0], [1, 6.666666666666667e-6], [2, 1.3333333333333333e-5], [3, 2e-5], [4, 1.9994041405510705e-5], [50, 9.482386471157905e-6], [93, 5.958594489295921e-9]];
  for (const [s, lr] of want) assert.ok(Math.abs(cosineWithWarmup(s, 3, 94, 2e-5) - lr) <= 1e-20, `step ${s}`);
  assert.is(cosineWithWarmup(5, 0, 10, 1), 0.5 * (1 + Math.cos(Math.PI * 0.5)));
});

test('rng: epoch orders are permutations, fixed by (seed, epoch), different across epochs and seeds', () => {
  const a = epochOrder(100, 7, 0);
  assert.equal([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.equal(epochOrder(100, 7, 0), a);
  assert.not.equal(epochOrder(100, 7, 1), a);
  assert.not.equal(epochOrder(100, 8, 0), a);
  // mulberry32 reference values (the published algorithm, seed 1)
  const r = new Mulberry32(1);
  assert.is(Math.round(r.next() * 4294967296), 2693262067);
  assert.ok(mixSeed(0, 0) !== mixSeed(0, 1) && mixSeed(0, 0) !== mixSeed(1, 0));
});

test('micro-batches: cover the batch once, respect the sequence and token limits, longest first', () => {
  const lens = [5, 30, 12, 7, 30, 2, 18, 9];
  const idx = [0, 1, 2, 3, 4, 5, 6, 7];
  const bySeq = microBatches(idx, (i) => lens[i]!, { microBatch: 3 });
  assert.equal(bySeq.flat().sort(), [...idx].sort());
  assert.ok(bySeq.every((g) => g.length <= 3));
  assert.equal(bySeq[0], [1, 4, 6]);
  const byTok = microBatches(idx, (i) => lens[i]!, { microTokens: 60 });
  assert.equal(byTok.flat().sort(), [...idx].sort());
  for (const g of byTok) assert.ok(g.length === 1 || g.length * Math.max(...g.map((i) => lens[i]!)) <= 60, JSON.stringify(g));
  // a sequence over the budget runs alone
  assert.equal(microBatches([0, 1], (i) => [100, 3][i]!, { microTokens: 50 }), [[0], [1]]);
});

test('layers: lists, ranges and profile.json selection.selected', async () => {
  assert.equal(parseLayerList('0-4'), [0, 1, 2, 3, 4]);
  assert.equal(parseLayerList('3,0,2'), [0, 2, 3]);
  assert.equal(parseLayerList('0-2, 5'), [0, 1, 2, 5]);
  await rejects(() => parseLayerList('4-2'), 'ERR_INVALID', /backwards/);
  await rejects(() => parseLayerList('a'), 'ERR_INVALID', /--layers/);
  const dir = mkdtempSync(join(tmpdir(), 'plast-prof-'));
  try {
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ selection: { selected: [4, 1, 2] } }));
    assert.equal(layersFromProfile(dir), [1, 2, 4]);
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ selection: { selected: ['1'] } }));
    await rejects(() => layersFromProfile(dir), 'ERR_FORMAT', /selection\.selected/);
    writeFileSync(join(dir, 'profile.json'), JSON.stringify({ selection: { selected: [] } }));
    await rejects(() => layersFromProfile(dir), 'ERR_DATA', /no layers/);
    await rejects(() => layersFromProfile(join(dir, 'nope')), 'ERR_IO');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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

test('safetensors writer: streamed file reads back with our reader, in order, 8-byte aligned', async () => {
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

test('loss curve: an SVG with a path per series, non-finite losses left out', () => {
  const svg = lossCurveSvg([3, 2.5, NaN, 2, 1.5]);
  assert.ok(svg.startsWith('<svg'));
  assert.is((svg.match(/<path /g) ?? []).length, 2);
  assert.not.ok(svg.includes('NaN'));
});

test.run();
