// `plast run`: the whole PLAST method in one resumable job.
//
//   data split -> profile (counts, R, O, K, MSD, selection) -> eval before -> train the selected
//   layers -> eval after and profile after (on the exported checkpoint, reloaded) -> report (JSON +
//   Markdown + plots)
//
// Nothing is written before the whole configuration is checked (check.ts). Every stage writes its
// outputs atomically under --out and is recorded in run.json when it is done; running the same
// command again skips finished stages and resumes an interrupted training from its last
// checkpoint. A changed setting that a finished stage depends on is refused instead of mixed into
// old results (open.ts). The stages are a table (stages.ts); this file resolves the
// configuration, checks it, opens --out and walks the table.
import { resolve } from 'node:path';
import { BUNDLED_DATA, BUNDLED_MODEL } from '../assets';
import { PlastError } from '../errors';
import { languagesBeside, parseLanguageList } from '../data/languages';
import { DEFAULT_ENGLISH_CUE } from '../data/templates';
import { profileLanguages } from '../profile/profile';
import { DEFAULT_SCOPE } from '../profile/types';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { version } from '../version';
import { checkRun } from './check';
import { ModelName, RunContext } from './context';
import { chooseData, dataFiles } from './data';
import { DEFAULT_HELDOUT, DEFAULT_LANGS, DEFAULT_RUN_TEMPLATE, DEMO_RUN, PAPER_RUN } from './defaults';
import { STAGE_TABLE, Stage } from './stages';
import { withOutputLock } from '../util/lock';
import { checkOutputDir } from '../util/paths';
import { openRun } from './open';
import { RunConfig, RunOptions, RunResult, STAGES, StageName } from './types';

export function resolveRunConfig(o: RunOptions): RunConfig {
  const bundledModel = o.model === undefined;
  const d = bundledModel ? DEMO_RUN : PAPER_RUN;
  const model = resolve(o.model ?? BUNDLED_MODEL);
  const data = resolve(o.data ?? BUNDLED_DATA);
  languagesBeside(data); // names of languages no table knows
  const langs = profileLanguages(o.langs ?? parseLanguageList(DEFAULT_LANGS));
  const files = dataFiles(data);
  const choice = chooseData(files, langs, o.profileData);
  const lim = (v: number | undefined, dflt: number | undefined): number | null => v ?? dflt ?? null;
  const template = o.template ?? DEFAULT_RUN_TEMPLATE;
  const profileTemplate = o.profileTemplate ?? template;
  // One format for the whole method: the profile's selection is trained and evaluated in the
  // format it was measured in (the train stage checks the resolved formats too).
  if (profileTemplate !== template && !o.mixFormats) {
    throw new PlastError('ERR_MISMATCH', `--profile-template ${profileTemplate} differs from --template ${template}; a run uses one conversation format (pass --mix-formats to mix them)`, {
      field: 'profileTemplate',
    });
  }
  return {
    engineVersion: version,
    model,
    bundledModel,
    data,
    dataFiles: files,
    profileData: choice.profileFile,
    profileReason: choice.profileReason,
    langs,
    backend: o.backend ?? 'auto',
    imageAspect: o.imageAspect ?? null,
    visionTower: o.visionTower !== undefined ? resolve(o.visionTower) : null,
    template,
    profileTemplate,
    englishCue: o.englishCue ?? DEFAULT_ENGLISH_CUE,
    scope: o.scope ?? DEFAULT_SCOPE,
    tau: o.tau ?? null,
    minLayers: o.minLayers ?? null,
    maxLayers: o.maxLayers ?? null,
    peak: o.peak ?? null,
    profileLimit: lim(o.profileLimit, d.profileLimit),
    layers: o.layers ?? null,
    modules: o.modules ?? TRAIN_DEFAULTS.modules,
    epochs: o.epochs ?? d.epochs,
    lr: o.lr ?? d.lr,
    batch: o.batch ?? d.batch,
    microBatch: o.microBatch ?? null,
    maxLen: o.maxLen ?? TRAIN_DEFAULTS.maxLen,
    warmup: o.warmup ?? TRAIN_DEFAULTS.warmup,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    trainLimit: lim(o.trainLimit, d.trainLimit),
    evalPerLang: lim(o.evalPerLang, d.evalPerLang),
    heldout: o.heldout ?? DEFAULT_HELDOUT,
    evalData: (o.evalData ?? []).map((f) => resolve(f)),
  };
}

const MODELS: ModelName[] = ['base', 'tuned'];

/** The last stage that runs on model `m`: the driver releases `m` after it. */
function lastStageOn(m: ModelName): StageName | undefined {
  return STAGES.filter((n) => STAGE_TABLE[n].model === m).pop();
}

/** One stage: skipped (its output read back) when run.json says an earlier invocation did it;
 * otherwise run, and recorded in run.json when it finished. */
async function runStage(c: RunContext, name: StageName, s: Stage, skipped: StageName[]): Promise<void | 'stopped'> {
  if (c.state.stages[name]?.done) {
    skipped.push(name);
    c.log(`[${name}] done in an earlier run; reusing its output`);
    s.load(c);
    return;
  }
  if (c.options.signal?.aborted) {
    throw new PlastError('ERR_INTERRUPTED', `interrupted before the ${name} stage; the finished stages are kept in ${c.out}: run the same command again to continue`, { file: c.out });
  }
  for (const k of s.needs) c.get(k);
  c.log(`[${name}]`);
  const t0 = Date.now();
  if ((await s.run(c)) === 'stopped') return 'stopped';
  c.state.stages[name] = { done: true, seconds: (Date.now() - t0) / 1000, finishedAt: new Date().toISOString() };
  c.saveState();
}

export async function runPlast(o: RunOptions): Promise<RunResult> {
  const out = resolve(o.out);
  const config = resolveRunConfig(o);
  const backend = checkRun(config, o);
  const log = o.log ?? (() => {});
  // One invocation writes a run directory at a time; a second one is refused naming the first's pid.
  return withOutputLock(checkOutputDir(out, '--out'), 'run', async () => {
    const c = new RunContext(out, config, openRun(out, config, backend, o.overwrite, log), o, log);
    c.saveState();
    const skipped: StageName[] = [];
    try {
      for (const name of STAGES) {
        const s = STAGE_TABLE[name];
        // The base loads when the run reaches its first stage, done before or not: every invocation
        // logs the backend it runs on and records it in run.json (backendUsed).
        if (s.model === 'base') await c.model('base');
        if ((await runStage(c, name, s, skipped)) === 'stopped') return result(c, 'stopped', skipped);
        s.check?.(c);
        // After train the base model is no longer needed: it is released before the tuned export loads.
        for (const m of MODELS) if (lastStageOn(m) === name) c.release(m);
      }
    } finally {
      for (const m of MODELS) c.release(m);
    }
    return result(c, 'completed', skipped);
  });
}

function result(c: RunContext, status: RunResult['status'], skipped: StageName[]): RunResult {
  const done = { out: c.out, status, state: c.state, profile: c.get('profile'), train: c.get('train'), layers: c.get('layers'), evalBefore: c.get('evalBefore') };
  // A stopped run (--stop-after, or Ctrl-C during the training) ran nothing after the training.
  return status === 'stopped'
    ? { ...done, profileAfter: null, evalAfter: [], report: { json: '', markdown: '' }, skipped }
    : { ...done, profileAfter: c.get('profileAfter'), evalAfter: c.get('evalAfter'), report: c.get('report'), skipped };
}
