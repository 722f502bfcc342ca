// The checkpoints of a run in its --out: checkpoint-NNNNNN directories in state.ts's format,
// written every --save-every steps and at the end, the newest `keep` of them kept on disk.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { Model } from '../model/model';
import { io } from '../util/paths';
import { version } from '../version';
import { DataReport } from './data';
import { TrainLog } from './log';
import { Position, StepPlan } from './loop';
import { LoadedState, RunConfig, STATE_FORMAT, STATE_VERSION, TrainState, saveState } from './state';

export function checkpointDirs(out: string): string[] {
  if (!existsSync(out)) return [];
  return io(out, 'list the checkpoints', () => readdirSync(out)).filter((d) => /^checkpoint-\d+$/.test(d)).sort();
}

/** A fresh run does not write into an --out that holds another one, unless told to replace it. */
export function refuseExistingRun(out: string, log: TrainLog): void {
  if (log.exists() || checkpointDirs(out).length > 0) {
    throw new PlastError('ERR_INVALID', `${out} already holds a training run; continue it with --resume ${out}, or pass --overwrite`, { field: 'out', file: out });
  }
}

/** --overwrite: the earlier run's log and checkpoints go. */
export function clearRun(out: string, log: TrainLog): void {
  rmSync(log.path, { force: true });
  for (const d of checkpointDirs(out)) rmSync(join(out, d), { recursive: true, force: true });
}

/** What every checkpoint of a run records besides its position. */
export interface RunRecord {
  config: RunConfig;
  plan: StepPlan;
  data: DataReport;
  base: TrainState['base'];
  trainable: string[];
}

export class Checkpoints {
  /** The newest checkpoint written, or resumed from ('' and -1 before there is one). */
  lastDir: string;
  lastStep: number;

  constructor(
    private readonly model: Model,
    private readonly out: string,
    private readonly keep: number,
    private readonly run: RunRecord,
    private readonly orderFor: (epoch: number) => number[],
    resumed?: LoadedState,
  ) {
    this.lastDir = resumed ? resumed.dir : '';
    this.lastStep = resumed ? resumed.state.step : -1;
  }

  state(pos: Position): TrainState {
    const { config, plan, data } = this.run;
    return {
      format: STATE_FORMAT,
      version: STATE_VERSION,
      step: pos.step,
      totalSteps: plan.totalSteps,
      stepsPerEpoch: plan.stepsPerEpoch,
      warmupSteps: plan.warmupSteps,
      config,
      data: { fingerprint: data.fingerprint, examples: data.examples, labelTokens: data.labelTokens },
      rng: { algorithm: 'mulberry32', seed: config.seed, epoch: Math.min(Math.floor(pos.step / plan.stepsPerEpoch), config.epochs - 1) },
      base: this.run.base,
      trainable: this.run.trainable,
      losses: pos.losses,
      savedAt: new Date().toISOString(),
      engine: version,
    };
  }

  /** Writes the checkpoint at `pos`, then removes all but the newest `keep`. */
  async save(pos: Position): Promise<string> {
    const st = this.state(pos);
    const dir = await saveState(this.model, this.out, st, this.orderFor(st.rng.epoch));
    this.lastDir = dir;
    this.lastStep = pos.step;
    for (const old of checkpointDirs(this.out).slice(0, -this.keep)) if (join(this.out, old) !== dir) rmSync(join(this.out, old), { recursive: true, force: true });
    return dir;
  }
}
