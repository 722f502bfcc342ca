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
import { LoadedState, RunConfig, baseFingerprint } from './state';

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
  if (JSON.stringify(s.trainable) !== JSON.stringify(trainable)) {
    throw new PlastError('ERR_MISMATCH', `--resume: the checkpoint trains ${s.trainable.length} tensors, this model/config ${trainable.length}`);
  }
  for (const nm of trainable) {
    for (const part of ['master', 'm', 'v'] as const) await model.write(nm, part, resumed.tensor(`${part}.${nm}`));
  }
  const pos: Position = { step: s.step, losses: [...s.losses] };
  const savedOrder: SavedOrder = { epoch: s.rng.epoch, order: resumed.order };
  if (savedOrder.order.length !== examples) throw new PlastError('ERR_MISMATCH', `--resume: the stored data order has ${savedOrder.order.length} entries for ${examples} pairs`);
  trainLog.keepUpTo(pos.step);
  trainLog.append({ type: 'resume', from: resumed.dir, step: pos.step, time: new Date().toISOString() });
  log(`resumed from ${resumed.dir} at step ${pos.step} of ${plan.totalSteps}`);
  return { pos, savedOrder };
}
