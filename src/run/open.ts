// Opening --out for a run: the run.json an earlier invocation left there, against this
// invocation's configuration. Only what a changed setting actually invalidates is refused: a
// stage that holds output (finished, or a training with checkpoints to continue from) and depends
// on the setting — directly (the stage table's `settings`) or through an earlier stage whose
// output it derives from (`reads`). Settings no such stage depends on are taken over (the split
// does not depend on the backend). --overwrite removes just the invalidated stages' output so
// they run again; every other stage is reused.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { BackendName } from '../native';
import { checkOutputDir, makeDirs } from '../util/paths';
import { RUN_PATHS, STATE_FILE } from './context';
import { STAGE_TABLE } from './stages';
import { RunConfig, RunState, STAGES, StageName } from './types';

/** Everything a run writes under --out. */
const RUN_ENTRIES = [STATE_FILE, ...Object.values(RUN_PATHS)];

/** Fields that describe a run rather than determine its results. */
const NOT_SETTINGS = new Set<keyof RunConfig>(['engineVersion', 'profileReason', 'bundledModel']);

export interface SettingChange {
  key: keyof RunConfig;
  from: unknown;
  to: unknown;
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

/** The settings that differ between the stored run and this one. The backend is compared as
 * the one the stored run's models ran on against the one this invocation resolved ("auto" and
 * "cpu" on a machine without a GPU are the same computation). A setting a run.json from an older
 * engine lacks counts as null, "not given" (the vision options were not recorded at first). */
export function changedSettings(state: RunState, config: RunConfig, backend: BackendName): SettingChange[] {
  const old = state.config;
  const keys = new Set([...Object.keys(old), ...Object.keys(config)] as (keyof RunConfig)[]);
  const out: SettingChange[] = [];
  for (const key of keys) {
    if (NOT_SETTINGS.has(key)) continue;
    if (key === 'backend') {
      const ran = state.backendUsed;
      if (ran !== undefined ? ran !== backend : old.backend !== config.backend) out.push({ key, from: ran ?? old.backend, to: backend });
      continue;
    }
    const was = old[key] ?? null;
    const now = config[key] ?? null;
    if (JSON.stringify(was) !== JSON.stringify(now)) out.push({ key, from: was, to: now });
  }
  return out;
}

/** Whether a stage holds output in --out: finished, or an unfinished training with checkpoints. */
function holdsOutput(state: RunState, out: string, name: StageName): boolean {
  return state.stages[name]?.done === true || STAGE_TABLE[name].partial?.(out) === true;
}

/** The stages holding output that the changes invalidate, in run order, each with the changed
 * settings or earlier stages that invalidate it. */
export function invalidatedStages(state: RunState, out: string, changes: SettingChange[]): { stage: StageName; because: string[] }[] {
  const changed = new Set(changes.map((c) => c.key));
  const invalid = new Set<StageName>();
  const found: { stage: StageName; because: string[] }[] = [];
  for (const name of STAGES) {
    if (!holdsOutput(state, out, name)) continue;
    const s = STAGE_TABLE[name];
    const because = [...s.settings.filter((k) => changed.has(k)), ...s.reads(state.config).filter((r) => invalid.has(r)).map((r) => `the ${r} stage`)];
    if (because.length === 0) continue;
    invalid.add(name);
    found.push({ stage: name, because });
  }
  return found;
}

const show = (c: SettingChange): string => `${c.key}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`;

/**
 * The run.json of --out for this invocation (nothing is written here but the removal of stages
 * --overwrite redoes; the caller saves the state). A new run when --out is empty or absent; the
 * stored run with this configuration when no stage holding output depends on a changed setting;
 * otherwise ERR_MISMATCH, or with --overwrite the invalidated stages removed.
 */
export function openRun(out: string, config: RunConfig, backend: BackendName, overwrite: boolean | undefined, log: (m: string) => void): RunState {
  const fresh: RunState = { format: 'plast-run', formatVersion: 1, config, stages: {} };
  checkOutputDir(out, '--out');
  let state: RunState | undefined;
  try {
    state = readState(out);
  } catch (err) {
    if (!overwrite) throw err;
  }
  if (!state) {
    const entries = existsSync(out) ? readdirSync(out) : [];
    if (entries.length > 0) {
      if (!overwrite) throw new PlastError('ERR_IO', `${out} exists, is not empty and holds no plast run (${STATE_FILE}); refusing to write into it`, { file: out });
      for (const e of RUN_ENTRIES) rmSync(join(out, e), { recursive: true, force: true });
    }
    makeDirs(out, 'create the run directory');
    return fresh;
  }
  const changes = changedSettings(state, config, backend);
  const invalid = invalidatedStages(state, out, changes);
  if (invalid.length > 0 && !overwrite) {
    const why = invalid.map((s) => `${s.stage} (${s.because.join(', ')})`).join(', ');
    throw new PlastError(
      'ERR_MISMATCH',
      `${out} holds a run with another configuration (${changes.map(show).join('; ')}), and its stages ${why} depend on it; ` +
        `use another --out, or pass --overwrite to run ${invalid.length === 1 ? 'that stage' : 'those stages'} again (the others are kept)`,
      { file: out },
    );
  }
  for (const { stage, because } of invalid) {
    log(`[${stage}] to run again (${because.join(', ')} changed); its output is removed`);
    for (const p of STAGE_TABLE[stage].outputs) rmSync(join(out, p), { recursive: true, force: true });
    delete state.stages[stage];
  }
  const kept = changes.filter((c) => !invalid.some((s) => s.because.includes(c.key)));
  if (kept.length > 0) log(`run.json: ${kept.map(show).join('; ')} (no stage done so far depends on ${kept.length === 1 ? 'it' : 'them'})`);
  return { ...state, config };
}
