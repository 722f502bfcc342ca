// `plast run`: the whole PLAST method in one resumable job.
//
//   data split -> profile (counts, R, O, K, MSD, selection) -> eval before -> train the selected
//   layers -> eval after and profile after (on the exported checkpoint, reloaded) -> report (JSON +
//   Markdown + plots)
//
// Every stage writes its outputs atomically under --out and is recorded in run.json when it is
// done; running the same command again skips finished stages and resumes an interrupted training
// from its last checkpoint. A changed configuration is refused instead of mixed into old results.
// The stages are a table (stages.ts); this file resolves the configuration, opens --out and walks
// the table.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUNDLED_DATA, BUNDLED_MODEL } from '../assets';
import { PlastError } from '../errors';
import { parseLanguageList } from '../data/languages';
import { DEFAULT_TEMPLATE } from '../data/templates';
import { profileLanguages } from '../profile/profile';
import { DEFAULT_SCOPE } from '../profile/types';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { version } from '../version';
import { ModelName, RunContext, STATE_FILE } from './context';
import { chooseData, dataFiles } from './data';
import { DEFAULT_HELDOUT, DEFAULT_LANGS, DEFAULT_RUN_TEMPLATE, DEMO_RUN, PAPER_RUN } from './defaults';
import { STAGE_TABLE, Stage } from './stages';
import { RunConfig, RunOptions, RunResult, RunState, STAGES, StageName } from './types';

export function resolveRunConfig(o: RunOptions): RunConfig {
  const bundledModel = o.model === undefined;
  const d = bundledModel ? DEMO_RUN : PAPER_RUN;
  const model = resolve(o.model ?? BUNDLED_MODEL);
  const data = resolve(o.data ?? BUNDLED_DATA);
  const langs = profileLanguages(o.langs ?? parseLanguageList(DEFAULT_LANGS));
  const files = dataFiles(data);
  const choice = chooseData(files, langs, o.profileData);
  const lim = (v: number | undefined, dflt: number | undefined): number | null => v ?? dflt ?? null;
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
    template: o.template ?? DEFAULT_RUN_TEMPLATE,
    profileTemplate: o.profileTemplate ?? DEFAULT_TEMPLATE,
    scope: o.scope ?? DEFAULT_SCOPE,
    tau: o.tau ?? null,
    minLayers: o.minLayers ?? null,
    maxLayers: o.maxLayers ?? null,
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

function readState(out: string): RunState | undefined {
  const f = join(out, STATE_FILE);
  if (!existsSync(f)) return undefined;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as RunState;
    if (s.format !== 'plast-run') throw new Error('not a plast-run state file');
    return s;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${f}: cannot read the run state (${(err as Error).message}); pass --overwrite to start again`, { file: f, cause: err });
  }
}

function configDiff(a: RunConfig, b: RunConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof RunConfig)[]);
  keys.delete('engineVersion');
  keys.delete('profileReason');
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k}: ${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
}

const RUN_ENTRIES = [STATE_FILE, 'data', 'profile', 'profile-after', 'train', 'eval-before.json', 'eval-after.json', 'report.json', 'report.md'];

/** The run.json of --out after the checks: the earlier run's (same configuration), or a new one
 * (--overwrite clears an earlier run's entries first). */
function openRun(out: string, config: RunConfig, overwrite: boolean | undefined): RunState {
  let state = readState(out);
  if (state && overwrite) {
    for (const e of RUN_ENTRIES) rmSync(join(out, e), { recursive: true, force: true });
    state = undefined;
  }
  if (state) {
    const diff = configDiff(state.config, config);
    if (diff.length > 0) {
      throw new PlastError('ERR_MISMATCH', `${out} holds a run with another configuration (${diff.join('; ')}); use another --out or pass --overwrite`, { file: out });
    }
  } else if (existsSync(out) && readdirSync(out).length > 0) {
    if (!overwrite) throw new PlastError('ERR_IO', `${out} exists, is not empty and holds no plast run (${STATE_FILE}); refusing to write into it`, { file: out });
  }
  mkdirSync(out, { recursive: true });
  return state ?? { format: 'plast-run', formatVersion: 1, config, stages: {} };
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
  const c = new RunContext(out, config, openRun(out, config, o.overwrite), o, o.log ?? (() => {}));
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
}

function result(c: RunContext, status: RunResult['status'], skipped: StageName[]): RunResult {
  const done = { out: c.out, status, state: c.state, profile: c.get('profile'), train: c.get('train'), layers: c.get('layers'), evalBefore: c.get('evalBefore') };
  // A stopped run (--stop-after, or Ctrl-C during the training) ran nothing after the training.
  return status === 'stopped'
    ? { ...done, profileAfter: null, evalAfter: [], report: { json: '', markdown: '' }, skipped }
    : { ...done, profileAfter: c.get('profileAfter'), evalAfter: c.get('evalAfter'), report: c.get('report'), skipped };
}
