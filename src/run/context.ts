// What the stages of one `plast run` invocation share: the resolved config and run.json, the paths
// under --out, the models, and what the stages have produced so far.
import { join } from 'node:path';
import { PlastError } from '../errors';
import { EvalReport } from '../eval/evaluate';
import { jsonlHasImages } from '../data/images';
import { Model } from '../model/model';
import { hasVisionTower } from '../model/vision';
import { ProfileJson } from '../profile/types';
import { writeJsonAtomic } from '../util/atomic';
import { RunConfig, RunOptions, RunState, TrainSummary } from './types';

export const STATE_FILE = 'run.json';

/** What a run writes under --out, relative to it (besides run.json). */
export const RUN_PATHS = {
  data: 'data',
  profile: 'profile',
  evalBefore: 'eval-before.json',
  train: 'train',
  evalAfter: 'eval-after.json',
  profileAfter: 'profile-after',
  reportJson: 'report.json',
  reportMarkdown: 'report.md',
} as const;

/** What the stages produce (each under the stage's name) and what else later stages read. */
export interface RunData {
  profile: ProfileJson;
  /** The layers trained: --layers, or the profile's selection. */
  layers: number[];
  evalBefore: EvalReport[];
  train: TrainSummary;
  evalAfter: EvalReport[];
  profileAfter: ProfileJson;
  report: { json: string; markdown: string };
  /** All parameters of the base model (the report shows the trained share). */
  totalParams: number;
}

/** The models a run uses: the base checkpoint, and the tuned export that training writes. */
export type ModelName = 'base' | 'tuned';

/** A model loaded when a stage first asks for it and released when the driver says so. */
class ModelSlot {
  private model: Model | undefined;

  constructor(private readonly loader: () => Promise<Model>) {}

  async get(): Promise<Model> {
    return (this.model ??= await this.loader());
  }

  /** The one place a run lets go of a model: its weights are freed here (Model.dispose), so that
   * the base and the tuned export are never both in memory (2x the weights: too much for a 7B
   * model on one GPU). */
  release(): void {
    this.model?.dispose();
    this.model = undefined;
  }
}

export class RunContext {
  private readonly data: Partial<RunData> = {};
  private readonly models: Record<ModelName, ModelSlot>;
  readonly dirs: { data: string; profile: string; train: string; profileAfter: string };
  readonly files: { train: string; heldout: string };

  constructor(
    readonly out: string,
    readonly config: RunConfig,
    readonly state: RunState,
    readonly options: RunOptions,
    readonly log: (msg: string) => void,
  ) {
    this.dirs = { data: join(out, RUN_PATHS.data), profile: join(out, RUN_PATHS.profile), train: join(out, RUN_PATHS.train), profileAfter: join(out, RUN_PATHS.profileAfter) };
    this.files = { train: join(this.dirs.data, 'train.jsonl'), heldout: join(this.dirs.data, 'heldout.jsonl') };
    // A LLaVA checkpoint brings its vision tower when the run's data has images (rows with "image").
    const vision = (dir: string) =>
      hasVisionTower(dir) && jsonlHasImages([...new Set([...config.dataFiles, config.profileData])].filter((f) => /\.jsonl$/i.test(f)))
        ? { vision: true, ...(config.imageAspect !== null ? { imageAspect: config.imageAspect } : {}), ...(config.visionTower !== null ? { visionTower: config.visionTower } : {}) }
        : {};
    this.models = {
      base: new ModelSlot(async () => {
        log(`loading ${config.model}`);
        const m = await Model.load(config.model, { backend: config.backend, ...vision(config.model) });
        this.state.backendUsed = m.backend;
        this.saveState();
        log(`  backend ${m.backend}`);
        this.set('totalParams', m.parameterCount());
        return m;
      }),
      // The exported checkpoint, reloaded: what a user takes away is what is scored and profiled.
      tuned: new ModelSlot(() => Model.load(join(this.dirs.train, 'model'), { backend: config.backend, ...vision(config.model) })),
    };
  }

  /** Writes run.json. */
  saveState(): void {
    writeJsonAtomic(join(this.out, STATE_FILE), this.state);
  }

  model(name: ModelName): Promise<Model> {
    return this.models[name].get();
  }

  release(name: ModelName): void {
    this.models[name].release();
  }

  get<K extends keyof RunData>(k: K): RunData[K] {
    const v = this.data[k];
    if (v === undefined) throw new PlastError('ERR_INTERNAL', `plast run: ${k} was asked for before a stage produced it`);
    return v as RunData[K];
  }

  set<K extends keyof RunData>(k: K, v: RunData[K]): void {
    this.data[k] = v;
  }
}
