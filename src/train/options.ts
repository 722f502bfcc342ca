// train()'s options: what a caller may give, and the checks that turn them into the RunConfig a
// checkpoint stores (defaults from train/defaults.ts). A resumed run takes the stored config
// instead, and any option given must agree with it.
import { resolve } from 'node:path';
import { PlastError, expectPositiveInt, invalid } from '../errors';
import { ModuleSet } from '../model/model';
import { DEFAULT_MICRO_TOKENS } from '../model/batching';
import { ENGLISH_CUES, EnglishCue, FormatName, FormatModel, TEMPLATES, TemplateChoice, resolveFormat } from '../data/templates';
import { checkOutputDir } from '../util/paths';
import { TRAIN_DEFAULTS } from './defaults';
import { MODULE_SETS, formatLayerList } from './layers';
import { StepRecord } from './loop';
import { RunConfig, runDirOf } from './state';

export interface TrainOptions {
  /** Output directory: train.jsonl, summary.json, loss.svg + loss.png, checkpoint-NNNNNN/, model/,
   * delta.safetensors. Required unless resuming; a resumed run continues in the directory that
   * holds its checkpoint. */
  out?: string;
  /** JSONL file(s) of pairs or parallel text (data/pairs.ts). Required unless resuming. */
  data?: string | string[];
  /** 0-based decoder layers to train. Required unless resuming. */
  layers?: number[];
  // The recipe; a value not given takes its default from TRAIN_DEFAULTS (train/defaults.ts).
  modules?: ModuleSet;
  epochs?: number;
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  clip?: number; // 0 = no clipping
  batch?: number; // sequences per optimizer step
  microBatch?: number; // sequences per micro-batch (else a token budget)
  microTokens?: number; // padded tokens per micro-batch (default DEFAULT_MICRO_TOKENS when microBatch is not set)
  maxLen?: number;
  warmup?: number; // ratio of the total steps
  /** Conversation format (default auto: the model's own, data/templates.ts); the checkpoint
   * records the format it resolved to. */
  template?: TemplateChoice;
  /** Where the "\nEnglish:" cue goes in a conversation format (default assistant). */
  englishCue?: EnglishCue;
  /** The format of the profile whose selection is trained (its profile.json): a different one
   * is refused (ERR_MISMATCH) unless mixFormats. */
  profileFormat?: string;
  mixFormats?: boolean;
  langs?: string[]; // source languages to use (default all in the data)
  seed?: number;
  limit?: number; // first N pairs
  strict?: boolean;
  /** Save a checkpoint every N steps (and always at the end). */
  saveEvery?: number;
  /** Checkpoints kept on disk (older ones are removed after a newer one is in place). */
  keepCheckpoints?: number;
  /** A checkpoint directory (or a previous --out) to continue from. */
  resume?: string;
  /** Stop after this many optimizer steps in total (checkpoint, no export); continue with resume. */
  stopAfter?: number;
  /** Aborted: stop after the current step as with stopAfter (a checkpoint, no export). */
  signal?: AbortSignal;
  /** Write the HF export + delta at the end (default true). */
  export?: boolean;
  /** Replace an --out that already holds a run. */
  overwrite?: boolean;
  /** Progress on stderr (util/progress.ts): false for none; by default a bar on a terminal and a plain line every few seconds otherwise, unless PLAST_NO_PROGRESS is set. */
  progress?: boolean;
  /** Human-readable messages (the CLI prints them to stderr). */
  log?: (msg: string) => void;
  /** After each step, with the run's total steps. */
  onStep?: (rec: StepRecord, totalSteps: number) => void;
}

/** The options that change the math; a resumed run must keep them. */
const MATH_KEYS: (keyof RunConfig & keyof TrainOptions)[] = [
  'layers', 'modules', 'epochs', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'clip', 'batch', 'microBatch', 'microTokens', 'maxLen', 'warmup', 'template', 'englishCue', 'langs', 'seed', 'limit',
];

function finitePositive(what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(what, 'a positive number', v);
  return v;
}

function inRange(what: string, v: number, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw invalid(what, `a number in [${lo}, ${hi}]`, v);
  return v;
}

/** The options about the run rather than its math, checked before anything is read or written. */
export function checkRunOptions(o: TrainOptions): { out: string; keep: number } {
  const out = o.out ?? (o.resume !== undefined ? runDirOf(o.resume) : undefined);
  if (!out) throw new PlastError('ERR_INVALID', 'Expected an output directory (--out)', { field: 'out' });
  const keep = expectPositiveInt('keepCheckpoints', o.keepCheckpoints ?? TRAIN_DEFAULTS.keepCheckpoints);
  if (o.saveEvery !== undefined) expectPositiveInt('saveEvery', o.saveEvery);
  if (o.stopAfter !== undefined) expectPositiveInt('stopAfter', o.stopAfter);
  return { out: checkOutputDir(out, '--out'), keep };
}

const dataList = (data: string | string[]): string[] => (Array.isArray(data) ? data : [data]);

/** What resolveConfig needs of the model: its directory and layer count (a loaded Model, or a
 * Checkpoint opened to check the options before the weights load). */
export interface ModelShape {
  dir: string;
  config: { numLayers: number; modelType?: string };
  /** A loaded model's tokenizer: 'auto' and 'chat' resolve against it. */
  tokenizer?: FormatModel['tokenizer'];
}

/** The layers to train, each a layer of a model with `numLayers` layers (a list such as 0-99 is
 * named as written, not number by number). */
export function checkLayers(layers: number[], numLayers: number): void {
  const bad = layers.filter((l) => !Number.isInteger(l) || l < 0 || l >= numLayers);
  if (bad.length === 0) return;
  const ints = layers.every((l) => Number.isInteger(l) && l >= 0);
  const list = (xs: number[]): string => (ints ? formatLayerList(xs) : JSON.stringify(xs));
  throw new PlastError('ERR_INVALID', `Expected layer indices in [0, ${numLayers - 1}] (the model has ${numLayers} layers) for layers but received ${list(layers)}: ${list(bad)} ${bad.length === 1 ? 'is not a layer' : 'are not layers'} of the model`, {
    field: 'layers',
  });
}

/** A fresh run: the options with their defaults, each checked. */
export function resolveConfig(model: ModelShape, o: TrainOptions): RunConfig {
  const data = o.data === undefined ? [] : dataList(o.data);
  if (data.length === 0) throw new PlastError('ERR_INVALID', 'Expected a data file (--data) for training', { field: 'data' });
  if (!o.layers || o.layers.length === 0) throw new PlastError('ERR_INVALID', 'Expected the layers to train (--layers or --profile)', { field: 'layers' });
  checkLayers(o.layers, model.config.numLayers);
  const recipe = resolveRecipe(o);
  // The checkpoint records the format the choice resolved to (auto -> this model's own).
  const template = model.tokenizer ? resolveFormat(recipe.template as TemplateChoice, { dir: model.dir, tokenizer: model.tokenizer, config: { modelType: model.config.modelType ?? '' } }).name : recipe.template;
  checkProfileFormat(o, template);
  return {
    model: resolve(model.dir),
    data: data.map((d) => resolve(d)),
    layers: [...new Set(o.layers)].sort((a, b) => a - b),
    ...recipe,
    template,
  };
}

/** The recipe of a run (everything in RunConfig but the model, data and layers), defaults
 * filled and each value checked. */
export function resolveRecipe(o: Omit<TrainOptions, 'out'>): Omit<RunConfig, 'model' | 'data' | 'layers'> {
  const modules = o.modules ?? TRAIN_DEFAULTS.modules;
  if (!MODULE_SETS.includes(modules)) throw invalid('modules', 'all, attn or mlp', modules);
  const template = o.template ?? TRAIN_DEFAULTS.template;
  if (!TEMPLATES.includes(template)) throw invalid('template', TEMPLATES.join(', '), template);
  const englishCue = o.englishCue ?? TRAIN_DEFAULTS.englishCue;
  if (!ENGLISH_CUES.includes(englishCue)) throw invalid('englishCue', 'user or assistant', englishCue);
  const c: Omit<RunConfig, 'model' | 'data' | 'layers'> = {
    modules,
    epochs: expectPositiveInt('epochs', o.epochs ?? TRAIN_DEFAULTS.epochs),
    lr: finitePositive('lr', o.lr ?? TRAIN_DEFAULTS.lr),
    beta1: inRange('beta1', o.beta1 ?? TRAIN_DEFAULTS.beta1, 0, 0.999999),
    beta2: inRange('beta2', o.beta2 ?? TRAIN_DEFAULTS.beta2, 0, 0.999999999),
    eps: finitePositive('eps', o.eps ?? TRAIN_DEFAULTS.eps),
    weightDecay: inRange('weightDecay', o.weightDecay ?? TRAIN_DEFAULTS.weightDecay, 0, 1),
    clip: inRange('clip', o.clip ?? TRAIN_DEFAULTS.clip, 0, Infinity),
    batch: expectPositiveInt('batch', o.batch ?? TRAIN_DEFAULTS.batch),
    microBatch: o.microBatch === undefined ? null : expectPositiveInt('microBatch', o.microBatch),
    microTokens: o.microTokens === undefined ? (o.microBatch === undefined ? DEFAULT_MICRO_TOKENS : 0) : expectPositiveInt('microTokens', o.microTokens),
    maxLen: expectPositiveInt('maxLen', o.maxLen ?? TRAIN_DEFAULTS.maxLen),
    warmup: inRange('warmup', o.warmup ?? TRAIN_DEFAULTS.warmup, 0, 1),
    template: template as FormatName, // resolved against the model by resolveConfig
    englishCue,
    langs: o.langs && o.langs.length > 0 ? [...o.langs] : null,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    limit: o.limit === undefined ? null : expectPositiveInt('limit', o.limit),
  };
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff) throw invalid('seed', 'an integer in [0, 4294967295]', c.seed);
  return c;
}

/** Resume: the stored config, with any option the caller gave checked against it. */
export function resumeConfig(stored: RunConfig, o: TrainOptions): RunConfig {
  const c: RunConfig = { ...stored };
  checkProfileFormat(o, stored.template);
  for (const k of MATH_KEYS) {
    const v = o[k];
    if (v === undefined) continue;
    // auto is whatever the model's format is: the checkpoint's resolved one stands
    if (k === 'template' && v === 'auto') continue;
    if (k === 'englishCue' && stored.englishCue === undefined && v === TRAIN_DEFAULTS.englishCue) continue;
    const given = k === 'layers' ? [...new Set(v as number[])].sort((a, b) => a - b) : v;
    const same = JSON.stringify(given) === JSON.stringify(stored[k]) || (k === 'langs' && Array.isArray(v) && v.length === 0 && stored.langs === null);
    if (!same) {
      throw new PlastError('ERR_MISMATCH', `--resume: ${k} ${JSON.stringify(v)} differs from the checkpoint's ${JSON.stringify(stored[k])}; a resumed run keeps its settings`, { field: k });
    }
  }
  // The data may have moved; resume.ts checks that it is the same by its fingerprint.
  if (o.data !== undefined) c.data = dataList(o.data).map((d) => resolve(d));
  return c;
}

/** Training a profile's selection in another format than the profile's mixes two protocols. */
function checkProfileFormat(o: TrainOptions, format: string): void {
  if (o.profileFormat === undefined || o.profileFormat === format || o.mixFormats) return;
  throw new PlastError(
    'ERR_MISMATCH',
    `the layers come from a profile made with the ${o.profileFormat} format, but the training uses ${format}; profile and train with one format (--template), or pass --mix-formats to do it anyway`,
    { field: 'template' },
  );
}
