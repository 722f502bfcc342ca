// `plast run`: the whole PLAST method in one resumable job.
//
//   data split -> profile (counts, R, O, K, MSD, selection) -> eval before -> train the selected
//   layers -> eval after and profile after (on the exported checkpoint, reloaded) -> report (JSON +
//   Markdown + plots)
//
// Every stage writes its outputs atomically under --out and is recorded in run.json when it is
// done; running the same command again skips finished stages and resumes an interrupted training
// from its last checkpoint. A changed configuration is refused instead of mixed into old results.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PlastError } from '../errors';
import { parseLanguageList } from '../data/languages';
import { Model } from '../model/model';
import { profileLanguages, runProfile, writeProfile } from '../profile/profile';
import { DEFAULT_SCOPE, ProfileJson, ProfileOptions } from '../profile/types';
import { writeComparePlots } from '../profile/plots';
import { EvalReport, evaluate } from '../eval/evaluate';
import { train, TrainResult } from '../train/train';
import { progress, Progress } from '../util/progress';
import { writeJsonAtomic } from '../util/atomic';
import { version } from '../version';
import { chooseData, dataFiles, splitPairs, writePairs } from './data';
import { BUNDLED_DATA, BUNDLED_MODEL } from '../assets';
import { DEFAULT_TEMPLATE } from '../data/templates';
import { TRAIN_DEFAULTS } from '../train/defaults';
import { DEFAULT_HELDOUT, DEFAULT_LANGS, DEFAULT_RUN_TEMPLATE, DEMO_RUN, PAPER_RUN } from './defaults';
import { writeReport } from './report';
import { RunConfig, RunOptions, RunResult, RunState, StageName, TrainSummary } from './types';

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

const STATE_FILE = 'run.json';

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

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
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

export async function runPlast(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => {});
  const out = resolve(o.out);
  const config = resolveRunConfig(o);
  let state = readState(out);
  if (state && o.overwrite) {
    for (const e of RUN_ENTRIES) rmSync(join(out, e), { recursive: true, force: true });
    state = undefined;
  }
  if (state) {
    const diff = configDiff(state.config, config);
    if (diff.length > 0) {
      throw new PlastError('ERR_MISMATCH', `${out} holds a run with another configuration (${diff.join('; ')}); use another --out or pass --overwrite`, { file: out });
    }
  } else if (existsSync(out) && readdirSync(out).length > 0) {
    if (!o.overwrite) throw new PlastError('ERR_IO', `${out} exists, is not empty and holds no plast run (${STATE_FILE}); refusing to write into it`, { file: out });
  }
  mkdirSync(out, { recursive: true });
  const st: RunState = state ?? { format: 'plast-run', formatVersion: 1, config, stages: {} };
  const save = (): void => writeJsonAtomic(join(out, STATE_FILE), st);
  save();
  const skipped: StageName[] = [];
  const stage = async <T>(name: StageName, fn: () => Promise<T> | T, load: () => T, finished: () => boolean = () => true): Promise<T> => {
    if (st.stages[name]?.done) {
      skipped.push(name);
      log(`[${name}] done in an earlier run; reusing its output`);
      return load();
    }
    if (o.signal?.aborted) {
      throw new PlastError('ERR_INTERRUPTED', `interrupted before the ${name} stage; the finished stages are kept in ${out}: run the same command again to continue`, { file: out });
    }
    log(`[${name}]`);
    const t0 = Date.now();
    const v = await fn();
    if (!finished()) return v;
    st.stages[name] = { done: true, seconds: (Date.now() - t0) / 1000, finishedAt: new Date().toISOString() };
    save();
    return v;
  };

  const dataDir = join(out, 'data');
  const trainFile = join(dataDir, 'train.jsonl');
  const heldoutFile = join(dataDir, 'heldout.jsonl');
  await stage(
    'split',
    () => {
      const s = splitPairs(config.dataFiles, {
        langs: config.langs,
        seed: config.seed,
        heldoutFraction: config.heldout,
        ...(config.trainLimit !== null ? { trainLimit: config.trainLimit } : {}),
        ...(config.evalPerLang !== null ? { evalPerLang: config.evalPerLang } : {}),
      });
      mkdirSync(dataDir, { recursive: true });
      writePairs(trainFile, s.train);
      writePairs(heldoutFile, s.heldout);
      const info = { pairs: s.pairs, train: s.train.length, heldout: s.heldout.length, perLang: s.perLang, badRows: s.badRows, filtered: s.filtered };
      writeJsonAtomic(join(dataDir, 'split.json'), info);
      log(`  ${s.pairs} pairs read; ${s.train.length} for training, ${s.heldout.length} held out (by item, seed ${config.seed})${s.badRows ? `; ${s.badRows} bad row(s) not used` : ''}`);
    },
    () => undefined,
  );

  log(`loading ${config.model}`);
  const model = await Model.load(config.model, { backend: config.backend });
  st.backendUsed = model.backend;
  save();
  log(`  backend ${model.backend}`);

  const profileDir = join(out, 'profile');
  // The profile before training and the one after it use the same questions and settings.
  const profileOptions = (): ProfileOptions => ({
    data: config.profileData,
    langs: config.langs,
    scope: config.scope,
    template: config.profileTemplate,
    ...(config.profileLimit !== null ? { limit: config.profileLimit } : {}),
    ...(config.tau !== null ? { tau: config.tau } : {}),
    ...(config.minLayers !== null ? { minLayers: config.minLayers } : {}),
    ...(config.maxLayers !== null ? { maxLayers: config.maxLayers } : {}),
    ...(o.progress !== undefined ? { progress: o.progress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const profile = await stage(
    'profile',
    async () => {
      log(`  ${config.profileData}: ${config.profileReason}`);
      const p = await runProfile(model, profileOptions());
      await writeProfile(profileDir, p, { plots: true });
      const sel = p.json.selection;
      log(`  selected layers ${sel.selected.join(',') || '(none)'} (overlap peak at layer ${sel.peakLayer}, θ ${sel.theta === null ? '-' : sel.theta.toExponential(3)})`);
      return p.json;
    },
    () => readJson<ProfileJson>(join(profileDir, 'profile.json')),
  );
  const layers = config.layers ?? profile.selection.selected;
  if (layers.length === 0) {
    throw new PlastError('ERR_DATA', `the profile selected no layers (${profile.selection.reasoning.join(' ')}); rerun with --min-layers 1 or --layers`, { field: 'selection' });
  }

  const evalFiles = [heldoutFile, ...config.evalData];
  const runEvals = async (m: Model, label: string): Promise<EvalReport[]> => {
    const reps: EvalReport[] = [];
    for (const f of evalFiles) {
      const bar = evalBar(label, o.progress);
      try {
        reps.push(await evaluate(m, { data: f, template: config.template, onProgress: bar.onProgress }));
      } finally {
        bar.stop();
      }
    }
    return reps;
  };
  const evalBefore = await stage(
    'evalBefore',
    async () => {
      const r = await runEvals(model, 'eval before');
      writeJsonAtomic(join(out, 'eval-before.json'), r);
      return r;
    },
    () => readJson<EvalReport[]>(join(out, 'eval-before.json')),
  );

  const trainDir = join(out, 'train');
  let stopped = false;
  const trainSummary = await stage(
    'train',
    async () => {
      const hasCheckpoint = existsSync(trainDir) && readdirSync(trainDir).some((d) => /^checkpoint-\d+$/.test(d));
      if (hasCheckpoint) log(`  resuming from the last checkpoint in ${trainDir}`);
      const r: TrainResult = await train(model, {
        out: trainDir,
        ...(hasCheckpoint
          ? { resume: trainDir }
          : {
              data: trainFile,
              layers,
              modules: config.modules,
              epochs: config.epochs,
              lr: config.lr,
              batch: config.batch,
              ...(config.microBatch !== null ? { microBatch: config.microBatch } : {}),
              maxLen: config.maxLen,
              warmup: config.warmup,
              template: config.template,
              seed: config.seed,
              overwrite: true,
            }),
        ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.progress !== undefined ? { progress: o.progress } : {}),
        log: (m) => log(`  ${m}`),
      });
      if (r.status !== 'completed') {
        stopped = true;
        log(`  stopped after step ${r.step} of ${r.totalSteps} (checkpoint ${r.checkpoint})`);
      }
      return readJson<TrainSummary>(join(trainDir, 'summary.json'));
    },
    () => readJson<TrainSummary>(join(trainDir, 'summary.json')),
    () => !stopped,
  );
  if (stopped) {
    return { out, status: 'stopped', state: st, profile, profileAfter: null, train: trainSummary, layers, evalBefore, evalAfter: [], report: { json: '', markdown: '' }, skipped };
  }

  // The exported checkpoint, reloaded: what a user takes away is what is scored and profiled.
  let tunedModel: Model | undefined;
  const tuned = async (): Promise<Model> => (tunedModel ??= await Model.load(join(trainDir, 'model'), { backend: config.backend }));
  const evalAfter = await stage(
    'evalAfter',
    async () => {
      const r = await runEvals(await tuned(), 'eval after');
      writeJsonAtomic(join(out, 'eval-after.json'), r);
      return r;
    },
    () => readJson<EvalReport[]>(join(out, 'eval-after.json')),
  );

  const profileAfterDir = join(out, 'profile-after');
  const profileAfter = await stage(
    'profileAfter',
    async () => {
      const p = await runProfile(await tuned(), profileOptions());
      await writeProfile(profileAfterDir, p, { plots: true });
      try {
        await writeComparePlots(profileAfterDir, profile, p.json, layers);
      } catch (err) {
        log(`  the before/after plots could not be drawn: ${(err as Error).message}`);
      }
      const mean = (q: ProfileJson, ls: number[]): number => ls.reduce((a, i) => a + q.layers[i]!.overlapAvg, 0) / Math.max(1, ls.length);
      log(`  mean overlap with English over the trained layers ${mean(profile, layers).toFixed(4)} -> ${mean(p.json, layers).toFixed(4)}`);
      return p.json;
    },
    () => readJson<ProfileJson>(join(profileAfterDir, 'profile.json')),
  );

  const report = await stage(
    'report',
    async () => writeReport(out, { state: st, profile, profileAfter, train: { ...trainSummary, totalParams: model.parameterCount() }, layers, evalBefore, evalAfter }),
    () => ({ json: join(out, 'report.json'), markdown: join(out, 'report.md') }),
  );
  return { out, status: 'completed', state: st, profile, profileAfter, train: trainSummary, layers, evalBefore, evalAfter, report, skipped };
}
