// The step loop. One optimizer step takes the next `batch` examples of this epoch's order (the
// last step of an epoch may take fewer), runs them as micro-batches with gradient accumulation,
// then: grad norm -> NaN/Inf check -> clip coefficient -> AdamW at the schedule's lr. train.ts
// says why the loss is scaled by the batch's label tokens and why the loop is deterministic.
import { stepWithoutDecayOnExempt } from './decay';
import { PlastError } from '../errors';
import { microBatches } from '../model/batching';
import { Model } from '../model/model';
import { progress } from '../util/progress';
import { TrainSequence } from './data';
import { TrainLog } from './log';
import { epochOrder } from './rng';
import { clipCoefficient, cosineWithWarmup, warmupSteps } from './schedule';
import { RunConfig } from './state';

export interface StepRecord {
  type: 'step';
  step: number; // 1-based: updates done including this one
  epoch: number; // 0-based
  loss: number;
  lr: number;
  gradNorm: number;
  clipCoef: number;
  labelTokens: number;
  tokens: number;
  sequences: number;
  microBatches: number;
  seconds: number;
  tokensPerSecond: number;
}

/** The steps the data makes. */
export interface StepPlan {
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
}

export function planSteps(examples: number, c: RunConfig): StepPlan {
  const stepsPerEpoch = Math.ceil(examples / c.batch);
  const totalSteps = stepsPerEpoch * c.epochs;
  return { stepsPerEpoch, totalSteps, warmupSteps: warmupSteps(c.warmup, totalSteps) };
}

/** How far a run is: the updates done and the loss of each. The loop advances it in place; a
 * checkpoint records it. */
export interface Position {
  step: number;
  losses: number[];
}

/** The example order a checkpoint stored for its epoch. */
export interface SavedOrder {
  epoch: number;
  order: number[];
}

/** Each epoch's example order: from (seed, epoch) alone, except the epoch a checkpoint stored. */
export function epochOrders(n: number, seed: number, saved?: SavedOrder): (epoch: number) => number[] {
  return (e) => (saved && saved.epoch === e ? saved.order : epochOrder(n, seed, e));
}

/** What the loop works on. */
export interface Loop {
  model: Model;
  config: RunConfig;
  seqs: TrainSequence[];
  plan: StepPlan;
  pos: Position;
  orderFor: (epoch: number) => number[];
  trainLog: TrainLog;
  /** Writes a checkpoint at `pos`. */
  save: () => Promise<string>;
  /** The newest checkpoint ('' and -1 before there is one). */
  last: () => { dir: string; step: number };
}

export interface LoopOptions {
  /** Stop after this step (the run is then 'stopped'). */
  stopAfter?: number;
  /** A checkpoint every this many steps. */
  saveEvery?: number;
  signal?: AbortSignal;
  progress?: boolean;
  /** After each step; totalSteps lets a caller show done/total (the server's progress). */
  onStep?: (rec: StepRecord, totalSteps: number) => void;
}

type StepMath = Pick<StepRecord, 'loss' | 'lr' | 'gradNorm' | 'clipCoef' | 'labelTokens' | 'tokens' | 'microBatches'>;

/** Runs steps from `l.pos` until the end, stopAfter or the signal; returns the records of the steps run. */
export async function runSteps(l: Loop, o: LoopOptions): Promise<StepRecord[]> {
  const { plan, pos, config } = l;
  const stopAt = Math.min(plan.totalSteps, o.stopAfter ?? plan.totalSteps);
  const bar = progress({ label: 'train', total: plan.totalSteps, start: pos.step, unit: 'steps', fields: ['loss', 'tokens_per_s'], ...(o.progress !== undefined ? { enabled: o.progress } : {}) });
  const records: StepRecord[] = [];
  let epoch = -1;
  let order: number[] = [];
  try {
    while (pos.step < stopAt && !o.signal?.aborted) {
      const t0 = process.hrtime.bigint();
      const e = Math.floor(pos.step / plan.stepsPerEpoch);
      if (e !== epoch) {
        order = l.orderFor(e);
        epoch = e;
      }
      const k = pos.step % plan.stepsPerEpoch;
      const idx = order.slice(k * config.batch, (k + 1) * config.batch);
      const s = await optimizerStep(l, idx);
      pos.step++;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const rec: StepRecord = {
        type: 'step',
        step: pos.step,
        epoch: e,
        loss: s.loss,
        lr: s.lr,
        gradNorm: s.gradNorm,
        clipCoef: s.clipCoef,
        labelTokens: s.labelTokens,
        tokens: s.tokens,
        sequences: idx.length,
        microBatches: s.microBatches,
        seconds,
        tokensPerSecond: s.tokens / seconds,
      };
      pos.losses.push(s.loss);
      records.push(rec);
      l.trainLog.append(rec);
      o.onStep?.(rec, plan.totalSteps);
      bar.update(pos.step, { loss: s.loss.toFixed(4), tokens_per_s: Math.round(rec.tokensPerSecond) });
      if (o.saveEvery && pos.step % o.saveEvery === 0 && pos.step < stopAt) await l.save();
    }
  } finally {
    bar.stop();
  }
  return records;
}

/** One update from the examples `idx`. Every micro-batch's loss is scaled by 1/N, N the label
 * tokens of the whole batch, so the gradient is that of the mean NLL per target token however the
 * batch is split. */
async function optimizerStep(l: Loop, idx: number[]): Promise<StepMath> {
  const { model, seqs, config, plan, pos } = l;
  const labelTokens = idx.reduce((a, i) => a + seqs[i]!.labelCount, 0);
  const tokens = idx.reduce((a, i) => a + seqs[i]!.ids.length, 0);
  const groups = microBatches(idx, (i) => seqs[i]!.ids.length, { microBatch: config.microBatch, microTokens: config.microTokens || null });
  await model.zeroGrad();
  let lossSum = 0;
  let counted = 0;
  for (const g of groups) {
    const r = await model.forwardBackward(g.map((i) => seqs[i]!), 1 / labelTokens);
    lossSum += r.lossSum;
    counted += r.labelTokens;
  }
  if (counted !== labelTokens) throw new PlastError('ERR_INTERNAL', `step ${pos.step + 1}: the backend counted ${counted} label tokens, expected ${labelTokens}`);
  const loss = lossSum / labelTokens;
  const gradNorm = await model.gradNorm();
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return numericFailure(l, loss, gradNorm);
  const lr = cosineWithWarmup(pos.step, plan.warmupSteps, plan.totalSteps, config.lr);
  const clipCoef = clipCoefficient(gradNorm, config.clip);
  // Biases and norm weights are not decayed (HF Trainer; decay.ts).
  await stepWithoutDecayOnExempt(model, lr, config.weightDecay, () =>
    model.adamw({ lr, beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay, step: pos.step + 1, gradScale: clipCoef }),
  );
  return { loss, lr, gradNorm, clipCoef, labelTokens, tokens, microBatches: groups.length };
}

/** A NaN/Inf loss or gradient: the update is not applied, so masters and moments are still those
 * after `pos.step` updates; they are saved (unless a checkpoint has them already) and the error
 * names the last good checkpoint. */
async function numericFailure(l: Loop, loss: number, gradNorm: number): Promise<never> {
  const step = l.pos.step;
  const what = !Number.isFinite(loss) ? `the loss is ${loss}` : `the gradient norm is ${gradNorm} (loss ${loss})`;
  if (step > l.last().step && step > 0) await l.save();
  l.trainLog.append({ type: 'error', code: 'ERR_NUMERIC', step: step + 1, loss: String(loss), gradNorm: String(gradNorm) });
  const last = l.last();
  throw new PlastError(
    'ERR_NUMERIC',
    `step ${step + 1} of ${l.plan.totalSteps}: ${what}; the update was not applied. ` +
      (last.dir ? `The last good checkpoint is ${last.dir} (step ${last.step}).` : 'No checkpoint was written (the first step failed).') +
      ' Try a lower --lr, or check the data.',
  );
}
