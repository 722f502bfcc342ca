// Pure parts of training: the HF schedule against the lrs torch recorded in the fixtures, seeded
// data order, micro-batching, layer lists, and the loss curve (SVG + PNG).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { microBatches } from '../../src/model/batching';
import { layersFromProfile, parseLayerList } from '../../src/train/layers';
import { Mulberry32, epochOrder, mixSeed } from '../../src/train/rng';
import { cosineWithWarmup, warmupSteps } from '../../src/train/schedule';
import { lossChart, writeLossPlot } from '../../src/train/loss-plot';
import { fixture, rejects } from '../helpers';

test('schedule: reproduces the HF get_cosine_schedule_with_warmup lrs recorded in every fixture (warmup 2, total 10)', () => {
  for (const name of ['llama', 'mistral', 'qwen2', 'qwen2-hd64', 'mistral-hd128']) {
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

test('loss curve: loss.svg + loss.png through the shared chart module; both series drawn, non-finite losses left out, epoch rule', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plast-loss-'));
  try {
    const losses = [3, 2.5, NaN, 2, Infinity, 1.5, 1.4, 1.2];
    const c = lossChart(losses, { stepsPerEpoch: 4 });
    assert.equal(c.series[0]!.points.map((p) => p.x), [1, 2, 4, 6, 7, 8]);
    assert.equal(c.series[1]!.points.map((p) => p.x), [1, 2, 4, 6, 7, 8]);
    assert.ok(Math.abs(c.series[1]!.points[1]!.y - (3 + 0.3 * (2.5 - 3))) < 1e-12, 'EMA');
    assert.equal(c.markers!.map((m) => [m.value, m.label]), [[4.5, 'epoch 2']]);
    const r = await writeLossPlot(join(dir, 'loss'), losses, { stepsPerEpoch: 4 });
    assert.equal(r, { svg: join(dir, 'loss.svg'), png: join(dir, 'loss.png') });
    const svg = readFileSync(r!.svg, 'utf8');
    assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
    assert.ok(svg.includes('PLAST training loss'));
    assert.ok(svg.includes('Symbol legend for fill color, stroke color and strokeDash with 2 values: loss, EMA (α = 0.3)'), 'one legend of both series, colour and dash');
    // every finite point of the raw series is a mark (vega's aria labels), no non-finite one
    const rawMarks = [...svg.matchAll(/aria-label="x: (\d+); y: ([^;]+); s: loss;/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.equal([...new Map(rawMarks.map((p) => [p[0], p])).values()], [[1, 3], [2, 2.5], [4, 2], [6, 1.5], [7, 1.4], [8, 1.2]]);
    assert.ok((svg.match(/class="mark-line role-mark/g) ?? []).length >= 2, 'a line mark per series group');
    assert.not.ok(/NaN|Infinity/.test(svg));
    const png = readFileSync(r!.png);
    assert.ok(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature');
    assert.ok(png.length > 10_000, `PNG of ${png.length} bytes`);
    // nothing finite to draw: no files
    assert.is(await writeLossPlot(join(dir, 'none'), [NaN]), null);
    assert.not.ok(existsSync(join(dir, 'none.svg')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
