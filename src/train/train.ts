// PLAST fine-tuning: only the selected decoder layers train (fp32 masters, grads and AdamW state
// for their tensors; everything else frozen), on X -> English question-translation pairs with the
// loss on the English target + EOS (paper eq. 8, DESIGN.md prompt).
//
// One optimizer step = one effective batch of `batch` sequences (the last of an epoch may be
// smaller), run as micro-batches with gradient accumulation. The label tokens of the whole
// effective batch are counted first and every micro-batch's loss is scaled by 1/N, so the step's
// gradient is the gradient of the mean NLL per target token over the effective batch, however it
// is split. Then: grad norm -> NaN/Inf check -> clip coefficient min(1, clip / (norm + 1e-6)) ->
// AdamW (torch semantics) at the HF warmup+cosine lr for this step.
//
// Determinism: data order per epoch comes from (seed, epoch) alone; micro-batching is a pure
// function of the batch; the native CPU reductions have a fixed order. A checkpoint holds masters,
// Adam moments, the step counter and the epoch order, so a resumed run repeats the uninterrupted
// run's losses bit for bit.
//
// The parts, in the order a run goes through them: options.ts (config, defaults, checks), data.ts,
// trainable.ts, resume.ts, log.ts (train.jsonl), loop.ts (the steps), checkpoints.ts, result.ts
// (export, summary.json).
import { join } from 'node:path';
import { Model } from '../model/model';
import { withOutputLock } from '../util/lock';
import { makeDirs } from '../util/paths';
import { version } from '../version';
import { Checkpoints, ReplacedRun, refuseExistingRun } from './checkpoints';
import { prepareData } from './data';
import { lossPlotter } from './loss-plot';
import { TrainLog } from './log';
import { Position, SavedOrder, epochOrders, planSteps, runSteps } from './loop';
import { TrainOptions, checkRunOptions, resolveConfig, resumeConfig } from './options';
import { TrainResult, exportRun, writeSummary } from './result';
import { checkResumedBase, checkResumedData, restoreRun } from './resume';
import { baseFingerprint, loadState } from './state';
import { makeTrainable } from './trainable';

export type { DataReport } from './data';
export type { StepRecord } from './loop';
export type { TrainOptions } from './options';
export type { TrainResult } from './result';

/** Fine-tunes the selected layers of `model` (fresh from Model.load) and exports the result. */
export async function train(model: Model, opts: TrainOptions): Promise<TrainResult> {
  const { out, keep } = checkRunOptions(opts);
  // One writer per run directory (under the CLI's own lock on it, this just runs), taken before
  // the checkpoint is read or anything is written.
  return withOutputLock(out, 'train', () => trainIn(model, opts, out, keep));
}

async function trainIn(model: Model, opts: TrainOptions, out: string, keep: number): Promise<TrainResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  // Config: fresh, or the checkpoint's.
  const resumed = opts.resume ? loadState(opts.resume) : undefined;
  const config = resumed ? resumeConfig(resumed.state.config, opts) : resolveConfig(model, opts);
  const trainLog = new TrainLog(out);
  if (!resumed && !opts.overwrite) refuseExistingRun(out, trainLog);
  if (resumed) checkResumedBase(model, resumed);

  const data = await prepareData(model, config, opts.strict === true, log);
  const n = data.seqs.length;
  const plan = planSteps(n, config);
  if (resumed) checkResumedData(resumed, config, data, plan);
  const trainable = await makeTrainable(model, config, log);

  makeDirs(out, 'create the output directory');
  let pos: Position = { step: 0, losses: [] };
  let savedOrder: SavedOrder | undefined;
  let replaced: ReplacedRun | undefined;
  if (resumed) {
    ({ pos, savedOrder } = await restoreRun(model, resumed, trainable.names, n, plan, trainLog, log));
  } else {
    if (opts.overwrite) replaced = new ReplacedRun(out, trainLog);
    trainLog.start([
      { type: 'config', engine: version, backend: model.backend, config, totalSteps: plan.totalSteps, stepsPerEpoch: plan.stepsPerEpoch, warmupSteps: plan.warmupSteps, trainable: trainable.names, trainableParams: trainable.params, time: new Date().toISOString() },
      { type: 'data', ...data.report, badRows: undefined },
      ...data.bad.map((b) => ({ type: 'bad-row', ...b })),
    ]);
  }

  const orderFor = epochOrders(n, config.seed, savedOrder);
  const base = { fingerprint: baseFingerprint(model.checkpoint), dtypes: trainable.dtypes };
  const checkpoints = new Checkpoints(model, out, keep, { config, plan, data: data.report, base, trainable: trainable.names }, orderFor, resumed);
  const plot = lossPlotter(join(out, 'loss'), { stepsPerEpoch: plan.stepsPerEpoch, subtitle: `layers ${config.layers.join(',')} (${config.modules}) · batch ${config.batch} · lr ${config.lr}` }, log);
  const save = async (): Promise<string> => {
    const dir = await checkpoints.save(pos);
    await plot(pos.losses);
    trainLog.append({ type: 'checkpoint', step: pos.step, dir });
    replaced?.commit(); // the new run can be resumed: the one it replaces goes
    replaced = undefined;
    return dir;
  };

  let records: Awaited<ReturnType<typeof runSteps>>;
  try {
    records = await runSteps(
      { model, config, seqs: data.seqs, plan, pos, orderFor, trainLog, save, last: () => ({ dir: checkpoints.lastDir, step: checkpoints.lastStep }) },
      opts,
    );
    if (checkpoints.lastStep !== pos.step) await save();
  } catch (err) {
    replaced?.restore(trainLog); // failed before a checkpoint of its own: the old run stays whole
    throw err;
  }
  const completed = pos.step === plan.totalSteps;
  const exported = completed && opts.export !== false ? await exportRun(model, out, config, pos.step, trainLog, log) : undefined;
  await plot(pos.losses);
  const result: TrainResult = {
    out,
    status: completed ? 'completed' : 'stopped',
    step: pos.step,
    totalSteps: plan.totalSteps,
    warmupSteps: plan.warmupSteps,
    stepsPerEpoch: plan.stepsPerEpoch,
    losses: pos.losses,
    records,
    checkpoint: checkpoints.lastDir,
    ...(exported ? { export: exported } : {}),
    data: data.report,
    config,
    trainable: trainable.names,
    seconds: (Date.now() - started) / 1000,
  };
  writeSummary(result, { trainableParams: trainable.params, backend: model.backend });
  trainLog.append({ type: 'end', status: result.status, step: pos.step, seconds: result.seconds });
  return result;
}
