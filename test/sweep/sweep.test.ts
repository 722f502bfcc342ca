// `plast sweep` on the bundled model (assets/mini-ml, CPU, two optimizer steps per variant): a
// variant is exactly a plain `plast train` + `plast eval` of its layers (the same loss curve in
// train.jsonl, the same delta, the same evaluation numbers); an interrupted variant resumes to the
// uninterrupted one's numbers and a finished one is skipped; shards joined by `plast sweep merge`
// give the unsharded sweep's table. Also the variant plan itself.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { mergeSweeps } from '../../src/sweep/merge';
import { VariantResult } from '../../src/sweep/result';
import { SweepOptions, sweep } from '../../src/sweep/sweep';
import { planVariants, randomLayers, shardVariants } from '../../src/sweep/variants';
import { ASSETS, plast } from '../helpers';

const MODEL = join(ASSETS, 'mini-ml');
const TRAIN = join(ASSETS, 'data', 'ntrex128_train.jsonl');
const EVAL = join(ASSETS, 'data', 'xquad_questions_train.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'plast-sweep-'));

// One recipe for every sweep below: 8 pairs, batch 4, one epoch = 2 steps.
const base = (out: string, o: Partial<SweepOptions> = {}): SweepOptions => ({
  model: MODEL,
  data: TRAIN,
  evalData: EVAL,
  out,
  recipe: { langs: ['ar', 'tr', 'ru', 'zh'], limit: 8, batch: 4, epochs: 1, lr: 1e-3 },
  evalLangs: ['ar', 'zh'],
  evalLimit: 3,
  all: false,
  base: false,
  backend: 'cpu',
  progress: false,
  ...o,
});

/** A result without what depends on the machine and the moment. */
const numbers = (r: VariantResult): Omit<VariantResult, 'seconds' | 'trainSeconds' | 'evalSeconds' | 'peakBytes'> => {
  const { seconds: _s, trainSeconds: _t, evalSeconds: _e, peakBytes: _p, ...rest } = r;
  return rest;
};

/** train.jsonl's steps without their timings. */
function steps(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r['type'] === 'step')
    .map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);
}

test('the variant plan: names, layers, random sets, shards', () => {
  const vs = planVariants({ numLayers: 8, firstK: [1, 2, 3], randomSeeds: [0, 1], selection: [1, 3] });
  assert.equal(vs.map((v) => v.name), ['base', 'first-1', 'first-2', 'first-3', 'random-2-s0', 'random-2-s1', 'all', 'plast', 'plast-attn', 'plast-mlp']);
  assert.equal(vs.find((v) => v.name === 'first-3')!.layers, [0, 1, 2]);
  assert.equal(vs.find((v) => v.name === 'all')!.layers, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(vs.find((v) => v.name === 'plast-mlp')!, { name: 'plast-mlp', kind: 'plast-mlp', layers: [1, 3], modules: 'mlp' });
  const r0 = vs.find((v) => v.name === 'random-2-s0')!.layers;
  assert.equal(r0, randomLayers(8, 2, 0));
  assert.is(new Set(r0).size, 2);
  assert.not.equal(r0, vs.find((v) => v.name === 'random-2-s1')!.layers);
  // Without a selection the random sets have the largest K's size.
  assert.is(planVariants({ numLayers: 8, firstK: [1, 3], randomSeeds: [5] }).find((v) => v.kind === 'random')!.layers.length, 3);
  // Shards partition the list.
  const names = [0, 1, 2].flatMap((i) => shardVariants(vs, { index: i, count: 3 }).map((v) => v.name)).sort();
  assert.equal(names, vs.map((v) => v.name).sort());
  assert.throws(() => planVariants({ numLayers: 8, firstK: [9] }), /\[1, 8\]/);
});

test('each variant measures its own peak: NativeModel.memory(true) restarts the backend peak', async () => {
  const m = await Model.load(MODEL, { backend: 'cpu' });
  try {
    await m.setTrainable(m.layerTensorNames(0));
    const ids = m.tokenizer.encode('How many points did the Panthers defense surrender?');
    await m.forwardBackward([{ ids, logitAt: [1, 2, 3], labels: [ids[2]!, ids[3]!, ids[4]!] }], 1);
    await m.setTrainable([]);
    const before = m.native.memory(true);
    assert.ok(before.peak > before.inUse, `the step's activations raised the peak (${before.peak} > ${before.inUse})`);
    assert.equal(m.memory(), { inUse: before.inUse, peak: before.inUse });
  } finally {
    m.dispose();
  }
});

let first2: VariantResult;

test('a variant is a plain plast train + plast eval of its layers, bit for bit', async () => {
  const out = join(tmp, 'one');
  const r = await sweep(base(out, { firstK: [2] }));
  assert.is(r.status, 'completed');
  assert.equal(r.ran, ['first-2']);
  first2 = r.results[0]!;
  const vdir = join(out, 'variants', 'first-2');
  assert.ok(!existsSync(join(vdir, 'model')), 'the export is removed once evaluated');
  const plain = join(tmp, 'plain');
  const t = plast('train', '--model', MODEL, '--data', TRAIN, '--langs', 'ar,tr,ru,zh', '--limit', '8', '--batch', '4', '--epochs', '1', '--lr', '1e-3', '--layers', '0-1', '--backend', 'cpu', '--out', plain);
  assert.is(t.status, 0, t.stderr);
  const sweepSteps = steps(vdir);
  assert.is(sweepSteps.length, 2);
  assert.equal(sweepSteps, steps(plain), 'the same steps: losses, lr, grad norms, tokens');
  assert.ok(Buffer.compare(readFileSync(join(vdir, 'delta.safetensors')), readFileSync(join(plain, 'delta.safetensors'))) === 0, 'the same tuned tensors');
  const e = plast('eval', '--model', join(plain, 'model'), '--data', EVAL, '--langs', 'ar,zh', '--limit', '3', '--backend', 'cpu', '--json');
  assert.is(e.status, 0, e.stderr);
  const rep = JSON.parse(e.stdout) as { nll: { perLang: Record<string, { nll: number }>; macro: number } };
  assert.equal(first2.scores, { ar: rep.nll.perLang['ar']!.nll, zh: rep.nll.perLang['zh']!.nll });
  assert.is(first2.average, rep.nll.macro);
  assert.is(first2.metric, 'NLL');
  const summary = JSON.parse(readFileSync(join(plain, 'summary.json'), 'utf8')) as { finalLoss: number; trainableParams: number };
  assert.is(first2.finalLoss, summary.finalLoss);
  assert.is(first2.trainableParams, summary.trainableParams);
  assert.ok(Math.abs(first2.trainablePercent - (100 * summary.trainableParams) / first2.totalParams) < 1e-12);
  for (const f of ['sweep.md', 'results.json', 'sweep.svg', 'sweep.png']) assert.ok(existsSync(join(out, f)), f);
  assert.match(readFileSync(join(out, 'sweep.md'), 'utf8'), /\| first-2 \| 0-1 \|/);
});

let full: VariantResult[];
const resumed = join(tmp, 'resumed');

test('an interrupted variant resumes to the uninterrupted numbers; finished variants are skipped', async () => {
  const logs: string[] = [];
  const stopped = await sweep(base(resumed, { base: true, firstK: [2, 3], stopAfter: 1, saveEvery: 1, log: (m) => logs.push(m) }));
  assert.is(stopped.status, 'stopped');
  assert.equal(stopped.results.map((r) => r.name), ['base']);
  assert.ok(existsSync(join(resumed, 'variants', 'first-2', 'checkpoint-000001')));
  const again = await sweep(base(resumed, { base: true, firstK: [2, 3], log: (m) => logs.push(m) }));
  assert.is(again.status, 'completed');
  assert.equal(again.skipped, ['base']);
  assert.equal(again.ran, ['first-2', 'first-3']);
  assert.ok(logs.some((l) => /first-2: resuming its training/.test(l)), logs.join('\n'));
  const f2 = again.results.find((r) => r.name === 'first-2')!;
  assert.equal(numbers(f2), numbers(first2), 'the resumed variant equals the uninterrupted one');
  assert.equal(steps(join(resumed, 'variants', 'first-2')), steps(join(tmp, 'one', 'variants', 'first-2')));
  const mtime = statSync(join(resumed, 'variants', 'first-3', 'result.json')).mtimeMs;
  const third = await sweep(base(resumed, { base: true, firstK: [2, 3] }));
  assert.equal(third.ran, []);
  assert.equal(third.skipped, ['base', 'first-2', 'first-3']);
  assert.is(statSync(join(resumed, 'variants', 'first-3', 'result.json')).mtimeMs, mtime);
  full = third.results;
  // Without vlmeval nothing new is recorded: a sweep.json written before vlmeval stays resumable.
  const settings = (JSON.parse(readFileSync(join(resumed, 'sweep.json'), 'utf8')) as { settings: Record<string, Record<string, unknown>> }).settings;
  assert.equal(Object.keys(settings['eval']!), ['data', 'langs', 'limit']);
  assert.not.ok('vision' in settings);
  // Other settings in the same directory are refused.
  try {
    await sweep(base(resumed, { base: true, firstK: [2, 3], recipe: { langs: ['ar', 'tr', 'ru', 'zh'], limit: 8, batch: 4, epochs: 1, lr: 2e-3 } }));
    assert.unreachable('a changed recipe must be refused');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'ERR_MISMATCH');
  }
});

test('shards joined by plast sweep merge equal the unsharded sweep', async () => {
  const s0 = join(tmp, 's0');
  const s1 = join(tmp, 's1');
  const a = await sweep(base(s0, { base: true, firstK: [2, 3], shard: { index: 0, count: 2 } }));
  assert.equal(a.ran, ['base', 'first-3']);
  const cli = plast('sweep', '--model', MODEL, '--data', TRAIN, '--eval-data', EVAL, '--langs', 'ar,tr,ru,zh', '--limit', '8', '--batch', '4', '--epochs', '1', '--lr', '1e-3',
    '--eval-langs', 'ar,zh', '--eval-limit', '3', '--k', '2,3', '--no-all', '--shard', '1/2', '--backend', 'cpu', '--out', s1);
  assert.is(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /1 of 3 variants done/);
  // The same shard twice, or a shard with the unsharded sweep, is refused.
  try {
    await mergeSweeps(join(tmp, 'bad'), [s0, s0]);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code?: string }).code, 'ERR_MISMATCH');
  }
  const bad = plast('sweep', 'merge', join(tmp, 'bad2'), s1, resumed);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /ERR_MISMATCH/);
  const merged = join(tmp, 'merged');
  const m = plast('sweep', 'merge', merged, s0, s1);
  assert.is(m.status, 0, m.stderr);
  const got = JSON.parse(readFileSync(join(merged, 'results.json'), 'utf8')) as { results: VariantResult[]; shard: unknown };
  assert.is(got.shard, null);
  assert.equal(got.results.map(numbers), full.map(numbers));
  assert.equal(steps(join(merged, 'variants', 'first-2')), steps(join(resumed, 'variants', 'first-2')));
  const md = readFileSync(join(merged, 'sweep.md'), 'utf8');
  assert.match(md, /3 of 3 variants finished/);
  // The merged directory is a finished sweep: the same command skips everything.
  const rerun = await sweep(base(merged, { base: true, firstK: [2, 3] }));
  assert.equal(rerun.ran, []);
});

test.run();
