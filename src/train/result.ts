// The end of a run: what train() returns, the HF export + delta of a completed run, and
// summary.json (what the run did, for readers and for `plast run`'s report).
import { join } from 'node:path';
import { Model } from '../model/model';
import { writeJsonAtomic } from '../util/atomic';
import { version } from '../version';
import { DataReport } from './data';
import { ExportResult, exportCheckpoint } from './export';
import { TrainLog } from './log';
import { StepRecord } from './loop';
import { RunConfig } from './state';

export interface TrainResult {
  out: string;
  status: 'completed' | 'stopped';
  step: number;
  totalSteps: number;
  warmupSteps: number;
  stepsPerEpoch: number;
  /** Losses of every step so far (before a resume included). */
  losses: number[];
  /** The records of the steps run by this call. */
  records: StepRecord[];
  checkpoint: string;
  export?: ExportResult;
  data: DataReport;
  config: RunConfig;
  trainable: string[];
  seconds: number;
}

/** OUT/model (the base checkpoint with the tuned tensors, HF-loadable) and OUT/delta.safetensors. */
export async function exportRun(model: Model, out: string, config: RunConfig, step: number, trainLog: TrainLog, log: (m: string) => void): Promise<ExportResult> {
  log(`exporting to ${join(out, 'model')} and ${join(out, 'delta.safetensors')}`);
  const exported = await exportCheckpoint(model, join(out, 'model'), join(out, 'delta.safetensors'), {
    plast_version: version,
    base_model: config.model,
    layers: config.layers.join(','),
    modules: config.modules,
    steps: String(step),
  });
  trainLog.append({ type: 'export', dir: exported.dir, delta: exported.delta, tuned: exported.tuned.length });
  return exported;
}

export function writeSummary(r: TrainResult, extra: { trainableParams: number; backend: string }): void {
  const tps = r.records.length ? r.records.reduce((a, x) => a + x.tokens, 0) / r.records.reduce((a, x) => a + x.seconds, 0) : 0;
  writeJsonAtomic(join(r.out, 'summary.json'), {
    status: r.status,
    step: r.step,
    totalSteps: r.totalSteps,
    warmupSteps: r.warmupSteps,
    stepsPerEpoch: r.stepsPerEpoch,
    firstLoss: r.losses[0] ?? null,
    finalLoss: r.losses[r.losses.length - 1] ?? null,
    tokensPerSecond: tps,
    seconds: r.seconds,
    checkpoint: r.checkpoint,
    export: r.export ? { dir: r.export.dir, delta: r.export.delta, tuned: r.export.tuned } : null,
    config: r.config,
    trainable: r.trainable,
    trainableParams: extra.trainableParams,
    backend: extra.backend,
    data: r.data,
  });
}
