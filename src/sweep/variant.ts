// One variant of a sweep, in its own directory OUT/variants/<name>, resumable on its own:
//   1. train: `train()` with --out = the directory (train.jsonl, summary.json, checkpoints, the
//      HF export model/ and delta.safetensors), exactly what `plast train` with the sweep's recipe
//      and the variant's layers writes; an interrupted run continues from its checkpoint
//      (train's --resume), a finished one is not run again;
//   2. eval: `evaluate()` on the exported model/ (as `plast eval --model DIR/model` would, the
//      vlmeval protocol with the tower's generator included) into eval.json;
//   3. result.json, written last: the variant is done, and a rerun skips it.
// The base variant skips 1 and evaluates the base checkpoint. Unless keepModels, the export
// model/ is removed once evaluated (delta.safetensors holds the tuned tensors).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { DEFAULT_TEMPLATE, resolveFormat } from '../data/templates';
import { EvalReport, evaluate } from '../eval/evaluate';
import { evalTemplate } from '../eval/protocol';
import { visionGenerator } from '../eval/vlmeval';
import { ImageAspect } from '../model/llava';
import { Model } from '../model/model';
import { BackendChoice } from '../native';
import { checkpointDirs } from '../train/checkpoints';
import { TrainOptions, train } from '../train/train';
import { writeJsonAtomic } from '../util/atomic';
import { EvalSettings, VariantResult, scoresOf } from './result';
import { Variant } from './variants';

/** The recipe every variant trains with (train's options without the run-specific ones). */
export type Recipe = Omit<TrainOptions, 'out' | 'data' | 'layers' | 'modules' | 'resume' | 'stopAfter' | 'signal' | 'export' | 'overwrite' | 'progress' | 'log' | 'onStep' | 'saveEvery' | 'keepCheckpoints'>;

export interface VariantContext {
  model: string;
  data: string[];
  recipe: Recipe;
  eval: EvalSettings;
  /** Load the base checkpoint and the exports with the vision tower (eval/protocol.ts decides). */
  vision?: { vision: true; imageAspect?: ImageAspect; visionTower?: string } | undefined;
  backend?: BackendChoice;
  saveEvery?: number;
  keepModels?: boolean;
  signal?: AbortSignal;
  progress?: boolean;
  log: (m: string) => void;
  /** Stop the variant's training after this many steps (tests of resuming). */
  stopAfter?: number;
}

export function readVariantResult(dir: string): VariantResult | undefined {
  const f = join(dir, 'result.json');
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as VariantResult;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${f}: not valid JSON (${(err as Error).message}); remove the variant's directory to run it again`, { file: f, cause: err });
  }
}

interface SummaryJson {
  status?: string;
  trainableParams?: number;
  seconds?: number;
  firstLoss?: number | null;
  finalLoss?: number | null;
  totalSteps?: number;
}

function readSummary(dir: string): SummaryJson | undefined {
  const f = join(dir, 'summary.json');
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as SummaryJson;
  } catch {
    return undefined;
  }
}

/** Runs (or finishes) one variant; undefined when its training was stopped (signal, stopAfter). */
export async function runVariant(v: Variant, dir: string, ctx: VariantContext): Promise<VariantResult | undefined> {
  const t0 = Date.now();
  let peak = 0;
  const load = async (d: string): Promise<Model> => {
    const m = await Model.load(d, { ...(ctx.backend !== undefined ? { backend: ctx.backend } : {}), ...ctx.vision });
    m.native.memory(true); // this variant's peak starts here
    return m;
  };
  const peakOf = (m: Model): void => {
    peak = Math.max(peak, m.memory().peak);
  };
  let trainSeconds = 0;
  let trainableParams = 0;
  let totalParams = 0;
  let evalDir = ctx.model;
  if (v.kind !== 'base') {
    const done = readSummary(dir);
    const exported = existsSync(join(dir, 'model', 'config.json'));
    if (!(done?.status === 'completed' && exported)) {
      const model = await load(ctx.model);
      try {
        totalParams = model.parameterCount();
        const resume = checkpointDirs(dir).length > 0;
        if (resume) ctx.log(`${v.name}: resuming its training from ${dir}`);
        const opts: TrainOptions = resume
          ? { resume: dir, export: true }
          : { ...ctx.recipe, out: dir, data: ctx.data, layers: v.layers, modules: v.modules, export: true, overwrite: true };
        const r = await train(model, {
          ...opts,
          ...(ctx.saveEvery !== undefined ? { saveEvery: ctx.saveEvery } : {}),
          ...(ctx.stopAfter !== undefined ? { stopAfter: ctx.stopAfter } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.progress !== undefined ? { progress: ctx.progress } : {}),
          log: (m) => ctx.log(`${v.name}: ${m}`),
        });
        peakOf(model);
        trainSeconds = r.seconds;
        if (r.status !== 'completed') return undefined;
      } finally {
        model.dispose();
      }
    }
    const s = readSummary(dir)!;
    trainableParams = s.trainableParams ?? 0;
    if (trainSeconds === 0) trainSeconds = s.seconds ?? 0;
    evalDir = join(dir, 'model');
  }
  const model = await load(evalDir);
  let report: EvalReport;
  try {
    if (totalParams === 0) totalParams = model.parameterCount();
    const vlmeval = ctx.eval.protocol === 'vlmeval';
    // vlmeval: as `plast eval --protocol vlmeval` (vicuna unless --template was given). Logits: the
    // recipe's format resolved against the base checkpoint, as the training resolved it (an
    // export's directory name no longer says vicuna), with the training's English cue.
    const template = evalTemplate(vlmeval ? 'vlmeval' : 'logits', ctx.recipe.template, () =>
      resolveFormat(ctx.recipe.template ?? DEFAULT_TEMPLATE, { dir: ctx.model, tokenizer: model.tokenizer, config: { modelType: model.config.modelType ?? '' } }, ctx.recipe.englishCue),
    );
    report = await evaluate(model, {
      data: ctx.eval.data,
      ...(ctx.eval.kind ? { kind: ctx.eval.kind } : {}),
      ...(ctx.eval.mode ? { mode: ctx.eval.mode } : {}),
      ...(ctx.eval.langs ? { langs: ctx.eval.langs } : {}),
      ...(ctx.eval.limit !== undefined ? { limit: ctx.eval.limit } : {}),
      ...(ctx.eval.prompting ? { prompting: ctx.eval.prompting } : {}),
      ...(ctx.eval.maxNewTokens !== undefined ? { maxNewTokens: ctx.eval.maxNewTokens } : {}),
      ...(vlmeval ? { protocol: 'vlmeval' as const, ...(model.vision ? { generator: visionGenerator(model) } : {}) } : {}),
      ...(template !== undefined ? { template } : {}),
    });
    peakOf(model);
  } finally {
    model.dispose();
  }
  writeJsonAtomic(join(dir, 'eval.json'), report);
  const summary = readSummary(dir);
  const { metric, scores, average } = scoresOf(report);
  const result: VariantResult = {
    name: v.name,
    kind: v.kind,
    layers: v.layers,
    modules: v.modules,
    ...(v.seed !== undefined ? { seed: v.seed } : {}),
    trainableParams,
    totalParams,
    trainablePercent: totalParams > 0 ? (100 * trainableParams) / totalParams : 0,
    metric,
    scores,
    average,
    firstLoss: summary?.firstLoss ?? null,
    finalLoss: summary?.finalLoss ?? null,
    steps: summary?.totalSteps ?? 0,
    trainSeconds,
    evalSeconds: report.seconds,
    seconds: (Date.now() - t0) / 1000,
    peakBytes: peak,
    backend: model.backend,
  };
  writeJsonAtomic(join(dir, 'result.json'), result);
  if (v.kind !== 'base' && !ctx.keepModels) rmSync(join(dir, 'model'), { recursive: true, force: true });
  return result;
}
