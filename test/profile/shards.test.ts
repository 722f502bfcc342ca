// Sharded profiles on the bundled mini-ml (12 NTREX questions x en, ar, zh): merging 2 or 3
// `--shard i/n` runs gives the single run exactly (counts.safetensors and lape.json byte for byte,
// profile.json equal but for `run`, the documented provenance record); merges of mismatched
// inputs are refused by name; a repeated run and runs with other --batch-tokens count the same.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { mergeProfiles, reselect } from '../../src/profile/merge';
import { COUNTS_FILE, LAPE_FILE, PROFILE_FILE, packByTokens, readProfile, runProfile, writeProfile } from '../../src/profile/profile';
import { ProfileOptions } from '../../src/profile/types';
import { ASSETS, rejects } from '../helpers';

const MINI = join(ASSETS, 'mini-ml');
const DATA = join(ASSETS, 'data', 'ntrex128_train.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'plast-shards-'));
const BASE: ProfileOptions = { data: DATA, langs: ['en', 'arb', 'zho-CN'], limit: 12, progress: false };

let model: Model | undefined;
const mini = async (): Promise<Model> => (model ??= await Model.load(MINI, { backend: 'cpu' }));

/** Runs a profile and writes it (no plots: they are not what is compared, and cost time). */
async function profileTo(name: string, extra: Partial<ProfileOptions> = {}): Promise<string> {
  const dir = join(tmp, name);
  await writeProfile(dir, await runProfile(await mini(), { ...BASE, ...extra }), { plots: false });
  return dir;
}

const bytes = (dir: string, f: string): Buffer => readFileSync(join(dir, f));
function withoutRun(dir: string): Record<string, unknown> {
  const j = JSON.parse(readFileSync(join(dir, PROFILE_FILE), 'utf8')) as Record<string, unknown>;
  delete j['run'];
  return j;
}

let single = '';
const shards: Record<string, string> = {};

test('shards: interleaved by index modulo n, disjoint and covering; a shard records which one it is', async () => {
  single = await profileTo('single');
  for (const [i, n] of [[0, 2], [1, 2], [0, 3], [1, 3], [2, 3]] as const) shards[`${i}/${n}`] = await profileTo(`shard-${i}-${n}`, { shard: `${i}/${n}` });
  const s = readProfile(single).json;
  assert.is(s.questions, 12);
  assert.is(s.params.shard, null);
  const q = (k: string) => readProfile(shards[k]!).json;
  assert.equal([q('0/2').questions, q('1/2').questions, q('0/3').questions, q('1/3').questions, q('2/3').questions], [6, 6, 4, 4, 4]);
  assert.equal(q('1/3').params.shard, { count: 3, indices: [1] });
  for (const l of ['en', 'ar', 'zh']) {
    assert.is(q('0/2').languages[l]!.tokens + q('1/2').languages[l]!.tokens, s.languages[l]!.tokens);
  }
});

for (const n of [2, 3]) {
  test(`merge of ${n} shards equals the single run: counts and LAPE byte for byte, profile.json but for "run"`, async () => {
    const inputs = Array.from({ length: n }, (_, i) => shards[`${i}/${n}`]!).reverse(); // order does not matter
    const out = join(tmp, `merged-${n}`);
    const p = await mergeProfiles(out, inputs, { plots: false });
    assert.ok(bytes(out, COUNTS_FILE).equals(bytes(single, COUNTS_FILE)), 'counts.safetensors identical');
    assert.ok(bytes(out, LAPE_FILE).equals(bytes(single, LAPE_FILE)), 'lape.json identical');
    assert.equal(withoutRun(out), withoutRun(single));
    assert.is(p.json.params.shard, null);
    assert.is((p.json.run as { command: string }).command, 'profile merge');
    assert.is((p.json.run as { inputs: unknown[] }).inputs.length, n);
  });
}

test('a merge of some of the shards is itself a shard set, and merges on to the whole', async () => {
  const part = join(tmp, 'part-01of3');
  const p = await mergeProfiles(part, [shards['0/3']!, shards['1/3']!], { plots: false });
  assert.equal(p.json.params.shard, { count: 3, indices: [0, 1] });
  const whole = join(tmp, 'whole-3');
  await mergeProfiles(whole, [part, shards['2/3']!], { plots: false });
  assert.ok(bytes(whole, COUNTS_FILE).equals(bytes(single, COUNTS_FILE)));
  assert.equal(withoutRun(whole), withoutRun(single));
});

test('merge with another τ equals the single run reselected with it', async () => {
  const merged = await mergeProfiles(join(tmp, 'merged-tau'), [shards['0/2']!, shards['1/2']!], { tau: 0.3, minLayers: 2, plots: false });
  const re = await reselect(single, { tau: 0.3, minLayers: 2, out: join(tmp, 'single-tau'), plots: false });
  assert.equal(merged.json.layers, re.json.layers);
  assert.equal(merged.json.selection, re.json.selection);
  assert.is(merged.json.selection.tau, 0.3);
});

/** A copy of a profile directory with profile.json edited (a stand-in for a run made differently). */
function variant(src: string, name: string, edit: (j: Record<string, any>) => void): string {
  const dir = join(tmp, name);
  cpSync(src, dir, { recursive: true });
  const j = JSON.parse(readFileSync(join(dir, PROFILE_FILE), 'utf8')) as Record<string, any>;
  edit(j);
  writeFileSync(join(dir, PROFILE_FILE), JSON.stringify(j));
  return dir;
}

test('mismatched inputs are refused with ERR_MISMATCH naming what differs', async () => {
  const out = join(tmp, 'refused');
  const a = shards['0/2']!;
  const b = shards['1/2']!;
  // Really different runs (the model runs again): another scope, another limit.
  const textScope = await profileTo('shard-1-2-text', { shard: '1/2', scope: 'text' });
  await rejects(mergeProfiles(out, [a, textScope]), 'ERR_MISMATCH', /cannot merge: scope differs \(.*"question".*"text"\)/);
  const limit10 = await profileTo('shard-1-2-limit10', { shard: '1/2', limit: 10 });
  await rejects(mergeProfiles(out, [a, limit10]), 'ERR_MISMATCH', /cannot merge: limit differs \(.*12.*10\)/);
  // Another model or data file (edited records: running a second model here would only cost time).
  await rejects(mergeProfiles(out, [a, variant(b, 'other-model', (j) => (j.model.fingerprint = 'sha256:other'))]), 'ERR_MISMATCH', /model \(weights fingerprint\) differs/);
  await rejects(mergeProfiles(out, [a, variant(b, 'other-data', (j) => (j.data.sha256 = '00'))]), 'ERR_MISMATCH', /data file \(sha256\) differs/);
  const twoLangs = await profileTo('shard-1-2-en-zh', { shard: '1/2', langs: ['en', 'zh'] });
  await rejects(mergeProfiles(out, [a, twoLangs]), 'ERR_MISMATCH', /cannot merge: languages differs \(.*\["en","ar","zh"\].*\["en","zh"\]\)/);
  // A profile.json that no longer agrees with its counts is caught on reading.
  await rejects(mergeProfiles(out, [a, variant(b, 'other-langs', (j) => (j.params.langs = ['en', 'zh', 'ar']))]), 'ERR_MISMATCH', /holds en,ar,zh but profile.json lists en,zh,ar/);
  // Shards that do not fit together.
  await rejects(mergeProfiles(out, [a, shards['1/3']!]), 'ERR_MISMATCH', /shard count n differs/);
  await rejects(mergeProfiles(out, [a, a]), 'ERR_MISMATCH', /shard 0\/2 appears twice/);
  await rejects(mergeProfiles(out, [single, b]), 'ERR_MISMATCH', /is not a shard \(it covers every question\)/);
  await rejects(mergeProfiles(out, [a]), 'ERR_INVALID', /at least two profile directories/);
  await rejects(mergeProfiles(a, [a, b]), 'ERR_INVALID', /is one of its inputs/);
  // Different τ is recomputable, but only when told which.
  const tauB = join(tmp, 'shard-1-2-tau');
  await reselect(b, { tau: 0.25, out: tauB, plots: false });
  await rejects(mergeProfiles(out, [a, tauB]), 'ERR_MISMATCH', /different tau .*give it explicitly/);
  assert.is((await mergeProfiles(out, [a, tauB], { tau: 0.5, plots: false })).json.selection.tau, 0.5);
});

test('a profile repeated gives identical counts; counts do not depend on --batch-tokens', async () => {
  const again = await profileTo('single-again');
  assert.ok(bytes(again, COUNTS_FILE).equals(bytes(single, COUNTS_FILE)), 'repeat: counts.safetensors identical');
  assert.equal(withoutRun(again), withoutRun(single));
  // 64: one or two prompts per batch; 1e6: every prompt of a language in one batch.
  for (const batchTokens of [64, 300, 1_000_000]) {
    const dir = await profileTo(`batch-${batchTokens}`, { batchTokens });
    assert.ok(bytes(dir, COUNTS_FILE).equals(bytes(single, COUNTS_FILE)), `--batch-tokens ${batchTokens}: counts identical`);
    const run = readProfile(dir).json.run as { batches: number; batchTokens: number };
    assert.is(run.batchTokens, batchTokens);
    if (batchTokens === 1_000_000) assert.is(run.batches, 3); // one per language
    if (batchTokens === 64) assert.ok(run.batches >= 18, `${run.batches} batches`); // 36 prompts
  }
});

test('packByTokens: longest first, rows x longest within the budget, an over-long prompt alone', () => {
  assert.equal(packByTokens([5, 9, 3, 9, 2], 20), [[1, 3], [0, 2, 4]]); // 2 x 9 = 18; then 3 x 5 = 15
  assert.equal(packByTokens([30, 4, 4], 10), [[0], [1, 2]]);
  assert.equal(packByTokens([], 10), []);
});

test.run();
