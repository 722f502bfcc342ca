// `plast select` (the library's reselect, and once through the CLI), `plast profile` through the
// CLI on mini-ml, the exit codes (ERR_INVALID, usage errors included, 2; other PlastErrors 1), bad
// input to the profile command (typed errors before the model runs), and atomic outputs: a failing
// profile or rewrite leaves no partial --out directory and an existing one as it was.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { reselect } from '../../src/profile/merge';
import { COUNTS_FILE, LAPE_FILE, PROFILE_FILE, readProfile, runProfile, writeProfile } from '../../src/profile/profile';
import { ProfileOptions } from '../../src/profile/types';
import { computeStats } from '../../src/profile/stats';
import { ASSETS, FIXTURES, ROOT, plastCli, rejects, sharedPath } from '../helpers';

const MINI = join(ASSETS, 'mini-ml');
const DATA = join(ASSETS, 'data', 'ntrex128_train.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'plast-profile-cli-'));
const BASE: ProfileOptions = { data: DATA, langs: ['en', 'ar', 'tr'], limit: 8, progress: false };

const plast = plastCli({ cwd: ROOT });

/** Every entry under a directory (names, and bytes of files), to check that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const names = (readdirSync(dir, { recursive: true }) as string[]).sort();
  return Object.fromEntries(names.map((f) => [f, statSync(join(dir, f)).isDirectory() ? 'dir' : readFileSync(join(dir, f)).toString('base64')]));
}
/** Hidden temporary directories writeDirAtomic left next to `dir`'s name. */
const leftovers = (parent: string): string[] => readdirSync(parent).filter((f) => f.startsWith('.') && f.includes('.tmp'));

let model: Model | undefined;
const mini = async (): Promise<Model> => (model ??= await Model.load(MINI, { backend: 'cpu' }));
let base = '';

test('plast profile (CLI) writes the profile and prints the table and the selection with its reasoning', () => {
  base = join(tmp, 'base');
  const r = plast('profile', '--model', MINI, '--data', DATA, '--langs', 'en,ar,tr', '--limit', '8', '--out', base);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /8 sentences x 3 languages, scope question, template plain/);
  assert.match(r.stdout, /layer\s+R en\s+R ar\s+R tr\s+O avg\s+MSD/);
  assert.match(r.stdout, /selection \(τ = 0\.5; overlap averaged over ar, tr; MSD over all 3 languages\):/);
  assert.match(r.stdout, /Average overlap with English over ar, tr peaks at layer \d/);
  assert.match(r.stdout, /Selected layers \(0-based\): [\d, ]+\./);
  assert.match(r.stdout, /peak layer \d+, θ = .*, selected layers: \d/);
  const files = readdirSync(base);
  for (const f of [PROFILE_FILE, COUNTS_FILE, LAPE_FILE, 'plot-R.svg', 'plot-R.png', 'plot-overlap.svg', 'plot-msd.png']) assert.ok(files.includes(f), `${f} written`);
  assert.equal(leftovers(tmp), []);
});

test('reselect: recomputes from the saved counts (model not needed), in place or to --out, keeping other files', async () => {
  const dir = join(tmp, 'resel');
  await writeProfile(dir, await runProfile(await mini(), BASE), { plots: false });
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  mkdirSync(join(dir, 'extra'));
  writeFileSync(join(dir, 'extra', 'keep.txt'), 'also mine');
  const before = readProfile(dir);
  const countsBytes = readFileSync(join(dir, COUNTS_FILE));

  // Defaults: τ, min/max layers as saved; the result is the same statistics.
  const same = await reselect(dir, { plots: false });
  assert.equal(same.json.layers, before.json.layers);
  assert.equal(same.json.selection, before.json.selection);

  const p = await reselect(dir, { tau: 0.3, maxLayers: 2, plots: false });
  const want = computeStats(before.counts, { tau: 0.3, minLayers: 1, maxLayers: 2 });
  assert.equal(p.json.layers, want.layers);
  assert.equal(p.json.selection, want.selection);
  const after = readProfile(dir);
  assert.is(after.json.stats.tau, 0.3);
  assert.is(after.json.stats.maxLayers, 2);
  assert.equal(after.json.selection, want.selection);
  assert.ok(readFileSync(join(dir, COUNTS_FILE)).equals(countsBytes), 'counts untouched');
  assert.equal((after.json.run as { reselected: { tau: number } }).reselected.tau, 0.3);
  assert.is(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assert.is(readFileSync(join(dir, 'extra', 'keep.txt'), 'utf8'), 'also mine', 'a sub-directory of the profile directory is carried over');

  // --out: the source directory stays as it is.
  const src = snapshot(dir);
  const out = join(tmp, 'resel-out');
  await reselect(dir, { tau: 0.7, out, plots: false });
  assert.is(readProfile(out).json.stats.tau, 0.7);
  assert.equal(snapshot(dir), src);
  assert.equal(leftovers(tmp), []);
});

test('reselect refuses bad options before writing anything, and directories that are not profiles', async () => {
  const src = snapshot(base);
  await rejects(reselect(base, { tau: 1.5 }), 'ERR_INVALID', /tau/);
  await rejects(reselect(base, { minLayers: 3, maxLayers: 2 }), 'ERR_INVALID', /maxLayers \(2\) >= minLayers \(3\)/);
  assert.equal(snapshot(base), src);
  const empty = join(tmp, 'not-a-profile');
  mkdirSync(empty);
  await rejects(reselect(empty), 'ERR_IO', /profile\.json: cannot read the profile/);
  writeFileSync(join(empty, PROFILE_FILE), '{"format": "something-else"}');
  await rejects(reselect(empty), 'ERR_FORMAT', /not a plast profile/);
  writeFileSync(join(empty, PROFILE_FILE), '{"format": ');
  await rejects(reselect(empty), 'ERR_FORMAT', /cannot read the profile/);
});

test('plast select (CLI): recomputes and prints the reasoning; --json prints the selection', () => {
  const r = plast('select', '--profile', base, '--tau', '0.3', '--min-layers', '2', '--no-plots');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /selection \(τ = 0\.3;/);
  assert.match(r.stdout, /Selected layers \(0-based\): \d+, \d+/);
  assert.match(r.stdout, new RegExp(`wrote ${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const saved = readProfile(base).json;
  assert.is(saved.stats.tau, 0.3);
  assert.equal(saved.files.plots, []);
  assert.is(saved.selection.selected.length >= 2, true);
  const j = plast('select', '--profile', base, '--json', '--no-plots');
  assert.is(j.status, 0, j.stderr);
  const sel = JSON.parse(j.stdout) as { tau: number; minLayers: number; selected: number[]; reasoning: string[] };
  assert.is(sel.tau, 0.3); // the saved τ is the default now
  assert.is(sel.minLayers, 2);
  assert.equal(sel.selected, saved.selection.selected);
  assert.ok(sel.reasoning.length >= 3);
  // A saved --max-layers is carried over until "none" lifts it.
  assert.is(plast('select', '--profile', base, '--max-layers', '2', '--no-plots').status, 0);
  assert.is(readProfile(base).json.stats.maxLayers, 2);
  assert.is(plast('select', '--profile', base, '--no-plots').status, 0);
  assert.is(readProfile(base).json.stats.maxLayers, 2);
  const none = plast('select', '--profile', base, '--max-layers', 'none', '--no-plots');
  assert.is(none.status, 0, none.stderr);
  assert.is(readProfile(base).json.stats.maxLayers, null);
});

test('exit codes: usage errors 2, ERR_INVALID 2, other PlastErrors 1', () => {
  const cases: [string[], number, RegExp][] = [
    [['select'], 2, /^plast: error \[ERR_INVALID\]: required option '--profile <dir>' not specified\n\(plast select --help lists the options\)\n$/],
    [['select', '--profile', base, '--tau', '2'], 2, /^plast: error \[ERR_INVALID\]: option '--tau <t>' argument '2' is invalid\. Expected a number in \[0, 0\.999999\] for --tau but received "2"\n/],
    [['select', '--profile', base, '--bogus'], 2, /^plast: error \[ERR_INVALID\]: unknown option '--bogus'\n/],
    [['select', '--profile', base, '--min-layers', '3', '--max-layers', '2'], 2, /\[ERR_INVALID\].*maxLayers \(2\) >= minLayers \(3\)/],
    [['select', '--profile', join(tmp, 'nowhere')], 1, /\[ERR_IO\].*cannot read the profile/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'en,ar'], 2, /\[ERR_INVALID\] Expected --out <dir>|\[ERR_INVALID\]: Expected --out <dir>/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'en,xx', '--out', join(tmp, 'x1')], 1, /\[ERR_LANG\].*unknown language code "xx"/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'ar,tr', '--out', join(tmp, 'x2')], 1, /\[ERR_LANG\].*English \("en"\) must be among the languages/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'en,ar', '--shard', '2/2', '--out', join(tmp, 'x3')], 2, /\[ERR_INVALID\].*shard/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'en,ar', '--min-layers', '9', '--out', join(tmp, 'x4')], 2, /\[ERR_INVALID\].*minLayers/],
    [['profile', '--model', MINI, '--data', DATA, '--langs', 'en,ar', '--scope', 'words', '--out', join(tmp, 'x5')], 2, /^plast: error \[ERR_INVALID\]: option '--scope <scope>' argument 'words' is invalid\./],
    [['profile', '--model', join(tmp, 'no-model'), '--data', DATA, '--langs', 'en,ar', '--out', join(tmp, 'x6')], 1, /\[ERR_(IO|FORMAT)\]/],
    [['profile', 'merge', join(tmp, 'x7'), base], 2, /\[ERR_INVALID\].*at least two profile directories/],
  ];
  for (const [args, code, re] of cases) {
    const r = plast(...args);
    assert.is(r.status, code, `plast ${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, re, `plast ${args.join(' ')}`);
  }
  for (const x of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7']) assert.not.ok(existsSync(join(tmp, x)), `${x} not created`);
});

test('plast profile with bad data: exit 1 naming the line, no --out written, an existing --out left as it was', () => {
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, ['{"id": "a", "en": "One?", "ar": "واحد؟"}', '', '{"id": "b", "en": "Two?", "ar": '].join('\n') + '\n');
  const out = join(tmp, 'bad-out');
  const r = plast('profile', '--model', MINI, '--data', bad, '--langs', 'en,ar', '--out', out);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /\[ERR_DATA\].*bad\.jsonl:3: invalid JSON/);
  assert.not.ok(existsSync(out));
  const before = snapshot(base);
  const r2 = plast('profile', '--model', MINI, '--data', bad, '--langs', 'en,ar', '--out', base);
  assert.is(r2.status, 1);
  assert.equal(snapshot(base), before);
  assert.equal(leftovers(tmp), []);
});

test('runProfile refuses bad input before the model runs: languages, shard, scope, template, limit, prompt too long', async () => {
  const m = await Model.load(join(FIXTURES, 'llama'), { backend: 'cpu' }); // 128 positions
  const data = join(FIXTURES, 'llama', 'profile-plain.jsonl');
  const opts: ProfileOptions = { data, langs: ['en', 'ru'], progress: false };
  let batches = 0;
  const count = { onBatch: () => void batches++ };
  await rejects(runProfile(m, { ...opts, ...count, langs: ['ru', 'zh'] }), 'ERR_LANG', /English \("en"\) must be among the languages/);
  await rejects(runProfile(m, { ...opts, ...count, langs: ['en'] }), 'ERR_LANG', /at least one language besides English/);
  await rejects(runProfile(m, { ...opts, ...count, langs: ['en', 'ru', 'rus'] }), 'ERR_LANG', /"rus" is listed twice/);
  await rejects(runProfile(m, { ...opts, ...count, shard: '4/4' }), 'ERR_INVALID', /shard "i\/n"|0 <= index < count/);
  await rejects(runProfile(m, { ...opts, ...count, shard: 'a/b' }), 'ERR_INVALID', /Expected a shard "i\/n"/);
  await rejects(runProfile(m, { ...opts, ...count, limit: 1, shard: '1/2' }), 'ERR_DATA', /no questions to profile in shard 1\/2/);
  await rejects(runProfile(m, { ...opts, ...count, scope: 'words' as never }), 'ERR_INVALID', /scope of question, text or all/);
  await rejects(runProfile(m, { ...opts, ...count, template: 'chatml' as never }), 'ERR_INVALID', /template of auto, chat, vicuna, plain/);
  await rejects(runProfile(m, { ...opts, ...count, limit: 0 }), 'ERR_INVALID', /positive integer for limit/);
  await rejects(runProfile(m, { ...opts, ...count, batchTokens: -3 }), 'ERR_INVALID', /positive integer for batchTokens but received -3/);
  await rejects(runProfile(m, { ...opts, ...count, tau: 1 }), 'ERR_INVALID', /tau/);
  await rejects(runProfile(m, { ...opts, ...count, data: join(tmp, 'missing.jsonl') }), 'ERR_IO', /cannot read/);
  // A question longer than the model's context: named by line, id and language.
  const long = join(tmp, 'long.jsonl');
  writeFileSync(long, JSON.stringify({ id: 'ok', en: 'Hi', ru: 'Привет' }) + '\n' + JSON.stringify({ id: 'big', en: 'Hi', ru: 'Очень длинный вопрос '.repeat(8) }) + '\n');
  await rejects(runProfile(m, { ...opts, ...count, data: long }), 'ERR_DATA', /long\.jsonl:2: question "big" in ru is \d+ tokens, more than the model's 128 positions/);
  assert.is(batches, 0, 'no batch ran');
});

test('writeProfile: a failure while writing leaves the existing directory as it was and no temporary directory; a foreign directory is refused', async () => {
  const dir = join(tmp, 'atomic');
  const p = await runProfile(await mini(), { ...BASE, limit: 2 });
  await writeProfile(dir, p, { plots: false });
  const before = snapshot(dir);
  // A count that cannot be stored (not an integer) fails inside the temporary directory.
  const broken = { ...p, counts: { ...p.counts, counts: { ...p.counts.counts, ar: Float64Array.from(p.counts.counts['ar']!, (v, i) => (i === 5 ? v + 0.5 : v)) } } };
  await rejects(writeProfile(dir, broken, { plots: false }), 'ERR_INTERNAL', /not a non-negative safe integer/);
  assert.equal(snapshot(dir), before);
  await rejects(writeProfile(join(tmp, 'atomic-new'), broken, { plots: false }), 'ERR_INTERNAL');
  assert.not.ok(existsSync(join(tmp, 'atomic-new')));
  const foreign = join(tmp, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'thesis.tex'), 'x');
  await rejects(writeProfile(foreign, p, { plots: false }), 'ERR_IO', /is not empty and is not a profile directory/);
  assert.equal(readdirSync(foreign), ['thesis.tex']);
  assert.equal(leftovers(tmp), []);
});

// The acceptance command's shape (six paper languages from the NTREX columns) on the shared copies,
// with a small --limit; skipped, and said so, where ../shared is absent.
const sharedModel = sharedPath('models/mini-ml', 'profile on the shared mini-ml');
const sharedData = sharedModel ? sharedPath('data/ntrex128_train.jsonl', 'profile on the shared NTREX data') : null;
if (sharedModel && sharedData) {
  test('shared mini-ml + NTREX: the six paper languages from NTREX columns, selection printed and saved', () => {
    const out = join(tmp, 'shared-six');
    const r = plast('profile', '--model', sharedModel, '--data', sharedData, '--langs', 'en,ar,tr,ru,pt,zh', '--limit', '6', '--no-plots', '--out', out);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /6 sentences x 6 languages/);
    assert.match(r.stdout, /selected layers: \d/);
    const p = readProfile(out).json;
    assert.equal(p.data.columns, { en: 'eng', ar: 'arb', tr: 'tur', ru: 'rus', pt: 'por', zh: 'zho-CN' });
    assert.ok(p.selection.selected.length >= 1);
    assert.ok(p.selection.reasoning.some((x) => x.startsWith('Selected layers')));
  });
}

test.run();
