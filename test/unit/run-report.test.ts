// The report of `plast run` (report.md) on a hand-made run: what was profiled is named as what it
// is (questions or sentences), the selection is stated plainly, and the profile after training is
// compared with the one before (what rose and what fell), not quoted from the paper.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeReport } from '../../src/run/report';
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

function input(o: { file: string; before: ProfileJson; after: ProfileJson; layers: number[] }): ReportInput {
  const config = { model: '/m/mini-ml', profileData: o.file, profileReason: 'why', langs: LANGS, template: 'vicuna', profileTemplate: 'plain', layers: null, modules: 'all', batch: 16, lr: 5e-4, epochs: 1, warmup: 0.03, seed: 0, backend: 'auto' } as unknown as RunConfig;
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

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
