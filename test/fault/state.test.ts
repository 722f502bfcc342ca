// Fault cases, training checkpoints: state.json made wrong field by field (types, ranges, a step
// past the run, losses that do not match the steps, the recipe's values) and state.safetensors'
// tensors (a data order that is not a permutation, NaN/Inf masters, negative or infinite Adam
// second moments). Each is refused before anything of the run is touched: loadState for the
// schema, the resume's tensor check for the values; the checkpoint directory stays as it was.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSafetensors, StWriteTensor } from '../../src/model/safetensors';
import { checkStateTensors } from '../../src/train/resume';
import { STATE_FORMAT, STATE_VERSION, TrainState, loadState } from '../../src/train/state';
import { FaultCase, checkAll, cleanup, report, tempDir } from './harness';

const root = tempDir('state');
const EXAMPLES = 6;
const TRAINABLE = ['model.layers.0.mlp.up_proj.weight'];

const VALID: TrainState = {
  format: STATE_FORMAT,
  version: STATE_VERSION,
  step: 2,
  totalSteps: 4,
  stepsPerEpoch: 2,
  warmupSteps: 0,
  config: {
    model: '/m', data: ['/d.jsonl'], layers: [0], modules: 'mlp', epochs: 2, lr: 2e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8,
    weightDecay: 0, clip: 1, batch: 3, microBatch: null, microTokens: 4096, maxLen: 512, warmup: 0, template: 'plain', langs: null, seed: 1, limit: null,
  },
  data: { fingerprint: 'abc', examples: EXAMPLES, labelTokens: 40 },
  rng: { algorithm: 'mulberry32', seed: 1, epoch: 1 },
  base: { fingerprint: 'def', dtypes: { [TRAINABLE[0]!]: 'F32' } },
  trainable: TRAINABLE,
  losses: [2.5, 2.4],
  savedAt: '2026-12-01T00:00:00Z',
  engine: '0.1.0',
};

type Tensors = { order: number[]; master: number[]; m: number[]; v: number[] };
const GOOD: Tensors = { order: [3, 1, 0, 5, 2, 4], master: [0.1, -0.2, 0.3, 0.4], m: [0, 1e-3, -1e-3, 0], v: [0, 1e-6, 2e-6, 0] };

let n = 0;
function stateDir(state: unknown, t: Tensors = GOOD, json?: string): string {
  const dir = join(root, `checkpoint-${String(n++).padStart(6, '0')}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'state.json'), json ?? JSON.stringify(state));
  const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);
  const tensors: StWriteTensor[] = [];
  for (const part of ['master', 'm', 'v'] as const) tensors.push({ name: `${part}.${TRAINABLE[0]}`, dtype: 'F32', shape: [2, 2], data: f32(t[part]) });
  tensors.push({ name: 'data.order', dtype: 'I32', shape: [t.order.length], data: new Uint8Array(Int32Array.from(t.order).buffer) });
  writeSafetensors(join(dir, 'state.safetensors'), tensors, { format: STATE_FORMAT });
  return dir;
}

const cases: FaultCase[] = [];
const schema = (name: string, state: unknown, field: string | undefined, code: string | string[] = 'ERR_FORMAT', json?: string): void => {
  const dir = stateDir(state, GOOD, json);
  cases.push({ name: `state.json: ${name}`, run: () => loadState(dir), file: 'state.json', code, ...(field ? { field } : {}), untouched: [dir] });
};
const patch = (path: string, v: unknown): unknown => {
  const s = JSON.parse(JSON.stringify(VALID)) as Record<string, unknown>;
  const keys = path.split('.');
  let o = s as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (v === undefined) delete o[keys[keys.length - 1]!];
  else o[keys[keys.length - 1]!] = v;
  return s;
};

const WRONG: unknown[] = ['x', true, [1], { a: 1 }, null];
const FIELDS: Record<string, unknown[]> = {
  step: [-1, 99, 5, 1.5],
  totalSteps: [0, -4],
  stepsPerEpoch: [0, 9],
  warmupSteps: [-1, 9],
  'config.lr': [-1, 0, 'abc'],
  'config.beta1': [1.5, -0.1],
  'config.beta2': [1, -1],
  'config.eps': [0, -1e-8],
  'config.weightDecay': [-0.1, 2],
  'config.clip': [-1],
  'config.epochs': [0, 1.5],
  'config.batch': [0, -3],
  'config.maxLen': [0],
  'config.warmup': [2, -0.5],
  'config.template': ['chatml'],
  'config.modules': ['everything'],
  'config.seed': [-1, 2 ** 33, 1.5],
  'config.layers': [[], [-1], [0.5]],
  'config.limit': [0, -1],
  'data.examples': [0, -6],
  'data.labelTokens': [-1],
  'rng.epoch': [-1, 2],
  'rng.seed': [2],
  losses: [[2.5], [2.5, 2.4, 2.3], [], [2.5, 'x']],
};
for (const [k, bad] of Object.entries(FIELDS)) {
  // null means "unset" for limit; [1] is a valid layer list.
  const wrong = WRONG.filter((v) => !(k === 'config.limit' && v === null) && !(k === 'config.layers' && JSON.stringify(v) === '[1]'));
  for (const v of [...wrong, ...bad]) schema(`${k} = ${JSON.stringify(v)}`, patch(k, v), k.replace(/^config\./, 'config.'));
}
for (const k of ['config.model', 'config.data', 'config.langs', 'data.fingerprint', 'rng.algorithm', 'base.fingerprint', 'base.dtypes', 'trainable', 'config', 'data', 'rng', 'base']) {
  for (const v of [5, [5]]) schema(`${k} = ${JSON.stringify(v)}`, patch(k, v), k);
}
for (const k of ['step', 'totalSteps', 'config', 'losses', 'trainable', 'data', 'rng', 'base']) schema(`${k} missing`, patch(k, undefined), k);
schema('trainable []', patch('trainable', []), 'trainable');
schema('format wrong', patch('format', 'other'), 'format');
schema('version 2', patch('version', 2), 'version', 'ERR_UNSUPPORTED');
schema('not JSON', null, undefined, 'ERR_FORMAT', '{"step": ');
schema('JSON null', null, undefined, 'ERR_FORMAT', 'null');
schema('a JSON list', null, undefined, 'ERR_FORMAT', '[]');
schema('empty', null, undefined, 'ERR_FORMAT', '');

// Tensor values: checked (as restoreRun does) before any is written into a model.
const tensorsCase = (name: string, t: Tensors, field: string, code: string | string[] = 'ERR_FORMAT'): void => {
  const dir = stateDir(VALID, t);
  cases.push({ name: `state.safetensors: ${name}`, run: () => checkStateTensors(loadState(dir), TRAINABLE, EXAMPLES), file: 'state.safetensors', field, code, untouched: [dir] });
};
tensorsCase('data.order all zeros', { ...GOOD, order: [0, 0, 0, 0, 0, 0] }, 'data.order');
tensorsCase('data.order out of range', { ...GOOD, order: [3, 1, 0, 5, 2, 60] }, 'data.order');
tensorsCase('data.order negative', { ...GOOD, order: [3, 1, 0, 5, 2, -1] }, 'data.order');
tensorsCase('data.order too short', { ...GOOD, order: [3, 1, 0] }, 'data.order', 'ERR_MISMATCH');
for (const [part, vals] of [
  ['v', [-1e-6]],
  ['v', [Infinity]],
  ['v', [NaN]],
  ['m', [NaN]],
  ['m', [-Infinity]],
  ['master', [NaN]],
  ['master', [Infinity]],
] as const) {
  const t = { ...GOOD, [part]: [...vals, ...GOOD[part].slice(vals.length)] };
  tensorsCase(`${part} holds ${vals[0]}`, t, `${part}.${TRAINABLE[0]}`);
}
{
  const dir = stateDir(VALID);
  rmSync(join(dir, 'state.safetensors'));
  cases.push({ name: 'state.safetensors missing', run: () => loadState(dir), file: 'state.safetensors', code: 'ERR_IO' });
}

test(`checkpoint state: ${cases.length} damaged checkpoints are refused before anything is touched`, async () => {
  report('checkpoint state', cases.length);
  await checkAll(cases);
});

test('control: the valid state loads and its tensors pass', () => {
  const s = loadState(stateDir(VALID));
  assert.is(s.state.step, 2);
  checkStateTensors(s, TRAINABLE, EXAMPLES);
});

test.after(cleanup(root));
test.run();
