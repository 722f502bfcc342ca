// PLAST fine-tuning: only the selected decoder layers train (fp32 masters, grads and AdamW state
// for their tensors; everything else frozen), on X -> English question-translation pairs with the
// loss on the English target + EOS (paper eq. 8, DESIGN.md prompt).
//
// One optimizer step = one effective batch of `batch` sequences (the last of an epoch may be
// smaller), run as micro-batches with gradient accumulation. The label tokens of the whole
// effective batch are counted first and every micro-batch's loss is scaled by 1/N, so the step's
// gradient is the gradient of the mean NLL per target token over the effective batch, however it
// is split. Then: grad norm -> NaN/Inf check -> clip coefficient min(1, clip / (norm + 1e-6)) ->
// AdamW (torch semantics) at the HF warmup+cosine lr for this step.
//
// Determinism: data order per epoch comes from (seed, epoch) alone; micro-batching is a pure
// function of the batch; the native CPU reductions have a fixed order. A checkpoint holds masters,
// Adam moments, the step counter and the epoch order, so a resumed run repeats the uninterrupted
// run's losses bit for bit.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PlastError, expectPositiveInt, invalid } from '../errors';
import { Sequence } from '../model/batch';
import { Model, ModuleSet } from '../model/model';
import { EncodedPair, encodePairs, eosIdFor, fileFingerprint, loadPairs } from '../data/pairs';
import { BadRow, badCounts, langCounts } from '../data/rows';
import { TemplateName } from '../data/templates';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { progress } from '../util/progress';
import { version } from '../version';
import { DEFAULT_MICRO_TOKENS, microBatches } from '../model/batching';
import { ExportResult, exportCheckpoint } from './export';
import { TRAIN_DEFAULTS } from './defaults';
import { MODULE_SETS } from './layers';
import { epochOrder } from './rng';
import { clipCoefficient, cosineWithWarmup, warmupSteps } from './schedule';
import { RunConfig, STATE_FORMAT, STATE_VERSION, TrainState, baseFingerprint, loadState, saveState } from './state';
import { writeLossPlot } from './loss-plot';

export interface TrainOptions {
  /** Output directory: train.jsonl, summary.json, loss.svg + loss.png, checkpoint-NNNNNN/, model/, delta.safetensors. */
  out: string;
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
  template?: TemplateName;
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
  progress?: boolean;
  /** Human-readable messages (the CLI prints them to stderr). */
  log?: (msg: string) => void;
  onStep?: (rec: StepRecord) => void;
}

export interface StepRecord {
  type: 'step';
  step: number; // 1-based: updates done including this one
  epoch: number; // 0-based
  loss: number;
  lr: number;
  gradNorm: number;
  clipCoef: number;
  labelTokens: number;
  tokens: number;
  sequences: number;
  microBatches: number;
  seconds: number;
  tokensPerSecond: number;
}

export interface DataReport {
  files: string[];
  formats: string[];
  pairs: number;
  examples: number;
  perLang: Record<string, number>;
  bad: Record<string, number>;
  badRows: BadRow[]; // the first 100 (train.jsonl lists every one)
  filtered: Record<string, number>;
  overLimit: number;
  ignoredColumns: string[];
  tokens: number;
  labelTokens: number;
  fingerprint: string;
}

export interface TrainResult {
  out: string;
  status: 'completed' | 'stopped';
  step: number;
  totalSteps: number;
  warmupSteps: number;
  stepsPerEpoch: number;
  /** Losses of every step so far (before a resume included). */
  losses: number[];
  /** The records of the steps run by this call. */
  records: StepRecord[];
  checkpoint: string;
  export?: ExportResult;
  data: DataReport;
  config: RunConfig;
  trainable: string[];
  seconds: number;
}

const MATH_KEYS: (keyof RunConfig & keyof TrainOptions)[] = [
  'layers', 'modules', 'epochs', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'clip', 'batch', 'microBatch', 'microTokens', 'maxLen', 'warmup', 'template', 'langs', 'seed', 'limit',
];

function finitePositive(what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(what, 'a positive number', v);
  return v;
}

function inRange(what: string, v: number, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw invalid(what, `a number in [${lo}, ${hi}]`, v);
  return v;
}

function resolveConfig(model: Model, o: TrainOptions): RunConfig {
  const data = o.data === undefined ? [] : Array.isArray(o.data) ? o.data : [o.data];
  if (data.length === 0) throw new PlastError('ERR_INVALID', 'Expected a data file (--data) for training', { field: 'data' });
  if (!o.layers || o.layers.length === 0) throw new PlastError('ERR_INVALID', 'Expected the layers to train (--layers or --profile)', { field: 'layers' });
  const L = model.config.numLayers;
  for (const l of o.layers) {
    if (!Number.isInteger(l) || l < 0 || l >= L) throw invalid('layers', `layer indices in [0, ${L - 1}] (the model has ${L} layers)`, o.layers);
  }
  const modules = o.modules ?? TRAIN_DEFAULTS.modules;
  if (!MODULE_SETS.includes(modules)) throw invalid('modules', 'all, attn or mlp', modules);
  const template = o.template ?? TRAIN_DEFAULTS.template;
  if (template !== 'plain' && template !== 'vicuna') throw invalid('template', 'plain or vicuna', template);
  const c: RunConfig = {
    model: resolve(model.dir),
    data: data.map((d) => resolve(d)),
    layers: [...new Set(o.layers)].sort((a, b) => a - b),
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
    template,
    langs: o.langs && o.langs.length > 0 ? [...o.langs] : null,
    seed: o.seed ?? TRAIN_DEFAULTS.seed,
    limit: o.limit === undefined ? null : expectPositiveInt('limit', o.limit),
  };
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffffffff) throw invalid('seed', 'an integer in [0, 4294967295]', c.seed);
  return c;
}

/** Resume: the stored config, with any option the caller gave checked against it. */
function resumeConfig(stored: RunConfig, o: TrainOptions): RunConfig {
  const c: RunConfig = { ...stored };
  for (const k of MATH_KEYS) {
    const v = o[k];
    if (v === undefined) continue;
    const given = k === 'layers' ? [...new Set(v as number[])].sort((a, b) => a - b) : v;
    const same = JSON.stringify(given) === JSON.stringify(stored[k]) || (k === 'langs' && Array.isArray(v) && v.length === 0 && stored.langs === null);
    if (!same) {
      throw new PlastError('ERR_MISMATCH', `--resume: ${k} ${JSON.stringify(v)} differs from the checkpoint's ${JSON.stringify(stored[k])}; a resumed run keeps its settings`, { field: k });
    }
  }
  if (o.data !== undefined) c.data = (Array.isArray(o.data) ? o.data : [o.data]).map((d) => resolve(d));
  return c;
}

function toSequence(e: EncodedPair): Sequence & { labelCount: number } {
  const logitAt: number[] = [];
  const labels: number[] = [];
  for (let t = e.targetStart - 1; t < e.ids.length - 1; t++) {
    logitAt.push(t);
    labels.push(e.ids[t + 1]!);
  }
  return { ids: e.ids, logitAt, labels, labelCount: labels.length };
}

interface Prepared {
  examples: EncodedPair[];
  report: DataReport;
  bad: BadRow[]; // all of them (the report lists the first 100)
}

/** Loads, checks and encodes the training pairs (bad rows counted, or rejected when strict). */
export function prepareData(model: Model, c: RunConfig, strict: boolean, log: (m: string) => void): Prepared {
  const d = loadPairs(c.data, { ...(c.langs ? { langs: c.langs } : {}), strict, ...(c.limit !== null ? { limit: c.limit } : {}) });
  const eos = eosIdFor(model.tokenizer, model.config.eosTokenIds);
  const t0 = Date.now();
  const enc = encodePairs(model.tokenizer, d.pairs, { template: c.template, eosId: eos, maxLen: c.maxLen, strict });
  const bad = [...d.bad, ...enc.bad];
  const report: DataReport = {
    files: c.data,
    formats: d.format,
    pairs: d.pairs.length,
    examples: enc.examples.length,
    perLang: langCounts(enc.examples.map((e) => e.pair)),
    bad: badCounts(bad),
    badRows: bad.slice(0, 100),
    filtered: d.filtered,
    overLimit: d.overLimit,
    ignoredColumns: d.ignoredColumns,
    tokens: enc.examples.reduce((a, e) => a + e.ids.length, 0),
    labelTokens: enc.examples.reduce((a, e) => a + e.ids.length - e.targetStart, 0),
    fingerprint: fileFingerprint(c.data),
  };
  log(
    `data: ${report.examples} pairs (${Object.entries(report.perLang).map(([l, n]) => `${l} ${n}`).join(', ')}), ` +
      `${report.tokens} tokens, ${report.labelTokens} target tokens; encoded in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (bad.length > 0) log(`data: ${bad.length} bad row(s) skipped: ${Object.entries(report.bad).map(([r, n]) => `${r} ${n}`).join(', ')} (listed in train.jsonl; --strict rejects them)`);
  const filtered = Object.entries(d.filtered);
  if (filtered.length > 0) log(`data: left out by --langs: ${filtered.map(([l, n]) => `${l} ${n}`).join(', ')}`);
  if (d.overLimit > 0) log(`data: ${d.overLimit} pair(s) beyond --limit ${c.limit} not used`);
  if (d.ignoredColumns.length > 0) log(`data: columns that are not a language, not used: ${d.ignoredColumns.join(', ')}`);
  if (enc.examples.length === 0) throw new PlastError('ERR_DATA', `${c.data.join(', ')}: no usable pairs (${bad.length} bad rows)`, { file: c.data[0]! });
  return { examples: enc.examples, report, bad };
}

function checkpointDirs(out: string): string[] {
  if (!existsSync(out)) return [];
  return readdirSync(out).filter((d) => /^checkpoint-\d+$/.test(d)).sort();
}

function appendLog(path: string, rec: unknown): void {
  appendFileSync(path, JSON.stringify(rec) + '\n');
}

/** Fine-tunes the selected layers of `model` (fresh from Model.load) and exports the result. */
export async function train(model: Model, opts: TrainOptions): Promise<TrainResult> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  if (!opts.out) throw new PlastError('ERR_INVALID', 'Expected an output directory (--out)', { field: 'out' });
  const out = resolve(opts.out);
  const keep = opts.keepCheckpoints ?? TRAIN_DEFAULTS.keepCheckpoints;
  if (!Number.isInteger(keep) || keep < 1) throw invalid('keepCheckpoints', 'a positive integer', keep);
  if (opts.saveEvery !== undefined) expectPositiveInt('saveEvery', opts.saveEvery);
  if (opts.stopAfter !== undefined) expectPositiveInt('stopAfter', opts.stopAfter);

  // Config: fresh, or the checkpoint's.
  const resumed = opts.resume ? loadState(opts.resume) : undefined;
  const config = resumed ? resumeConfig(resumed.state.config, opts) : resolveConfig(model, opts);
  const logPath = join(out, 'train.jsonl');
  if (!resumed && !opts.overwrite && (existsSync(logPath) || checkpointDirs(out).length > 0)) {
    throw new PlastError('ERR_INVALID', `${out} already holds a training run; continue it with --resume ${out}, or pass --overwrite`, { field: 'out', file: out });
  }
  if (resumed) {
    const fp = baseFingerprint(model.checkpoint);
    if (fp !== resumed.state.base.fingerprint) {
      throw new PlastError('ERR_MISMATCH', `--resume: ${model.dir} is not the checkpoint this run started from (${resumed.state.config.model}): its weight layout differs`, { file: model.dir });
    }
  }

  const prep = prepareData(model, config, opts.strict === true, log);
  const examples = prep.examples;
  const seqs = examples.map(toSequence);
  const n = seqs.length;
  const stepsPerEpoch = Math.ceil(n / config.batch);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warm = warmupSteps(config.warmup, totalSteps);
  if (resumed) {
    const s = resumed.state;
    if (prep.report.fingerprint !== s.data.fingerprint || n !== s.data.examples) {
      throw new PlastError('ERR_MISMATCH', `--resume: the data (${config.data.join(', ')}) is not the data of the checkpoint (${s.data.examples} pairs, fingerprint ${s.data.fingerprint.slice(0, 12)}); got ${n} pairs, ${prep.report.fingerprint.slice(0, 12)}`, { field: 'data' });
    }
    if (s.totalSteps !== totalSteps) throw new PlastError('ERR_MISMATCH', `--resume: the run has ${totalSteps} steps but the checkpoint ${s.totalSteps}`, { field: 'data' });
  }

  // Trainable tensors: the selected layers only.
  const names = config.layers.flatMap((l) => model.layerTensorNames(l, config.modules));
  await model.setTrainable(names);
  const dtypes: Record<string, string> = {};
  for (const nm of names) dtypes[nm] = model.checkpoint.tensors.get(nm)!.dtype;
  const trainableParams = model.parameterCount(names);
  log(`training ${names.length} tensors of layer(s) ${config.layers.join(',')} (${config.modules}): ${trainableParams.toLocaleString('en-US')} of ${model.parameterCount().toLocaleString('en-US')} parameters`);

  let step = 0;
  let losses: number[] = [];
  let savedOrder: { epoch: number; order: number[] } | undefined;
  mkdirSync(out, { recursive: true });
  if (resumed) {
    const s = resumed.state;
    if (JSON.stringify(s.trainable) !== JSON.stringify(names)) {
      throw new PlastError('ERR_MISMATCH', `--resume: the checkpoint trains ${s.trainable.length} tensors, this model/config ${names.length}`);
    }
    for (const nm of names) {
      for (const part of ['master', 'm', 'v'] as const) await model.write(nm, part, resumed.tensor(`${part}.${nm}`));
    }
    step = s.step;
    losses = [...s.losses];
    savedOrder = { epoch: s.rng.epoch, order: resumed.order };
    if (savedOrder.order.length !== n) throw new PlastError('ERR_MISMATCH', `--resume: the stored data order has ${savedOrder.order.length} entries for ${n} pairs`);
    // The log keeps the records up to the checkpoint's step; later ones (an interrupted tail) go.
    if (existsSync(logPath)) {
      const kept = readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .filter((l) => {
          try {
            const r = JSON.parse(l) as { step?: unknown };
            return typeof r.step !== 'number' || r.step <= step;
          } catch {
            return false;
          }
        });
      writeFileAtomic(logPath, kept.map((l) => l + '\n').join(''));
    }
    appendLog(logPath, { type: 'resume', from: resumed.dir, step, time: new Date().toISOString() });
    log(`resumed from ${resumed.dir} at step ${step} of ${totalSteps}`);
  } else {
    if (opts.overwrite) {
      rmSync(logPath, { force: true });
      for (const d of checkpointDirs(out)) rmSync(join(out, d), { recursive: true, force: true });
    }
    writeFileSync(logPath, '');
    appendLog(logPath, { type: 'config', engine: version, backend: model.backend, config, totalSteps, stepsPerEpoch, warmupSteps: warm, trainable: names, trainableParams, time: new Date().toISOString() });
    appendLog(logPath, { type: 'data', ...prep.report, badRows: undefined });
    for (const b of prep.bad) appendLog(logPath, { type: 'bad-row', ...b });
  }

  const base = { fingerprint: baseFingerprint(model.checkpoint), dtypes };
  let epoch = -1;
  let order: number[] = [];
  const orderFor = (e: number): number[] => (savedOrder && savedOrder.epoch === e ? savedOrder.order : epochOrder(n, config.seed, e));
  const state = (): TrainState => ({
    format: STATE_FORMAT,
    version: STATE_VERSION,
    step,
    totalSteps,
    stepsPerEpoch,
    warmupSteps: warm,
    config,
    data: { fingerprint: prep.report.fingerprint, examples: n, labelTokens: prep.report.labelTokens },
    rng: { algorithm: 'mulberry32', seed: config.seed, epoch: Math.min(Math.floor(step / stepsPerEpoch), config.epochs - 1) },
    base,
    trainable: names,
    losses,
    savedAt: new Date().toISOString(),
    engine: version,
  });
  let plotted = -1;
  const plotLoss = async (): Promise<void> => {
    if (plotted === losses.length) return;
    plotted = losses.length;
    try {
      await writeLossPlot(join(out, 'loss'), losses, { stepsPerEpoch, subtitle: `layers ${config.layers.join(',')} (${config.modules}) · batch ${config.batch} · lr ${config.lr}` });
    } catch (err) {
      // The plot is a by-product: a failure to draw it must not end (or lose) a training run.
      log(`loss plot not written: ${(err as Error).message}`);
    }
  };
  let lastSaved = resumed ? resumed.dir : '';
  let lastSavedStep = resumed ? resumed.state.step : -1;
  const save = async (): Promise<string> => {
    const st = state();
    const ord = orderFor(st.rng.epoch);
    const dir = await saveState(model, out, st, ord);
    lastSaved = dir;
    lastSavedStep = step;
    for (const old of checkpointDirs(out).slice(0, -keep)) if (join(out, old) !== dir) rmSync(join(out, old), { recursive: true, force: true });
    await plotLoss();
    appendLog(logPath, { type: 'checkpoint', step, dir });
    return dir;
  };

  const stopAt = Math.min(totalSteps, opts.stopAfter ?? totalSteps);
  const bar = progress({ label: 'train', total: totalSteps, unit: 'steps', fields: ['loss', 'tokens_per_s'], ...(opts.progress !== undefined ? { enabled: opts.progress } : {}) });
  bar.update(step);
  const records: StepRecord[] = [];
  try {
    while (step < stopAt && !opts.signal?.aborted) {
      const t0 = process.hrtime.bigint();
      const e = Math.floor(step / stepsPerEpoch);
      if (e !== epoch) {
        order = orderFor(e);
        epoch = e;
      }
      const k = step % stepsPerEpoch;
      const idx = order.slice(k * config.batch, (k + 1) * config.batch);
      const labelTokens = idx.reduce((a, i) => a + seqs[i]!.labelCount, 0);
      const tokens = idx.reduce((a, i) => a + seqs[i]!.ids.length, 0);
      const groups = microBatches(idx, (i) => seqs[i]!.ids.length, { microBatch: config.microBatch, microTokens: config.microTokens || null });
      await model.zeroGrad();
      let lossSum = 0;
      let counted = 0;
      for (const g of groups) {
        const r = await model.forwardBackward(g.map((i) => seqs[i]!), 1 / labelTokens);
        lossSum += r.lossSum;
        counted += r.labelTokens;
      }
      if (counted !== labelTokens) throw new PlastError('ERR_INTERNAL', `step ${step + 1}: the backend counted ${counted} label tokens, expected ${labelTokens}`);
      const loss = lossSum / labelTokens;
      const gradNorm = await model.gradNorm();
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        // The bad update is not applied: masters and moments are still those after `step` updates.
        const what = !Number.isFinite(loss) ? `the loss is ${loss}` : `the gradient norm is ${gradNorm} (loss ${loss})`;
        if (step > lastSavedStep && step > 0) await save();
        appendLog(logPath, { type: 'error', code: 'ERR_NUMERIC', step: step + 1, loss: String(loss), gradNorm: String(gradNorm) });
        throw new PlastError(
          'ERR_NUMERIC',
          `step ${step + 1} of ${totalSteps}: ${what}; the update was not applied. ` +
            (lastSaved ? `The last good checkpoint is ${lastSaved} (step ${lastSavedStep}).` : 'No checkpoint was written (the first step failed).') +
            ' Try a lower --lr, or check the data.',
        );
      }
      const lr = cosineWithWarmup(step, warm, totalSteps, config.lr);
      const clipCoef = clipCoefficient(gradNorm, config.clip);
      await model.adamw({ lr, beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay, step: step + 1, gradScale: clipCoef });
      step++;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const rec: StepRecord = {
        type: 'step',
        step,
        epoch: e,
        loss,
        lr,
        gradNorm,
        clipCoef,
        labelTokens,
        tokens,
        sequences: idx.length,
        microBatches: groups.length,
        seconds,
        tokensPerSecond: tokens / seconds,
      };
      losses.push(loss);
      records.push(rec);
      appendLog(logPath, rec);
      opts.onStep?.(rec);
      bar.update(step, { loss: loss.toFixed(4), tokens_per_s: Math.round(rec.tokensPerSecond) });
      if (opts.saveEvery && step % opts.saveEvery === 0 && step < stopAt) await save();
    }
  } finally {
    bar.stop();
  }

  if (lastSavedStep !== step) await save();
  const completed = step === totalSteps;
  let exported: ExportResult | undefined;
  if (completed && opts.export !== false) {
    log(`exporting to ${join(out, 'model')} and ${join(out, 'delta.safetensors')}`);
    exported = await exportCheckpoint(model, join(out, 'model'), join(out, 'delta.safetensors'), {
      plast_version: version,
      base_model: config.model,
      layers: config.layers.join(','),
      modules: config.modules,
      steps: String(step),
    });
    appendLog(logPath, { type: 'export', dir: exported.dir, delta: exported.delta, tuned: exported.tuned.length });
  }
  await plotLoss();
  const result: TrainResult = {
    out,
    status: completed ? 'completed' : 'stopped',
    step,
    totalSteps,
    warmupSteps: warm,
    stepsPerEpoch,
    losses,
    records,
    checkpoint: lastSaved,
    ...(exported ? { export: exported } : {}),
    data: prep.report,
    config,
    trainable: names,
    seconds: (Date.now() - started) / 1000,
  };
  const tps = records.length ? records.reduce((a, r) => a + r.tokens, 0) / records.reduce((a, r) => a + r.seconds, 0) : 0;
  writeJsonAtomic(join(out, 'summary.json'), {
    status: result.status,
    step,
    totalSteps,
    warmupSteps: warm,
    stepsPerEpoch,
    firstLoss: losses[0] ?? null,
    finalLoss: losses[losses.length - 1] ?? null,
    tokensPerSecond: tps,
    seconds: result.seconds,
    checkpoint: lastSaved,
    export: exported ? { dir: exported.dir, delta: exported.delta, tuned: exported.tuned } : null,
    config,
    trainable: names,
    trainableParams,
    backend: model.backend,
    data: prep.report,
  });
  appendLog(logPath, { type: 'end', status: result.status, step, seconds: result.seconds });
  return result;
}
