// `sweep(opts)`: the paper's layer-selection ablations (Fig. 5, Table 9) in one resumable run.
// From one base checkpoint and one training set, every variant (variants.ts) trains its layers
// with the same recipe and is evaluated on the same held-out data (variant.ts); the table and the
// Fig. 5 plot (table.ts) are rewritten after each variant. OUT/sweep.json holds the settings: a
// rerun with other settings is refused (a new --out, or the same settings), a rerun with the same
// ones skips the finished variants and resumes an interrupted one. `shard` runs every n-th
// variant; `mergeSweeps` (merge.ts) joins the shards' directories.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PlastError } from '../errors';
import { EvalKind, McqMode, McqProtocol } from '../eval/evaluate';
import { evalPlan } from '../eval/protocol';
import { DEFAULT_MAX_NEW_TOKENS, Prompting } from '../eval/vlmeval';
import { ImageAspect } from '../model/llava';
import { openCheckpoint } from '../model/checkpoint';
import { BackendChoice } from '../native';
import { layersFromProfile } from '../train/layers';
import { resolveRecipe } from '../train/options';
import { writeJsonAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';
import { checkOutputDir, io } from '../util/paths';
import { version } from '../version';
import { EvalSettings, VariantResult } from './result';
import { SweepTable, writeSweepTable } from './table';
import { Recipe, readVariantResult, runVariant } from './variant';
import { Variant, planVariants, shardVariants } from './variants';

export const SWEEP_FORMAT = 'plast-sweep';

export interface SweepOptions {
  model: string;
  /** Training data (pairs or parallel JSONL, as `plast train`). */
  data: string | string[];
  /** Held-out evaluation data (as `plast eval`: MCQ or translation pairs). */
  evalData: string | string[];
  out: string;
  firstK?: number[];
  randomSeeds?: number[];
  randomSize?: number;
  all?: boolean;
  base?: boolean;
  /** A `plast profile` directory: the PLAST selection and its attn / mlp variants. */
  profile?: string;
  modulesVariants?: boolean;
  recipe?: Recipe;
  evalKind?: EvalKind;
  evalMode?: McqMode;
  evalLangs?: string[];
  evalLimit?: number;
  /** MCQ: vlmeval or logits (default as `plast eval`: vlmeval for .tsv files, else logits). */
  evalProtocol?: McqProtocol;
  /** vlmeval: the paper's prompting baselines (default none). */
  evalPrompting?: Prompting;
  /** vlmeval: greedy generation length (default 256). */
  evalMaxNewTokens?: number;
  /** LLaVA checkpoints: how images fit the tower's input (default the checkpoint's). */
  imageAspect?: ImageAspect;
  /** Original LLaVA layout: a local copy of the CLIP tower. */
  visionTower?: string;
  shard?: { index: number; count: number };
  backend?: BackendChoice;
  keepModels?: boolean;
  saveEvery?: number;
  /** Stop each variant's training after this many steps (it resumes on the next run). */
  stopAfter?: number;
  signal?: AbortSignal;
  progress?: boolean;
  log?: (m: string) => void;
}

/** The settings every process of a sweep must share (sweep.json). */
export interface SweepSettings {
  model: string;
  data: string[];
  recipe: ReturnType<typeof resolveRecipe>;
  eval: EvalSettings;
  numLayers: number;
  selection: number[] | null;
  /** The vision load options, only when given (they change the images' pixels). */
  vision?: { imageAspect?: ImageAspect; visionTower?: string };
}

export interface SweepJson {
  format: typeof SWEEP_FORMAT;
  engine: string;
  settings: SweepSettings;
  variants: Variant[];
  /** null: every variant; else the shard this directory runs. */
  shard: { index: number; count: number } | null;
}

export interface SweepResult {
  out: string;
  status: 'completed' | 'stopped';
  variants: Variant[];
  /** Finished variants (this run's and earlier ones'), in the sweep's order. */
  results: VariantResult[];
  ran: string[];
  skipped: string[];
  table: SweepTable;
}

const list = (x: string | string[]): string[] => (Array.isArray(x) ? x : [x]);

export function readSweepJson(dir: string): SweepJson {
  const f = join(dir, 'sweep.json');
  let j: SweepJson;
  try {
    j = JSON.parse(readFileSync(f, 'utf8')) as SweepJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_IO' : 'ERR_FORMAT';
    throw new PlastError(code, `${f}: cannot read the sweep (${(err as Error).message})`, { file: f, cause: err });
  }
  if (j.format !== SWEEP_FORMAT) throw new PlastError('ERR_FORMAT', `${f}: format is "${String(j.format)}", expected "${SWEEP_FORMAT}"`, { file: f });
  return j;
}

export const variantDir = (out: string, name: string): string => join(out, 'variants', name);

export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const out = checkOutputDir(o.out, '--out');
  // One writer per sweep directory, before the model is read; each variant's train() is under it.
  return withOutputLock(out, 'sweep', () => sweepIn(o, out));
}

async function sweepIn(o: SweepOptions, out: string): Promise<SweepResult> {
  const log = o.log ?? (() => {});
  const ckpt = openCheckpoint(o.model);
  const L = ckpt.config.numLayers;
  const selection = o.profile !== undefined ? layersFromProfile(o.profile) : null;
  const recipe = o.recipe ?? {};
  const data = list(o.data).map((d) => resolve(d));
  const evalData = list(o.evalData);
  if (data.length === 0) throw new PlastError('ERR_INVALID', 'Expected training data (--data)', { field: 'data' });
  if (evalData.length === 0) throw new PlastError('ERR_INVALID', 'Expected evaluation data (--eval-data)', { field: 'evalData' });
  // The protocol and the vision load as `plast eval` decides them, the training data's images
  // included: the base checkpoint, each training run and each export load the same way.
  const plan = evalPlan({
    model: o.model,
    data: evalData,
    ...(o.evalKind ? { kind: o.evalKind } : {}),
    ...(o.evalProtocol ? { protocol: o.evalProtocol } : {}),
    ...(o.evalMode ? { mode: o.evalMode } : {}),
    ...(o.evalPrompting ? { prompting: o.evalPrompting } : {}),
    ...(o.evalMaxNewTokens !== undefined ? { maxNewTokens: o.evalMaxNewTokens } : {}),
    trainData: data,
    flags: { mode: '--eval-mode', prompting: '--prompting', maxNewTokens: '--max-new-tokens' },
  });
  const visionGiven = { ...(o.imageAspect ? { imageAspect: o.imageAspect } : {}), ...(o.visionTower !== undefined ? { visionTower: resolve(o.visionTower) } : {}) };
  const settings: SweepSettings = {
    model: resolve(o.model),
    data,
    recipe: resolveRecipe(recipe),
    eval: {
      data: evalData.map((d) => resolve(d)),
      ...(o.evalKind ? { kind: o.evalKind } : {}),
      ...(o.evalMode ? { mode: o.evalMode } : {}),
      ...(o.evalLangs ? { langs: o.evalLangs } : {}),
      ...(o.evalLimit !== undefined ? { limit: o.evalLimit } : {}),
      ...(plan.protocol === 'vlmeval' ? { protocol: 'vlmeval' as const, prompting: o.evalPrompting ?? 'none', maxNewTokens: o.evalMaxNewTokens ?? DEFAULT_MAX_NEW_TOKENS } : {}),
    },
    numLayers: L,
    selection,
    ...(Object.keys(visionGiven).length ? { vision: visionGiven } : {}),
  };
  const variants = planVariants({
    numLayers: L,
    ...(o.firstK ? { firstK: o.firstK } : {}),
    ...(o.randomSeeds ? { randomSeeds: o.randomSeeds } : {}),
    ...(o.randomSize !== undefined ? { randomSize: o.randomSize } : {}),
    ...(o.all !== undefined ? { all: o.all } : {}),
    ...(o.base !== undefined ? { base: o.base } : {}),
    ...(selection ? { selection } : {}),
    ...(o.modulesVariants !== undefined ? { modules: o.modulesVariants } : {}),
  });
  // The same directory again: the same settings, and no variant whose layers changed.
  if (existsSync(join(out, 'sweep.json'))) {
    const prev = readSweepJson(out);
    if (JSON.stringify(prev.settings) !== JSON.stringify(settings)) {
      throw new PlastError('ERR_MISMATCH', `${out} holds a sweep with other settings (${diffKeys(prev.settings, settings).join(', ')}); use a new --out, or the same settings to continue it`, { file: out });
    }
    for (const v of variants) {
      const p = prev.variants.find((x) => x.name === v.name);
      if (p && JSON.stringify(p) !== JSON.stringify(v)) throw new PlastError('ERR_MISMATCH', `${out}: variant ${v.name} was ${JSON.stringify(p.layers)} (${p.modules}), now ${JSON.stringify(v.layers)} (${v.modules})`, { file: out });
    }
  }
  io(out, 'create the output directory', () => mkdirSync(join(out, 'variants'), { recursive: true }));
  const json: SweepJson = { format: SWEEP_FORMAT, engine: version, settings, variants, shard: o.shard ?? null };
  writeJsonAtomic(join(out, 'sweep.json'), json);

  const mine = shardVariants(variants, o.shard);
  const ran: string[] = [];
  const skipped: string[] = [];
  let status: SweepResult['status'] = 'completed';
  for (const [i, v] of mine.entries()) {
    const dir = variantDir(out, v.name);
    const prev = readVariantResult(dir);
    if (prev) {
      skipped.push(v.name);
      log(`variant ${i + 1}/${mine.length} ${v.name}: finished before, skipped`);
      continue;
    }
    if (o.signal?.aborted) {
      status = 'stopped';
      break;
    }
    log(`variant ${i + 1}/${mine.length} ${v.name}: layers ${v.layers.length ? v.layers.join(',') : 'none'} (${v.modules})`);
    io(dir, 'create the variant directory', () => mkdirSync(dir, { recursive: true }));
    const r = await runVariant(v, dir, {
      model: o.model,
      data,
      recipe,
      eval: settings.eval,
      vision: plan.vision ? { vision: true, ...visionGiven } : undefined,
      log,
      ...(o.backend !== undefined ? { backend: o.backend } : {}),
      ...(o.keepModels !== undefined ? { keepModels: o.keepModels } : {}),
      ...(o.saveEvery !== undefined ? { saveEvery: o.saveEvery } : {}),
      ...(o.stopAfter !== undefined ? { stopAfter: o.stopAfter } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.progress !== undefined ? { progress: o.progress } : {}),
    });
    if (!r) {
      status = 'stopped';
      log(`variant ${v.name}: stopped; the same command continues it`);
      break;
    }
    ran.push(v.name);
    await writeSweepTable(out, json, collect(out, variants));
  }
  const results = collect(out, variants);
  const table = await writeSweepTable(out, json, results);
  return { out, status, variants, results, ran, skipped, table };
}

/** The finished variants under OUT, in the sweep's order. */
export function collect(out: string, variants: Variant[]): VariantResult[] {
  return variants.map((v) => readVariantResult(variantDir(out, v.name))).filter((r): r is VariantResult => r !== undefined);
}

function diffKeys(a: SweepSettings, b: SweepSettings): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])] as (keyof SweepSettings)[];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}
