// Continuing a run from its checkpoint (--resume). The checkpoint must be of this run: the same
// base weights, data and schedule (its config is taken as stored, options.ts) and the same
// trainable tensors. Its masters and Adam moments are written back and the step counter, the
// losses and the epoch's data order continue where it stopped, so the resumed run repeats the
// uninterrupted one bit for bit.
import { PlastError } from '../errors';
import { Model } from '../model/model';
import { TrainData } from './data';
import { TrainLog } from './log';
import { Position, SavedOrder, StepPlan } from './loop';
import { resolveRecipe } from './options';
import { LoadedState, RunConfig, TrainState, baseFingerprint } from './state';

/**
 * The schema of a state.json, checked as it is read (loadState), before anything of the run is
 * touched: a damaged or hand-edited file is an ERR_FORMAT naming the file and the field, not NaN
 * masters, a TypeError after the previous checkpoint was pruned, or a run that "finishes" at a
 * step past its end having done nothing.
 */
export function checkStateSchema(st: unknown, file: string): asserts st is TrainState {
  const fail = (field: string, expected: string, v: unknown): never => {
    throw new PlastError('ERR_FORMAT', `${file}: expected ${expected} for "${field}" but found ${JSON.stringify(v) ?? 'nothing'}`, { file, field });
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(field, 'an object', v);
  const int = (v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(field, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, v);
  const str = (v: unknown, field: string): string => (typeof v === 'string' ? v : fail(field, 'a string', v));
  const strs = (v: unknown, field: string): string[] => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : fail(field, 'a list of strings', v));

  const s = obj(st, '(top level)');
  const totalSteps = int(s['totalSteps'], 'totalSteps', 1);
  int(s['step'], 'step', 0, totalSteps);
  int(s['stepsPerEpoch'], 'stepsPerEpoch', 1, totalSteps);
  int(s['warmupSteps'], 'warmupSteps', 0, totalSteps);
  const c = obj(s['config'], 'config');
  str(c['model'], 'config.model');
  strs(c['data'], 'config.data');
  if (!Array.isArray(c['layers']) || c['layers'].length === 0 || !c['layers'].every((l) => Number.isInteger(l) && (l as number) >= 0)) {
    fail('config.layers', 'a non-empty list of layer indices', c['layers']);
  }
  if (c['langs'] !== null) strs(c['langs'], 'config.langs');
  // Every recipe value is stored (a fresh run's defaults must not fill a hole in a checkpoint);
  // microBatch and limit are null when unset.
  for (const k of ['modules', 'template', 'epochs', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'clip', 'batch', 'microTokens', 'maxLen', 'warmup', 'seed']) {
    if (c[k] === undefined || c[k] === null) fail(`config.${k}`, 'a value', c[k]);
  }
  for (const k of ['microBatch', 'limit']) if (c[k] === undefined) fail(`config.${k}`, 'a value or null', c[k]);
  // The recipe's values pass the same checks as a fresh run's options.
  try {
    resolveRecipe({
      modules: c['modules'] as RunConfig['modules'],
      template: c['template'] as RunConfig['template'],
      epochs: c['epochs'] as number,
      lr: c['lr'] as number,
      beta1: c['beta1'] as number,
      beta2: c['beta2'] as number,
      eps: c['eps'] as number,
      weightDecay: c['weightDecay'] as number,
      clip: c['clip'] as number,
      batch: c['batch'] as number,
      ...(c['microBatch'] !== null ? { microBatch: c['microBatch'] as number } : {}),
      ...(c['microTokens'] !== 0 || c['microBatch'] === null ? { microTokens: c['microTokens'] as number } : {}),
      maxLen: c['maxLen'] as number,
      warmup: c['warmup'] as number,
      seed: c['seed'] as number,
      ...(c['limit'] !== null ? { limit: c['limit'] as number } : {}),
    });
  } catch (err) {
    const field = `config.${(err as PlastError).field ?? '?'}`;
    throw new PlastError('ERR_FORMAT', `${file}: "${field}": ${(err as Error).message}`, { file, field, cause: err });
  }
  const d = obj(s['data'], 'data');
  str(d['fingerprint'], 'data.fingerprint');
  int(d['examples'], 'data.examples', 1);
  int(d['labelTokens'], 'data.labelTokens', 0);
  const r = obj(s['rng'], 'rng');
  if (r['algorithm'] !== 'mulberry32') fail('rng.algorithm', '"mulberry32"', r['algorithm']);
  if (r['seed'] !== c['seed']) fail('rng.seed', `the config's seed ${JSON.stringify(c['seed'])}`, r['seed']);
  int(r['epoch'], 'rng.epoch', 0, (c['epochs'] as number) - 1);
  const b = obj(s['base'], 'base');
  str(b['fingerprint'], 'base.fingerprint');
  const dt = obj(b['dtypes'], 'base.dtypes');
  for (const [k, v] of Object.entries(dt)) str(v, `base.dtypes.${k}`);
  const tr = strs(s['trainable'], 'trainable');
  if (tr.length === 0) fail('trainable', 'a non-empty list of tensor names', tr);
  const losses = s['losses'];
  if (!Array.isArray(losses) || !losses.every((x) => typeof x === 'number' && Number.isFinite(x))) fail('losses', 'a list of finite numbers', losses);
  if ((losses as number[]).length !== s['step']) fail('losses', `one loss per step done (${String(s['step'])})`, `${(losses as number[]).length} losses`);
}

/**
 * The stored tensors of a checkpoint, read and checked before any is written into the model: the
 * data order a permutation of the examples, masters and first moments finite, second moments
 * finite and >= 0 (Adam takes their square root). Read once here and once to restore, so memory
 * stays at one tensor.
 */
export function checkStateTensors(resumed: LoadedState, trainable: string[], examples: number): void {
  const file = `${resumed.dir}/state.safetensors`;
  const order = resumed.order;
  const seen = new Uint8Array(examples);
  if (order.length !== examples) {
    throw new PlastError('ERR_MISMATCH', `${file}: the stored data order has ${order.length} entries for ${examples} pairs`, { file, field: 'data.order' });
  }
  for (let i = 0; i < order.length; i++) {
    const k = order[i]!;
    if (!(k >= 0 && k < examples) || seen[k]) {
      throw new PlastError('ERR_FORMAT', `${file}: data.order is not a permutation of the ${examples} pairs (entry ${i} is ${k}${k >= 0 && k < examples ? ', a repeat' : ', out of range'})`, { file, field: 'data.order' });
    }
    seen[k] = 1;
  }
  for (const nm of trainable) {
    for (const part of ['master', 'm', 'v'] as const) {
      const t = resumed.tensor(`${part}.${nm}`);
      for (let i = 0; i < t.length; i++) {
        const x = t[i]!;
        if (!Number.isFinite(x) || (part === 'v' && x < 0)) {
          throw new PlastError('ERR_FORMAT', `${file}: tensor '${part}.${nm}' holds ${x} at index ${i}${part === 'v' ? ' (Adam second moments are finite and >= 0)' : ' (expected finite values)'}`, { file, field: `${part}.${nm}` });
        }
      }
    }
  }
}

/** Before the data is read: the model is the one the run started from. */
export function checkResumedBase(model: Model, resumed: LoadedState): void {
  if (baseFingerprint(model.checkpoint) !== resumed.state.base.fingerprint) {
    throw new PlastError('ERR_MISMATCH', `--resume: ${model.dir} is not the checkpoint this run started from (${resumed.state.config.model}): its weight layout differs`, { file: model.dir });
  }
}

/** After the data is read: it is the run's data, making the same number of steps. */
export function checkResumedData(resumed: LoadedState, config: RunConfig, data: TrainData, plan: StepPlan): void {
  const s = resumed.state;
  const n = data.seqs.length;
  if (data.report.fingerprint !== s.data.fingerprint || n !== s.data.examples) {
    throw new PlastError('ERR_MISMATCH', `--resume: the data (${config.data.join(', ')}) is not the data of the checkpoint (${s.data.examples} pairs, fingerprint ${s.data.fingerprint.slice(0, 12)}); got ${n} pairs, ${data.report.fingerprint.slice(0, 12)}`, { field: 'data' });
  }
  if (s.totalSteps !== plan.totalSteps) throw new PlastError('ERR_MISMATCH', `--resume: the run has ${plan.totalSteps} steps but the checkpoint ${s.totalSteps}`, { field: 'data' });
}

/** Restores the optimizer state of the trainable tensors and where the run was; the log keeps
 * its records up to the checkpoint and notes the resume. */
export async function restoreRun(
  model: Model,
  resumed: LoadedState,
  trainable: string[],
  examples: number,
  plan: StepPlan,
  trainLog: TrainLog,
  log: (m: string) => void,
): Promise<{ pos: Position; savedOrder: SavedOrder }> {
  const s = resumed.state;
  if (JSON.stringify(s.trainable) !== JSON.stringify(trainable)) throw trainableMismatch(s.trainable, trainable);
  checkStateTensors(resumed, trainable, examples);
  for (const nm of trainable) {
    for (const part of ['master', 'm', 'v'] as const) await model.write(nm, part, resumed.tensor(`${part}.${nm}`));
  }
  const pos: Position = { step: s.step, losses: [...s.losses] };
  const savedOrder: SavedOrder = { epoch: s.rng.epoch, order: resumed.order };
  trainLog.keepUpTo(pos.step);
  trainLog.append({ type: 'resume', from: resumed.dir, step: pos.step, time: new Date().toISOString() });
  log(`resumed from ${resumed.dir} at step ${pos.step} of ${plan.totalSteps}`);
  return { pos, savedOrder };
}

/** Says what differs between the checkpoint's trainable tensors and this run's, not just counts. */
function trainableMismatch(stored: string[], now: string[]): PlastError {
  const a = new Set(stored);
  const b = new Set(now);
  const only = (x: string[], y: Set<string>): string[] => x.filter((n) => !y.has(n));
  const show = (x: string[]): string => x.slice(0, 4).join(', ') + (x.length > 4 ? `, ... (${x.length} in all)` : '');
  const gone = only(stored, b);
  const added = only(now, a);
  const what =
    gone.length === 0 && added.length === 0
      ? `the same ${now.length} tensors in another order`
      : [gone.length ? `the checkpoint also trains ${show(gone)}` : '', added.length ? `this model/config also trains ${show(added)}` : ''].filter(Boolean).join('; ');
  return new PlastError('ERR_MISMATCH', `--resume: the checkpoint's trainable tensors differ from this run's: ${what}`, { field: 'trainable' });
}
