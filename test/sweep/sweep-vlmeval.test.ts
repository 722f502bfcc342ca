// `plast sweep` on a vision-language model with VLMEvalKit's protocol (the paper's Fig. 5 is
// MMBench accuracy on LLaVA), on the tiny LLaVA of test/llava-tiny.ts (CPU, two optimizer steps):
// image translation pairs train a variant with the tower loaded, and the MMBench-style TSV fixture
// is answered by greedy generation with the images. A variant equals `plast train` + `plast eval
// --protocol vlmeval` by hand, the base variant equals `plast eval` on the base checkpoint, the
// circular score is the metric in sweep.md and results.json, and another --max-new-tokens on the
// same directory is refused. Also which score a vlmeval report gives (scoresOf).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EvalReport } from '../../src/eval/evaluate';
import { VariantResult, scoresOf } from '../../src/sweep/result';
import { SweepOptions, sweep } from '../../src/sweep/sweep';
import { ASSETS, FIXTURES, plast } from '../helpers';
import { makeTinyLlava } from '../llava-tiny';

const tmp = mkdtempSync(join(tmpdir(), 'plast-sweep-vlm-'));
const MODEL = join(tmp, 'llava');
makeTinyLlava(MODEL);
const DATA = join(tmp, 'data');
mkdirSync(DATA, { recursive: true });
const images = ['image0.png', 'image1.png'];
for (const f of images) copyFileSync(join(FIXTURES, 'llava-image', f), join(DATA, f));
const questions = readFileSync(join(ASSETS, 'data', 'xquad_questions_train.jsonl'), 'utf8').trim().split('\n').slice(0, 4).map((l) => JSON.parse(l) as Record<string, string>);
const TRAIN = join(DATA, 'pairs-img.jsonl');
writeFileSync(TRAIN, questions.map((q, i) => JSON.stringify({ lang: 'ar', source: q['ar'], target: q['en'], image: images[i % images.length] })).join('\n') + '\n');
// MMBench-style rows (file name: circular), the first with an image its rotations share.
const EVAL = join(FIXTURES, 'vlmeval', 'mmbench_dev_en.tsv');
const OUT = join(tmp, 'sweep');

const opts = (o: Partial<SweepOptions> = {}): SweepOptions => ({
  model: MODEL,
  data: TRAIN,
  evalData: EVAL,
  out: OUT,
  recipe: { batch: 2, epochs: 1, lr: 1e-3 },
  evalLimit: 6,
  evalMaxNewTokens: 2,
  firstK: [1],
  all: false,
  base: true,
  backend: 'cpu',
  progress: false,
  ...o,
});

type Report = EvalReport & { vlmeval: NonNullable<EvalReport['vlmeval']> };
const EVAL_ARGS = ['--data', EVAL, '--limit', '6', '--max-new-tokens', '2', '--backend', 'cpu'];

function evalByHand(model: string, name: string): Report {
  const out = join(tmp, `${name}.json`);
  const e = plast('eval', '--model', model, ...EVAL_ARGS, '--out', out);
  assert.is(e.status, 0, e.stderr);
  return JSON.parse(readFileSync(out, 'utf8')) as Report;
}

const steps = (dir: string): Record<string, unknown>[] =>
  readFileSync(join(dir, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r['type'] === 'step')
    .map(({ seconds: _s, tokensPerSecond: _t, ...rest }) => rest);

let results: VariantResult[];

test("scoresOf a vlmeval report: the circular score when every file is circular (MMBench), else the per-row score", () => {
  const stats = (accuracy: number) => ({ items: 4, correct: 4 * accuracy, accuracy, unmatched: 0 });
  const vanilla = { overall: stats(0.5), perLang: { ar: stats(0.25), en: stats(0.75) }, perCategory: {}, perL2Category: {} };
  const circular = { ...vanilla, overall: stats(0.25), perLang: { ar: stats(0), en: stats(0.5) }, incomplete: 0, singleRow: 0 };
  const report = (files: [string, boolean][]): EvalReport =>
    ({ model: 'm', data: files.map(([f]) => f), protocol: 'vlmeval', items: 8, vlmeval: { datasets: files.map(([file, c]) => ({ file, circular: c, circularWhy: '' })), vanilla, circular } }) as unknown as EvalReport;
  assert.equal(scoresOf(report([['mmbench_dev_ar.tsv', true], ['mmbench_dev_en.tsv', true]])), { metric: 'vlmeval circular accuracy', scores: { ar: 0, en: 0.5 }, average: 0.25 });
  assert.equal(scoresOf(report([['mmbench_dev_en.tsv', true], ['mmmb_ar.tsv', false]])), { metric: 'vlmeval accuracy', scores: { ar: 0.25, en: 0.75 }, average: 0.5 });
  const none = { model: 'm', data: ['x.tsv'], protocol: 'vlmeval', items: 0 } as unknown as EvalReport;
  assert.throws(() => scoresOf(none), (e: { code?: string }) => e.code === 'ERR_DATA');
});

test('a variant is plast train + plast eval --protocol vlmeval by hand; the base is plast eval on the base', async () => {
  const r = await sweep(opts());
  assert.is(r.status, 'completed');
  assert.equal(r.ran, ['base', 'first-1']);
  results = r.results;
  const vdir = join(OUT, 'variants', 'first-1');
  const sweptReport = (name: string): Report => JSON.parse(readFileSync(join(OUT, 'variants', name, 'eval.json'), 'utf8')) as Report;

  const plain = join(tmp, 'plain');
  const t = plast('train', '--model', MODEL, '--data', TRAIN, '--layers', '0', '--batch', '2', '--epochs', '1', '--lr', '1e-3', '--backend', 'cpu', '--out', plain);
  assert.is(t.status, 0, t.stderr);
  assert.is(steps(vdir).length, 2);
  assert.equal(steps(vdir), steps(plain), 'the same steps (trained with the images)');
  assert.ok(readFileSync(join(vdir, 'delta.safetensors')).equals(readFileSync(join(plain, 'delta.safetensors'))), 'the same tuned tensors');

  for (const [name, dir] of [['first-1', join(plain, 'model')], ['base', MODEL]] as const) {
    const hand = evalByHand(dir, name);
    const swept = sweptReport(name);
    assert.is(swept.protocol, 'vlmeval');
    assert.is(swept.vlmeval.vision, true, `${name}: answered with the tower`);
    assert.is(hand.vlmeval.vision, true);
    assert.equal(swept.vlmeval.predictions, hand.vlmeval.predictions, `${name}: the same generated answers`);
    assert.equal([swept.vlmeval.template, swept.vlmeval.maxNewTokens, swept.vlmeval.prompting], ['vicuna', 2, 'none']);
    const res = results.find((x) => x.name === name)!;
    assert.is(res.metric, 'vlmeval circular accuracy');
    assert.equal(res.scores, { en: hand.vlmeval.circular!.perLang['en']!.accuracy }, name);
    assert.is(res.average, hand.vlmeval.circular!.overall.accuracy);
  }
  assert.not.equal(sweptReport('first-1').vlmeval.predictions, sweptReport('base').vlmeval.predictions, 'training changed some answer');
});

test('the metric is named in sweep.md and results.json; sweep.json records the generation settings', () => {
  const md = readFileSync(join(OUT, 'sweep.md'), 'utf8');
  assert.match(md, /vlmeval circular accuracy in %/);
  assert.match(md, /VLMEvalKit's protocol \(greedy, at most 2 new tokens, prompting none\)/);
  const rj = JSON.parse(readFileSync(join(OUT, 'results.json'), 'utf8')) as { results: VariantResult[] };
  assert.equal(rj.results.map((r) => r.metric), ['vlmeval circular accuracy', 'vlmeval circular accuracy']);
  const sj = JSON.parse(readFileSync(join(OUT, 'sweep.json'), 'utf8')) as { settings: { eval: Record<string, unknown> } };
  assert.equal([sj.settings.eval['protocol'], sj.settings.eval['prompting'], sj.settings.eval['maxNewTokens']], ['vlmeval', 'none', 2]);
});

test('the same sweep again skips everything; another --max-new-tokens (or protocol) is refused', async () => {
  const again = await sweep(opts());
  assert.equal(again.ran, []);
  assert.equal(again.skipped, ['base', 'first-1']);
  const cli = (...extra: string[]) =>
    plast('sweep', '--model', MODEL, '--data', TRAIN, '--eval-data', EVAL, '--batch', '2', '--epochs', '1', '--lr', '1e-3', '--eval-limit', '6', '--k', '1', '--no-all', '--backend', 'cpu', '--out', OUT, ...extra);
  const other = cli('--max-new-tokens', '3');
  assert.is(other.status, 1, other.stderr);
  assert.match(other.stderr, /ERR_MISMATCH.*other settings \(eval\)/);
  const logits = cli('--protocol', 'logits');
  assert.is(logits.status, 1, logits.stderr);
  assert.match(logits.stderr, /ERR_MISMATCH.*other settings \(eval\)/);
  // The same settings through the CLI: nothing to run.
  const same = cli('--max-new-tokens', '2');
  assert.is(same.status, 0, same.stderr);
  assert.match(same.stdout, /2 of 2 variants done \(0 now, 2 before\)/);
  // vlmeval-only options under logits are refused before anything runs.
  const bad = cli('--protocol', 'logits', '--max-new-tokens', '2');
  assert.is(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /ERR_INVALID.*--max-new-tokens applies to --protocol vlmeval/);
  const mode = cli('--eval-mode', 'letter');
  assert.is(mode.status, 2, mode.stderr);
  assert.match(mode.stderr, /ERR_INVALID.*--eval-mode applies to --protocol logits/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
