// The long methods: profile, train, eval, run (jobs: one per device at a time, progress,
// cancellation), and select (no model; runs at once). Each does what its CLI command does and
// returns what that command prints with --json. Cancellation is the library's own clean stop, the
// same as Ctrl-C: a profile stops before its next batch and writes nothing, a training stops after
// its current step with a checkpoint (result status "stopped"), a run stops its training so.
import { readFileSync } from 'node:fs';
import { PlastError } from '../errors';
import { parseLanguageList } from '../data/languages';
import { Model } from '../model/model';
import { BackendChoice, resolveBackend } from '../native';
import { evalBrief } from '../eval/cli';
import { evaluate } from '../eval/evaluate';
import { reselect } from '../profile/merge';
import { parseShard, profileLanguages, runProfile, writeProfile } from '../profile/profile';
import { runPlast } from '../run/run';
import { RunOptions } from '../run/types';
import { trainSummary } from '../train/cli';
import { layersFromProfile, parseLayerList } from '../train/layers';
import { loadState, runDirOf } from '../train/state';
import { TrainOptions, train as trainRun } from '../train/train';
import { checkOutputDir, checkOutputFile } from '../util/paths';
import { writeJsonAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';
import { Ctx } from './context';
import { ParamsOf } from './schema';

const langList = (v: string | string[]): string[] => (Array.isArray(v) ? v : parseLanguageList(v));
const layerList = (v: string | number[]): number[] => (Array.isArray(v) ? v : parseLayerList(v));
/** Only the keys given: the library applies its defaults to the rest, as the CLI leaves them unset. */
function given<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Runs `job` when the device of `backend` is free, telling the client its queue position. */
function queued<T>(ctx: Ctx, backend: BackendChoice | undefined, job: () => Promise<T>): Promise<T> {
  const device = resolveBackend(backend);
  return ctx.server.queues.run(device, ctx.signal, (position) => ctx.progress.note({ stage: 'queued', position }), job);
}

/** A model for one job, freed when the job ends (a training changes its weights). */
async function withModel<T>(ctx: Ctx, dir: string, backend: BackendChoice | undefined, fn: (m: Model) => Promise<T>): Promise<T> {
  const m = await Model.load(dir, { backend: resolveBackend(backend), onProgress: (d, t) => ctx.progress.update('load', d, t) });
  try {
    return await fn(m);
  } finally {
    m.dispose();
  }
}

export async function profile(p: ParamsOf<'profile'>, ctx: Ctx): Promise<unknown> {
  const out = checkOutputDir(p.out, 'out');
  const langs = profileLanguages(langList(p.langs));
  const shard = p.shard !== undefined ? parseShard(p.shard) : undefined;
  // Locked before the queue, as the CLI locks before loading the model: a second job writing
  // `out` is refused at once instead of waiting to overwrite this one's profile.
  return withOutputLock(out, 'profile', () =>
    queued(ctx, p.backend, () =>
      withModel(ctx, p.model, p.backend, async (m) => {
        const { model: _m, data, out: _o, langs: _l, shard: _s, plots, backend: _b, progressToken: _t, ...rest } = p;
        const r = await runProfile(m, {
          ...given(rest),
          data,
          langs,
          ...(shard ? { shard } : {}),
          progress: false,
          signal: ctx.signal,
          onBatch: (b) => ctx.progress.update('profile', b.done, b.total, { tokensPerSecond: b.seconds > 0 ? b.tokens / b.seconds : 0 }),
        });
        if (ctx.signal.aborted) throw new PlastError('ERR_INTERRUPTED', 'profile cancelled; nothing written');
        await writeProfile(out, r, { plots: plots ?? true });
        return r.json;
      }),
    ),
  );
}

export async function select(p: ParamsOf<'select'>): Promise<unknown> {
  if (p.out !== undefined) checkOutputDir(p.out, 'out');
  const { profile: dir, plots, ...rest } = p;
  const r = await reselect(dir, { ...given(rest), plots: plots ?? true });
  return r.json.selection;
}

export async function train(p: ParamsOf<'train'>, ctx: Ctx): Promise<unknown> {
  const { model: modelArg, layers: layersArg, profile: prof, langs, keep, backend, progressToken: _t, ...rest } = p;
  if (layersArg !== undefined && prof !== undefined) throw new PlastError('ERR_INVALID', 'give either layers or profile, not both', { field: 'layers' });
  const stored = rest.resume ? loadState(rest.resume).state.config : undefined;
  const modelDir = modelArg ?? stored?.model;
  if (!modelDir) throw new PlastError('ERR_INVALID', 'Expected model (or resume)', { field: 'model' });
  if (!stored && !rest.data) throw new PlastError('ERR_INVALID', 'Expected data (or resume)', { field: 'data' });
  if (!stored && layersArg === undefined && !prof) throw new PlastError('ERR_INVALID', 'Expected layers or profile (or resume)', { field: 'layers' });
  if (!stored && !rest.out) throw new PlastError('ERR_INVALID', 'Expected out (or resume)', { field: 'out' });
  const layers = layersArg !== undefined ? layerList(layersArg) : prof ? layersFromProfile(prof) : undefined;
  // Locked before the queue and the model load, as the CLI does; train() takes it again nested.
  const out = checkOutputDir(rest.out ?? runDirOf(rest.resume!), 'out');
  return withOutputLock(out, 'train', () =>
    queued(ctx, backend, () =>
      withModel(ctx, modelDir, backend, async (m) => {
        const opts: TrainOptions = {
          ...given(rest),
          ...(layers ? { layers } : {}),
          ...(langs !== undefined ? { langs: langList(langs) } : {}),
          ...(keep !== undefined ? { keepCheckpoints: keep } : {}),
          progress: false,
          log: (message) => ctx.progress.note({ stage: 'train', message }),
          onStep: (s, total) => ctx.progress.update('train', s.step, total, { tokensPerSecond: s.tokensPerSecond, loss: s.loss }),
          signal: ctx.signal,
        };
        return trainSummary(await trainRun(m, opts));
      }),
    ),
  );
}

export async function evalJob(p: ParamsOf<'eval'>, ctx: Ctx): Promise<unknown> {
  const { model, langs, out, backend, progressToken: _t, ...rest } = p;
  // The report file is an output like any other: one writer, locked before the queue.
  const job = (): Promise<unknown> =>
    queued(ctx, backend, () =>
      withModel(ctx, model, backend, async (m) => {
        const report = await evaluate(m, {
          ...given(rest),
          data: rest.data,
          ...(langs !== undefined ? { langs: langList(langs) } : {}),
          onProgress: (done, total) => {
            // evaluate() has no signal of its own: it stops at the next batch through this callback,
            // and writes nothing before it ends.
            if (ctx.signal.aborted) throw new PlastError('ERR_INTERRUPTED', 'eval cancelled');
            ctx.progress.update('eval', done, total);
          },
        });
        if (out) writeJsonAtomic(out, report);
        return evalBrief(report);
      }),
    );
  return out !== undefined ? withOutputLock(checkOutputFile(out, 'out'), 'eval', job) : job();
}

export async function run(p: ParamsOf<'run'>, ctx: Ctx): Promise<unknown> {
  const { langs, layers, progressToken: _t, ...rest } = p;
  // runPlast logs "[stage]" as each stage starts: the progress stage follows it.
  let stage = 'run';
  const opts: RunOptions = {
    ...(given(rest) as RunOptions),
    ...(langs !== undefined ? { langs: langList(langs) } : {}),
    ...(layers !== undefined ? { layers: layerList(layers) } : {}),
    progress: false,
    log: (message) => {
      stage = /^\[(\w+)\]$/.exec(message)?.[1] ?? stage;
      ctx.progress.note({ stage, message });
    },
    signal: ctx.signal,
  };
  return queued(ctx, p.backend, async () => {
    const r = await runPlast(opts);
    if (r.status === 'stopped') return { status: 'stopped', step: r.train.step, totalSteps: r.train.totalSteps, out: r.out };
    return JSON.parse(readFileSync(r.report.json, 'utf8')) as unknown;
  });
}
