// The report of `plast run` (report.md) on a hand-made run: what was profiled is named as what it
// is (questions or sentences), the selection is stated plainly (when the paper's rule selects
// nothing, that it did and why), and the profile after training is compared with the one before
// (what rose and what fell), not quoted from the paper.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareProfiles, evalCaveat, writeReport } from '../../src/run/report';
import { BUNDLED_DATA, BUNDLED_MODEL } from '../../src/assets';
import { selectionVerdict } from '../../src/profile/report';
import { RunConfig, ReportInput } from '../../src/run/types';
import { ProfileJson } from '../../src/profile/types';
import { Selection } from '../../src/profile/stats';

const tmp = mkdtempSync(join(tmpdir(), 'plast-report-'));
const LANGS = ['en', 'ar', 'pt'];

function profile(overlap: number[], msd: number[], sel: Partial<Selection>, file: string): ProfileJson {
  const selection: Selection = { tau: 0.5, minLayers: 1, maxLayers: null, peakLayer: 1, peakOverlap: overlap[1]!, peakTies: [], K: [0], theta: msd[0]!, byRule: [0], selected: [0], reasoning: ['(the profile\'s reasoning)'], warnings: [], ...sel };
  return {
    questions: 200,
    data: { file },
    params: { langs: LANGS, scope: 'question', template: 'plain', limit: 200, shard: null, backend: 'cpu' },
    languages: Object.fromEntries(LANGS.map((l) => [l, { questions: 200, tokens: 9000, promptTokens: 9500 }])),
    layers: overlap.map((o, i) => ({ layer: i, activated: {}, R: Object.fromEntries(LANGS.map((l) => [l, 0.3])), shared: {}, overlap: {}, overlapAvg: o, pMean: {}, msd: msd[i]!, inK: selection.K.includes(i), selected: selection.selected.includes(i) })),
    selection,
    files: { counts: 'counts.safetensors', lape: 'lape.json', plots: [] },
  } as unknown as ProfileJson;
}

function input(o: { file: string; before: ProfileJson; after: ProfileJson; layers: number[]; model?: string; data?: string }): ReportInput {
  const config = { model: o.model ?? '/m/mini-ml', data: o.data ?? '/d', profileData: o.file, profileReason: 'why', langs: LANGS, template: 'vicuna', profileTemplate: 'plain', layers: null, modules: 'all', batch: 16, lr: 5e-4, epochs: 1, warmup: 0.03, seed: 0, backend: 'auto' } as unknown as RunConfig;
  return {
    state: { format: 'plast-run', formatVersion: 1, config, stages: {} },
    profile: o.before,
    profileAfter: o.after,
    train: { status: 'completed', step: 30, totalSteps: 30, firstLoss: 2.5, finalLoss: 2.0, tokensPerSecond: 140, seconds: 300, trainableParams: 737792, totalParams: 10096896 },
    layers: o.layers,
    evalBefore: [],
    evalAfter: [],
  };
}

const md = (name: string, r: ReportInput): string => readFileSync(writeReport(join(tmp, name), r).markdown, 'utf8');

test('report: what was profiled is named as what it is', () => {
  const overlap = [0.4617, 0.5248, 0.352];
  const msd = [0.0334, 0.0256, 0.0044];
  const news = md('news', input({ file: '/d/ntrex128_train.jsonl', before: profile(overlap, msd, {}, '/d/ntrex128_train.jsonl'), after: profile(overlap, msd, {}, '/d/ntrex128_train.jsonl'), layers: [0] }));
  assert.match(news, /Profiled 200 parallel sentences per language from `ntrex128_train\.jsonl`/);
  assert.not.match(news, /questions/);
  const q = md('q', input({ file: '/d/xquad_questions_train.jsonl', before: profile(overlap, msd, {}, '/d/xquad_questions_train.jsonl'), after: profile(overlap, msd, {}, '/d/xquad_questions_train.jsonl'), layers: [0] }));
  assert.match(q, /Profiled 200 parallel questions per language from `xquad_questions_train\.jsonl`/);
  assert.match(q, /The same questions profiled on the tuned checkpoint/);
});

test('report: the demo\'s selection (K = {0}) says the rule selected nothing and why; before/after is compared, not quoted', () => {
  const file = '/d/ntrex128_train.jsonl';
  // The demo run's numbers: K = {0}, the overlap of the trained layer fell, its MSD fell.
  const before = profile([0.4617, 0.5248, 0.352], [0.0334, 0.0256, 0.0044], {}, file);
  const after = profile([0.4574, 0.53, 0.35], [0.029, 0.026, 0.004], {}, file);
  const text = md('demo', input({ file, before, after, layers: [0] }));
  assert.match(text, /selected no layer: K holds only layer 0, so θ is that layer's own MSD and no layer of K can exceed it\. All of K, layer 0, is taken instead\. Selected: layer 0\./);
  assert.match(text, /On the trained layer 0 the overlap with English fell from 0\.4617 to 0\.4574 and the MSD fell from 0\.0334 to 0\.0290\./);
  assert.match(text, /The paper \(Fig\. 6\) reports the overlap rising and the MSD falling in the shallow layers after PLAST; here the MSD did, the overlap did not\./);
  assert.match(text, /Of the 2 layers not trained, the overlap rose in 1 and fell in 1, the MSD rose in 1 and fell in 1\./);
  assert.not.match(text, /overlap with English rises/);
  const json = JSON.parse(readFileSync(join(tmp, 'demo', 'report.json'), 'utf8'));
  assert.match(json.profile.verdict, /selected no layer/);
  assert.match(json.profileAfterSummary, /fell from 0\.4617 to 0\.4574/);
});

test('the selection in words: the rule\'s layers, --min-layers and --max-layers, an empty K', () => {
  const base: Selection = { tau: 0.5, minLayers: 1, maxLayers: null, peakLayer: 3, peakOverlap: 0.6, peakTies: [], K: [0, 1, 2], theta: 0.0123, byRule: [2], selected: [2], reasoning: [], warnings: [] };
  assert.is(selectionVerdict(base), "The paper's rule (the layers before the overlap peak, K, whose MSD exceeds θ, the mean MSD over K) selected layer 2, of K = 0, 1, 2 (the overlap peaks at layer 3; θ = 0.012300). Selected: layer 2.");
  assert.match(selectionVerdict({ ...base, minLayers: 2, selected: [1, 2] }), /selected layer 2, .*--min-layers 2 added layer 1\. Selected: layers 1, 2\.$/);
  assert.match(selectionVerdict({ ...base, byRule: [0, 2], maxLayers: 1, selected: [2] }), /--max-layers 1 dropped layer 0\. Selected: layer 2\.$/);
  assert.match(selectionVerdict({ ...base, K: [0, 1], byRule: [0, 1], selected: [0, 1] }), /selected no layer: every layer of K \(0, 1\) has the same MSD, so none exceeds their mean\. All of K, layers 0, 1, is taken instead\./);
  assert.match(selectionVerdict({ ...base, peakLayer: 0, K: [], theta: null, byRule: [], minLayers: 0, selected: [] }), /selected no layer: the overlap with English peaks at layer 0, so no layer comes before the peak and K is empty\. Nothing is selected\.$/);
  assert.match(selectionVerdict({ ...base, peakLayer: 0, K: [], theta: null, byRule: [], selected: [0] }), /K is empty\. --min-layers 1 added layer 0\. Selected: layer 0\.$/);
  assert.match(compareProfiles([{ layer: 0, trained: true, overlapBefore: 0.4, overlapAfter: 0.5, msdBefore: 0.02, msdAfter: 0.01 }]), /overlap with English rose from 0\.4000 to 0\.5000 and the MSD fell from 0\.0200 to 0\.0100\. .*here both did\.$/);
});

test('the demo (bundled mini-ml on the bundled data, which it was trained on) says its before/after scores show no gain; other runs do not', () => {
  const file = '/d/ntrex128_train.jsonl';
  const p = profile([0.4617, 0.5248, 0.352], [0.0334, 0.0256, 0.0044], {}, file);
  const demo = md('caveat', input({ file, before: p, after: p, layers: [0], model: BUNDLED_MODEL, data: BUNDLED_DATA }));
  assert.match(demo, /## Evaluation before and after\n\nNote: The bundled mini-ml was trained on all of the bundled data, these held-out pairs included/);
  assert.match(JSON.parse(readFileSync(join(tmp, 'caveat', 'report.json'), 'utf8')).evalCaveat, /not a gain in translation/);
  assert.ok(evalCaveat({ model: BUNDLED_MODEL, data: join(BUNDLED_DATA, 'ntrex128_train.jsonl') }));
  // The held-out NLL it names is the run's own (before training, all languages).
  const nll = { file: 'heldout.jsonl', kind: 'translation', metric: 'English-target NLL per token', better: 'lower' as const, rows: [{ lang: 'ar', n: 40, before: 1.5, after: 1.6, delta: 0.1 }, { lang: 'all', n: 200, before: 1.9453, after: 2.043, delta: 0.0977 }] };
  assert.match(evalCaveat({ model: BUNDLED_MODEL, data: BUNDLED_DATA }, [nll])!, /about 4\.7 on NTREX sentences it never saw, against 1\.95 here\)/);
  // Another model on the bundled data, or mini-ml on other data: no note.
  assert.is(evalCaveat({ model: '/m/mini-ml', data: BUNDLED_DATA }), null);
  assert.is(evalCaveat({ model: BUNDLED_MODEL, data: `${BUNDLED_DATA}-mine` }), null);
  const other = md('no-caveat', input({ file, before: p, after: p, layers: [0] }));
  assert.not.match(other, /Note: /);
  assert.is(JSON.parse(readFileSync(join(tmp, 'no-caveat', 'report.json'), 'utf8')).evalCaveat, null);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
