// The checkpoints of a run in its --out: checkpoint-NNNNNN directories in state.ts's format,
// written every --save-every steps and at the end, the newest `keep` of them kept on disk.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
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

/** What a run writes into its --out (besides the checkpoints). */
const RUN_FILES = ['model', 'delta.safetensors', 'summary.json', 'loss.svg', 'loss.png'];
const REPLACED = '.replaced';

/**
 * --overwrite: the earlier run (log, checkpoints, export, summary, plot) moves aside into
 * OUT/.replaced. It is deleted once the new run has written a checkpoint of its own, and moved back
 * in place of the new run's files if the new run fails before that, so a failed --overwrite leaves
 * the old output whole, not a mix of the two.
 */
export class ReplacedRun {
  private readonly dir: string;
  private readonly names: string[];

  constructor(private readonly out: string, log: TrainLog) {
    this.dir = join(out, REPLACED);
    io(this.dir, 'remove an earlier replaced run', () => rmSync(this.dir, { recursive: true, force: true }));
    this.names = [basename(log.path), ...checkpointDirs(out), ...RUN_FILES].filter((n) => existsSync(join(out, n)));
    if (this.names.length === 0) return;
    io(this.dir, 'set the replaced run aside', () => mkdirSync(this.dir));
    for (const n of this.names) io(join(out, n), 'set the replaced run aside', () => renameSync(join(out, n), join(this.dir, n)));
  }

  /** The new run holds a checkpoint: the old one goes. */
  commit(): void {
    io(this.dir, 'remove the replaced run', () => rmSync(this.dir, { recursive: true, force: true }));
  }

  /** The new run failed before its first checkpoint: its files go and the old run comes back. */
  restore(log: TrainLog): void {
    for (const n of [basename(log.path), ...checkpointDirs(this.out), ...RUN_FILES]) rmSync(join(this.out, n), { recursive: true, force: true });
    for (const n of this.names) renameSync(join(this.dir, n), join(this.out, n));
    rmSync(this.dir, { recursive: true, force: true });
  }
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
