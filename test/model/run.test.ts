// `plast run` end to end on the bundled mini-ml with small limits: every stage's output, the
// held-out split disjoint from training by item, a second invocation that reuses every stage, a
// changed configuration refused, and a training stopped with --stop-after that continues to the
// same losses as an uninterrupted run. Also the data choice rules and the CLI.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluate } from '../../src/eval/evaluate';
import { Model } from '../../src/model/model';
import { runPlast } from '../../src/run/run';
import { RunOptions } from '../../src/run/types';
import { chooseData, dataFiles, splitPairs } from '../../src/run/data';
import { ASSETS, ROOT, rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-run-'));
const DATA = join(ASSETS, 'data');

function small(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    out: join(tmp, out),
    model: join(ASSETS, 'mini-ml'),
    data: DATA,
    langs: ['en', 'ar', 'ru', 'zh'],
    backend: 'cpu',
    profileLimit: 24,
    trainLimit: 24,
    evalPerLang: 4,
    batch: 8,
    epochs: 1,
    lr: 1e-3,
    progress: false,
    ...extra,
  };
}

const readJson = (f: string): any => JSON.parse(readFileSync(f, 'utf8'));

test('data: the profile file has every language; the split is by item, seeded and disjoint', () => {
  const files = dataFiles(DATA);
  assert.equal(files.map((f) => f.split('/').pop()), ['ntrex128_train.jsonl', 'xquad_questions_train.jsonl']);
  const q = chooseData(files, ['en', 'ar', 'zh']);
  assert.match(q.profileFile, /xquad_questions_train\.jsonl$/, 'a questions file wins when it has every language');
  const pt = chooseData(files, ['en', 'pt']);
  assert.match(pt.profileFile, /ntrex128_train\.jsonl$/);
  assert.match(pt.profileReason, /sentences, not questions: xquad_questions_train\.jsonl lacks pt/);
  const a = splitPairs(files, { langs: ['en', 'ar', 'ru'], seed: 3, trainLimit: 50, evalPerLang: 7 });
  const b = splitPairs(files, { langs: ['en', 'ar', 'ru'], seed: 3, trainLimit: 50, evalPerLang: 7 });
  assert.equal(a.train, b.train, 'same seed, same split');
  assert.is(a.train.length, 50);
  assert.equal(a.perLang['ar']!.heldout, 7);
  const item = (p: { file: string; line: number }): string => `${p.file}:${p.line}`;
  const held = new Set(a.heldout.map(item));
  assert.ok(a.train.every((p) => !held.has(item(p))), 'no training pair comes from a held-out item');
  const c = splitPairs(files, { langs: ['en', 'ar', 'ru'], seed: 4, trainLimit: 50 });
  assert.not.equal(c.train.map(item), a.train.map(item), 'another seed, another sample');
});

test('data: no file with every language -> ERR_LANG naming what each file lacks', async () => {
  // Two files that each miss one of the languages asked for.
  const dir = join(tmp, 'partial');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a_questions.jsonl'), JSON.stringify({ id: 1, en: 'Why?', ar: 'لماذا؟' }) + '\n');
  writeFileSync(join(dir, 'b.jsonl'), JSON.stringify({ id: 1, eng: 'Why?', por: 'Porquê?' }) + '\n');
  const err = await rejects(() => chooseData(dataFiles(dir), ['en', 'ar', 'pt']), 'ERR_LANG');
  assert.match(err.message, /a_questions\.jsonl: lacks pt/);
  assert.match(err.message, /b\.jsonl: lacks ar/);
  assert.match(err.message, /--profile-data/);
  await rejects(() => splitPairs(dataFiles(DATA), { langs: ['en'], seed: 0 }), 'ERR_LANG', /nothing to translate/);
  await rejects(() => dataFiles(join(tmp, 'nope')), 'ERR_IO');
});

let first: Awaited<ReturnType<typeof runPlast>>;

test('run: every stage, the report, before/after per language', async () => {
  const t0 = Date.now();
  const r = await runPlast(small('a'));
  first = r;
  console.log(`  run: ${((Date.now() - t0) / 1000).toFixed(1)} s; layers ${r.layers.join(',')}; loss ${r.train.firstLoss?.toFixed(4)} -> ${r.train.finalLoss?.toFixed(4)}`);
  assert.is(r.status, 'completed');
  assert.equal(Object.keys(r.state.stages), ['split', 'profile', 'evalBefore', 'train', 'evalAfter', 'profileAfter', 'report']);
  assert.ok(r.layers.length > 0);
  assert.equal(r.layers, r.profile.selection.selected, 'trains the selection');
  for (const f of ['run.json', 'data/train.jsonl', 'data/heldout.jsonl', 'profile/profile.json', 'profile/counts.safetensors', 'profile/plot-msd.png',
    'train/summary.json', 'train/model/config.json', 'train/delta.safetensors', 'eval-before.json', 'eval-after.json',
    'profile-after/profile.json', 'profile-after/plot-compare-overlap.png', 'profile-after/plot-compare-msd.png', 'report.json', 'report.md']) {
    assert.ok(existsSync(join(r.out, f)), f);
  }
  const rep = readJson(join(r.out, 'report.json'));
  const nll = rep.eval.find((e: any) => /NLL/.test(e.metric));
  assert.equal(nll.rows.map((x: any) => x.lang), ['ar', 'ru', 'zh', 'all']);
  for (const x of nll.rows) {
    assert.ok(Number.isFinite(x.before) && Number.isFinite(x.after), JSON.stringify(x));
    assert.is(x.delta, x.after - x.before);
  }
  // Scores before come from the base model; the delta file holds just the trained layers.
  assert.ok(nll.rows.some((x: any) => x.after !== x.before), 'training changed the scores');
  // The values, not only their finiteness: 'before' is the base model's NLL on the held-out pairs
  // and 'after' the export's, each scored again here by the library in the run's format.
  const fmt = readJson(join(r.out, 'eval-before.json'))[0].template;
  for (const [dir, key] of [[join(ASSETS, 'mini-ml'), 'before'], [join(r.out, 'train', 'model'), 'after']] as const) {
    const m = await Model.load(dir, { backend: 'cpu' });
    try {
      const e = await evaluate(m, { data: join(r.out, 'data', 'heldout.jsonl'), kind: 'pairs', template: fmt });
      for (const x of nll.rows) {
        const want = x.lang === 'all' ? e.nll!.overall.nll : e.nll!.perLang[x.lang]!.nll;
        assert.ok(Math.abs(x[key] - want) <= 1e-9 * Math.abs(want), `${key} ${x.lang}: ${x[key]} vs ${want}`);
      }
    } finally {
      m.dispose();
    }
  }
  const md = readFileSync(join(r.out, 'report.md'), 'utf8');
  assert.match(md, /Selected layers \(0-based\)/);
  assert.match(md, /\| all \| 12 \|/);
  assert.match(md, /!\[profile\/plot-R\.png\]/);
  // The profile after training ran the tuned export: same questions and tokens, other counts.
  assert.ok(r.profileAfter);
  assert.equal(r.profileAfter!.languages, r.profile.languages);
  assert.not.equal(r.profileAfter!.layers.map((l) => l.msd), r.profile.layers.map((l) => l.msd), 'the tuned layers count differently');
  const trained = rep.profileAfter.filter((x: any) => x.trained).map((x: any) => x.layer);
  assert.equal(trained, r.layers);
  assert.match(md, /## Profile after training/);
  assert.match(md, /!\[profile-after\/plot-compare-overlap\.png\]/);
});

test('run: the same command again reuses every stage; another configuration is refused', async () => {
  const r = await runPlast(small('a'));
  assert.equal(r.skipped, ['split', 'profile', 'evalBefore', 'train', 'evalAfter', 'profileAfter', 'report']);
  assert.equal(r.evalAfter, first.evalAfter);
  await rejects(runPlast(small('a', { lr: 2e-3 })), 'ERR_MISMATCH', /lr: 0\.001 -> 0\.002/);
  writeFileSync(join(tmp, 'stranger.txt'), 'x');
  await rejects(runPlast({ ...small('x'), out: tmp }), 'ERR_IO', /holds no plast run/);
});

test('run: --stop-after, then the same command continues to the losses of an uninterrupted run', async () => {
  const opts = small('b', { trainLimit: 32, batch: 4 });
  const s = await runPlast({ ...opts, stopAfter: 3 });
  assert.is(s.status, 'stopped');
  assert.is(s.train.step, 3);
  assert.not.ok(s.state.stages.train?.done);
  const c = await runPlast(opts);
  assert.is(c.status, 'completed');
  assert.equal(c.skipped, ['split', 'profile', 'evalBefore']);
  const straight = await runPlast(small('c', { trainLimit: 32, batch: 4 }));
  const losses = (dir: string): number[] =>
    readFileSync(join(dir, 'train', 'train.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.type === 'step').map((x) => x.loss);
  assert.equal(losses(c.out), losses(straight.out));
  assert.is(losses(c.out).length, 8);
  assert.equal(c.evalAfter[0]!.nll, straight.evalAfter[0]!.nll);
});

test('run: an abort (Ctrl-C in the CLI) stops the training at a step or refuses the next stage; the same call continues', async () => {
  const opts = small('d', { trainLimit: 32, batch: 4 });
  // Aborted while the profile runs: it stops before its next batch and writes nothing.
  const early = new AbortController();
  await rejects(runPlast({ ...opts, signal: early.signal, log: (m) => m.startsWith('[profile]') && early.abort() }), 'ERR_INTERRUPTED', /profile interrupted after 0 of \d+ prompts; nothing was written/);
  assert.not.ok(existsSync(join(opts.out, 'profile')));
  // Aborted between stages: the next stage does not start.
  const between = new AbortController();
  await rejects(runPlast({ ...opts, signal: between.signal, log: (m) => /selected layers/.test(m) && between.abort() }), 'ERR_INTERRUPTED', /before the evalBefore stage.*run the same command again/);
  // Aborted once training has started: it stops after the current step with a checkpoint.
  const mid = new AbortController();
  const s = await runPlast({ ...opts, signal: mid.signal, log: (m) => /training \d+ tensors/.test(m) && mid.abort() });
  assert.is(s.status, 'stopped');
  assert.equal(s.skipped, ['split', 'profile']);
  assert.ok(s.train.step < s.train.totalSteps);
  const c = await runPlast(opts);
  assert.is(c.status, 'completed');
  assert.is(c.train.step, c.train.totalSteps);
  assert.equal(c.evalAfter[0]!.nll, (await runPlast(small('c', { trainLimit: 32, batch: 4 }))).evalAfter[0]!.nll, 'the same result as the uninterrupted run');
});

test('plast run CLI: bad arguments exit 2; an unknown language names itself', () => {
  const cli = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [cli, 'run', ...a], { encoding: 'utf8', env: { ...process.env, PLAST_NO_PROGRESS: '1' } });
  const bad = run('--langs', 'en,xx', '--out', join(tmp, 'cli'));
  assert.is(bad.status, 1, bad.stderr);
  assert.match(bad.stderr, /ERR_LANG.*xx/);
  const r = run('--lr', 'abc', '--out', join(tmp, 'cli'));
  assert.is(r.status, 2, r.stderr);
  // Every option reaches the run's configuration, lists parsed.
  const out = join(tmp, 'cli-config');
  const ok = run('--model', join(ASSETS, 'mini-ml'), '--langs', 'en,ar', '--profile-limit', '8', '--train-limit', '8', '--eval-per-lang', '2', '--batch', '4',
    '--epochs', '1', '--lr', '1e-3', '--layers', '6-7', '--modules', 'mlp', '--template', 'plain', '--seed', '5', '--stop-after', '1', '--backend', 'cpu', '--out', out);
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /training stopped at step 1 of 2; run the same command without --stop-after to continue/);
  const c = readJson(join(out, 'run.json')).config;
  assert.equal(
    [c.langs, c.profileLimit, c.trainLimit, c.evalPerLang, c.batch, c.epochs, c.lr, c.layers, c.modules, c.template, c.seed, c.backend, c.bundledModel],
    [['en', 'ar'], 8, 8, 2, 4, 1, 1e-3, [6, 7], 'mlp', 'plain', 5, 'cpu', false],
  );
});

test.run();
