// The stages of `plast run` as a table, walked in order (STAGES) by the driver in run.ts. A row
// says which model the stage runs on, what of the earlier stages' output it reads, which settings
// its output depends on and where it lies (open.ts decides from these which stages a changed
// configuration invalidates), how to run it, how to read back what an earlier invocation wrote,
// and a check of its output before the next stage starts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { DEFAULT_ENGLISH_CUE, resolveFormat } from '../data/templates';
import { parallelItems } from '../data/parallel';
import { EvalReport, evaluate } from '../eval/evaluate';
import { Model } from '../model/model';
import { writeComparePlots } from '../profile/plots';
import { runProfile, writeProfile } from '../profile/profile';
import { ProfileJson, ProfileOptions } from '../profile/types';
import { checkpointDirs } from '../train/checkpoints';
import { train } from '../train/train';
import { writeJsonAtomic } from '../util/atomic';
import { io, makeDirs } from '../util/paths';
import { Progress, progress } from '../util/progress';
import { ModelName, RUN_PATHS, RunContext, RunData } from './context';
import { splitPairs, writePairs } from './data';
import { compareProfiles, layerChanges, writeReport } from './report';
import { RunConfig, StageName, TrainSummary } from './types';

export interface Stage {
  /** The model it runs on. */
  model?: ModelName;
  /** What of the earlier stages' output it reads. */
  needs: (keyof RunData)[];
  /** The earlier stages whose output its own output derives from, under the configuration it ran
   * with. */
  reads: (config: RunConfig) => StageName[];
  /** The settings its output depends on besides those (a changed one invalidates the stage). */
  settings: (keyof RunConfig)[];
  /** Where its output lies under --out (RUN_PATHS); removed when the stage is to run again. */
  outputs: string[];
  /** Whether --out holds output of an unfinished run of the stage that the next invocation
   * continues from (a training's checkpoints): such a stage depends on its settings as a finished
   * one does. */
  partial?: (out: string) => boolean;
  /** Runs the stage, leaving its output in the context and under --out. 'stopped': it did not
   * finish (a training stopped early) and the invocation ends after it. */
  run(c: RunContext): Promise<void | 'stopped'>;
  /** Reads back the output an earlier invocation left. */
  load(c: RunContext): void;
  /** Checks the output (run or read back) before the next stage. */
  check?(c: RunContext): void;
}

/** An earlier invocation's output, read back. */
function readJson<T>(file: string): T {
  const text = io(file, 'read the output of an earlier invocation', () => readFileSync(file, 'utf8'));
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${file}: not valid JSON (${(err as Error).message})`, { file, cause: err });
  }
}

// The profile before training and the one after it use the same questions and settings.
const PROFILE_SETTINGS: (keyof RunConfig)[] = ['profileData', 'langs', 'profileTemplate', 'scope', 'tau', 'minLayers', 'maxLayers', 'peak', 'profileLimit'];

// How images are fitted to the tower and which tower encodes them: what every stage that runs a
// model sees of an image row.
const VISION_SETTINGS: (keyof RunConfig)[] = ['imageAspect', 'visionTower'];

function profileOptions(c: RunContext): ProfileOptions {
  const { config, options: o } = c;
  return {
    data: config.profileData,
    langs: config.langs,
    scope: config.scope,
    template: config.profileTemplate,
    ...(config.profileLimit !== null ? { limit: config.profileLimit } : {}),
    ...(config.tau !== null ? { tau: config.tau } : {}),
    ...(config.minLayers !== null ? { minLayers: config.minLayers } : {}),
    ...(config.maxLayers !== null ? { maxLayers: config.maxLayers } : {}),
    ...(config.peak ? { peak: config.peak } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

function evalBar(label: string, enabled: boolean | undefined): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  return {
    onProgress: (done, total) => {
      bar ??= progress({ label, total, unit: 'seqs', ...(enabled !== undefined ? { enabled } : {}) });
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** The held-out pairs and any --eval-data, each scored on `m`. */
async function runEvals(c: RunContext, m: Model, label: string): Promise<EvalReport[]> {
  const reps: EvalReport[] = [];
  // The format resolves against the base checkpoint for both models: the tuned export lives in
  // train/model, whose name would no longer say "vicuna".
  const format = resolveFormat(c.config.template, { dir: c.config.model, tokenizer: m.tokenizer, config: m.config }, c.config.englishCue ?? DEFAULT_ENGLISH_CUE);
  for (const f of [c.files.heldout, ...c.config.evalData]) {
    const bar = evalBar(label, c.options.progress);
    try {
      reps.push(await evaluate(m, { data: f, template: format, onProgress: bar.onProgress }));
    } finally {
      bar.stop();
    }
  }
  return reps;
}

/** An evaluation stage: the scores of `model` (the base, or the tuned export of the training) in
 * `file`. */
function evalStage(model: ModelName, key: 'evalBefore' | 'evalAfter', label: string, file: string): Stage {
  return {
    model,
    needs: [],
    reads: () => (model === 'base' ? ['split'] : ['split', 'train']),
    settings: [...(model === 'base' ? ['model' as const] : []), 'backend', ...VISION_SETTINGS, 'template', 'englishCue', 'evalData'],
    outputs: [file],
    run: async (c) => {
      const r = await runEvals(c, await c.model(model), label);
      writeJsonAtomic(join(c.out, file), r);
      c.set(key, r);
    },
    load: (c) => c.set(key, readJson<EvalReport[]>(join(c.out, file))),
  };
}

const split: Stage = {
  needs: [],
  reads: () => [],
  settings: ['dataFiles', 'langs', 'seed', 'heldout', 'trainLimit', 'evalPerLang'],
  outputs: [RUN_PATHS.data],
  run: async ({ config, dirs, files, log }) => {
    const s = splitPairs(config.dataFiles, {
      langs: config.langs,
      seed: config.seed,
      heldoutFraction: config.heldout,
      ...(config.trainLimit !== null ? { trainLimit: config.trainLimit } : {}),
      ...(config.evalPerLang !== null ? { evalPerLang: config.evalPerLang } : {}),
    });
    makeDirs(dirs.data);
    writePairs(files.train, s.train);
    writePairs(files.heldout, s.heldout);
    const info = { pairs: s.pairs, train: s.train.length, heldout: s.heldout.length, perLang: s.perLang, badRows: s.badRows, filtered: s.filtered };
    writeJsonAtomic(join(dirs.data, 'split.json'), info);
    log(`  ${s.pairs} pairs read; ${s.train.length} for training, ${s.heldout.length} held out (by item, seed ${config.seed})${s.badRows ? `; ${s.badRows} bad row(s) not used` : ''}`);
  },
  load: () => {},
};

const profile: Stage = {
  model: 'base',
  needs: [],
  reads: () => [],
  settings: ['model', 'backend', ...VISION_SETTINGS, ...PROFILE_SETTINGS],
  outputs: [RUN_PATHS.profile],
  run: async (c) => {
    const { profileData, profileLimit, profileReason } = c.config;
    c.log(`  profiling ${profileLimit === null ? 'all' : `the first ${profileLimit}`} parallel ${parallelItems(profileData)} of ${profileData} (${profileReason})`);
    const p = await runProfile(await c.model('base'), profileOptions(c));
    await writeProfile(c.dirs.profile, p, { plots: true });
    const sel = p.json.selection;
    c.log(`  selected layers ${sel.selected.join(',') || '(none)'} (overlap peak at layer ${sel.peakLayer}, θ ${sel.theta === null ? '-' : sel.theta.toExponential(3)})`);
    c.set('profile', p.json);
  },
  load: (c) => c.set('profile', readJson<ProfileJson>(join(c.dirs.profile, 'profile.json'))),
  // The layers to train: --layers, else the selection, which must not be empty.
  check: (c) => {
    const profile = c.get('profile');
    const layers = c.config.layers ?? profile.selection.selected;
    if (layers.length === 0) {
      throw new PlastError('ERR_DATA', `the profile selected no layers (${profile.selection.reasoning.join(' ')}); rerun with --min-layers 1 or --layers`, { field: 'selection' });
    }
    c.set('layers', layers);
  },
};

const trainStage: Stage = {
  model: 'base',
  needs: ['layers'],
  // The layers come from --layers, or from the profile's selection.
  reads: (config) => (config.layers ? ['split'] : ['split', 'profile']),
  settings: ['model', 'backend', ...VISION_SETTINGS, 'layers', 'modules', 'epochs', 'lr', 'batch', 'microBatch', 'maxLen', 'warmup', 'seed', 'template', 'englishCue'],
  outputs: [RUN_PATHS.train],
  partial: (out) => checkpointDirs(join(out, RUN_PATHS.train)).length > 0,
  run: async (c) => {
    const { config, options: o, dirs, log } = c;
    const summaryFile = join(dirs.train, 'summary.json');
    const hasCheckpoint = checkpointDirs(dirs.train).length > 0;
    if (hasCheckpoint) log(`  resuming from the last checkpoint in ${dirs.train}`);
    const r = await train(await c.model('base'), {
      out: dirs.train,
      ...(hasCheckpoint
        ? { resume: dirs.train }
        : {
            data: c.files.train,
            layers: c.get('layers'),
            modules: config.modules,
            epochs: config.epochs,
            lr: config.lr,
            batch: config.batch,
            ...(config.microBatch !== null ? { microBatch: config.microBatch } : {}),
            maxLen: config.maxLen,
            warmup: config.warmup,
            template: config.template,
            englishCue: config.englishCue ?? DEFAULT_ENGLISH_CUE,
            seed: config.seed,
            // the layers are the profile's selection: trained in the format it was measured in
            ...(config.layers ? {} : { profileFormat: c.get('profile').params.template }),
            ...(o.mixFormats ? { mixFormats: true } : {}),
            overwrite: true,
          }),
      ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.progress !== undefined ? { progress: o.progress } : {}),
      log: (m) => log(`  ${m}`),
    });
    c.set('train', readJson<TrainSummary>(summaryFile));
    if (r.status !== 'completed') {
      log(`  stopped after step ${r.step} of ${r.totalSteps} (checkpoint ${r.checkpoint})`);
      return 'stopped';
    }
  },
  load: (c) => c.set('train', readJson<TrainSummary>(join(c.dirs.train, 'summary.json'))),
};

const profileAfter: Stage = {
  model: 'tuned',
  needs: ['profile', 'layers'],
  reads: () => ['profile', 'train'],
  settings: ['backend', ...VISION_SETTINGS, ...PROFILE_SETTINGS],
  outputs: [RUN_PATHS.profileAfter],
  run: async (c) => {
    const { dirs, log } = c;
    const before = c.get('profile');
    const layers = c.get('layers');
    const m = await c.model('tuned');
    // the profile's format resolved against the base checkpoint, as in runEvals
    const template = resolveFormat(c.config.profileTemplate, { dir: c.config.model, tokenizer: m.tokenizer, config: m.config });
    const p = await runProfile(m, { ...profileOptions(c), template });
    await writeProfile(dirs.profileAfter, p, { plots: true });
    try {
      await writeComparePlots(dirs.profileAfter, before, p.json, layers);
    } catch (err) {
      log(`  the before/after plots could not be drawn: ${(err as Error).message}`);
    }
    log(`  ${compareProfiles(layerChanges(before, p.json, layers))}`);
    c.set('profileAfter', p.json);
  },
  load: (c) => c.set('profileAfter', readJson<ProfileJson>(join(c.dirs.profileAfter, 'profile.json'))),
};

const report: Stage = {
  needs: ['profile', 'profileAfter', 'train', 'totalParams', 'layers', 'evalBefore', 'evalAfter'],
  reads: () => ['split', 'profile', 'evalBefore', 'train', 'evalAfter', 'profileAfter'],
  settings: [],
  outputs: [RUN_PATHS.reportJson, RUN_PATHS.reportMarkdown],
  run: async (c) => {
    c.set(
      'report',
      writeReport(c.out, {
        state: c.state,
        profile: c.get('profile'),
        profileAfter: c.get('profileAfter'),
        train: { ...c.get('train'), totalParams: c.get('totalParams') },
        layers: c.get('layers'),
        evalBefore: c.get('evalBefore'),
        evalAfter: c.get('evalAfter'),
      }),
    );
  },
  load: (c) => c.set('report', { json: join(c.out, RUN_PATHS.reportJson), markdown: join(c.out, RUN_PATHS.reportMarkdown) }),
};

export const STAGE_TABLE: Record<StageName, Stage> = {
  split,
  profile,
  evalBefore: evalStage('base', 'evalBefore', 'eval before', RUN_PATHS.evalBefore),
  train: trainStage,
  evalAfter: evalStage('tuned', 'evalAfter', 'eval after', RUN_PATHS.evalAfter),
  profileAfter,
  report,
};
