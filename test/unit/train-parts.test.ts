// Pure parts of training: the HF schedule against the lrs torch recorded in the fixtures, seeded
// data order, micro-batching, layer lists, and the loss-curve SVG (the safetensors writer and the
// bf16/f16 encodings: safetensors.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { microBatches } from '../../src/train/batching';
import { layersFromProfile, parseLayerList } from '../../src/train/layers';
import { Mulberry32, epochOrder, mixSeed } from '../../src/train/rng';
import { cosineWithWarmup, warmupSteps } from '../../src/train/schedule';
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

test('loss curve: an SVG with a path per series, non-finite losses left out', () => {
  const svg = lossCurveSvg([3, 2.5, NaN, 2, 1.5]);
  assert.ok(svg.startsWith('<svg'));
  assert.is((svg.match(/<path /g) ?? []).length, 2);
  assert.not.ok(svg.includes('NaN'));
});

test.run();
