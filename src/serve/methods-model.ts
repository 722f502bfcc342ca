// The methods on loaded models: backends, model.load/unload/info, tokenize, forward, generate.
// Results are what the CLI prints with --json where the CLI has the command (`plast info`,
// `plast generate`); forward's arrays are base64 or a safetensors file (arrays.ts).
import { PlastError } from '../errors';
import { generateGreedy } from '../model/generate';
import { Sequence } from '../model/batch';
import { addon, listBackends, resolveBackend } from '../native';
import { version } from '../version';
import { ArrayPayload, NamedArray, base64Array, safetensorsArrays } from './arrays';
import { Loaded } from './models';
import { Ctx } from './context';
import { ParamsOf, ResultOf } from './schema';

export function backends(): unknown {
  return { version, node: process.version, threads: addon().threads(), cudaCompiled: addon().cudaCompiled, defaultBackend: resolveBackend(), backends: listBackends() };
}

function describe(l: Loaded, reused: boolean): ResultOf<'model.load'> {
  const c = l.model.config;
  return { handle: l.handle, dir: l.dir, backend: l.backend, reused, loadSeconds: l.loadSeconds, layers: c.numLayers, hidden: c.hiddenSize, intermediate: c.intermediateSize, vocab: c.vocabSize };
}

export async function load(p: ParamsOf<'model.load'>, ctx: Ctx): Promise<ResultOf<'model.load'>> {
  const { loaded, reused } = await ctx.server.models.load(p.dir, p.backend, {
    ...(p.checkFinite !== undefined ? { checkFinite: p.checkFinite } : {}),
    onProgress: (done, total) => ctx.progress.update('load', done, total),
  });
  return describe(loaded, reused);
}

export function unload(p: ParamsOf<'model.unload'>, ctx: Ctx): ResultOf<'model.unload'> {
  return { handle: p.handle, unloaded: ctx.server.models.unload(p.handle) };
}

export function info(p: ParamsOf<'model.info'>, ctx: Ctx): ResultOf<'model.info'> {
  const l = ctx.server.models.get(p.handle);
  return { ...describe(l, true), config: l.model.config, parameters: l.model.parameterCount(), memory: l.model.memory(), forwardCalls: l.forwardCalls };
}

export function tokenize(p: ParamsOf<'tokenize'>, ctx: Ctx): ResultOf<'tokenize'> {
  return { ids: ctx.server.models.get(p.handle).model.tokenizer.encode(p.text) };
}

export async function forward(p: ParamsOf<'forward'>, ctx: Ctx): Promise<ResultOf<'forward'>> {
  const format = p.output?.format ?? 'base64';
  if (format === 'safetensors' && !p.output?.path) throw new PlastError('ERR_INVALID', 'Expected output.path with output.format "safetensors"', { field: 'output.path' });
  const l = ctx.server.models.get(p.handle);
  const m = l.model;
  const seqs: Sequence[] = p.sequences.map((s, i) => {
    const ids = s.ids ?? (s.text !== undefined ? m.tokenizer.encode(s.text) : undefined);
    if (!ids) throw new PlastError('ERR_INVALID', `Expected ids or text in sequences[${i}]`, { field: `sequences.${i}` });
    if (Array.isArray(s.count) && s.count.length !== ids.length) {
      throw new PlastError('ERR_INVALID', `Expected ${ids.length} count flags (one per token) in sequences[${i}].count but received ${s.count.length}`, { field: `sequences.${i}.count` });
    }
    const count = s.count === 'all' ? ids.map(() => true) : s.count;
    return { ids, ...(count ? { count } : {}), ...(s.logitAt ? { logitAt: s.logitAt } : {}) };
  });
  return ctx.server.queues.run(l.backend, ctx.signal, (position) => ctx.progress.note({ stage: 'queued', position }), async () => {
    const t0 = Date.now();
    const r = await m.forward(seqs);
    l.forwardCalls++;
    const c = m.config;
    // Hidden states: the residual stream after the chosen layers (0 = the embeddings, l + 1 = layer
    // l's output) at each sequence's logitAt positions (else its last token), by the lens pass.
    let hidden: NamedArray | null = null;
    if (p.hiddenAt !== undefined) {
      const at = seqs.map((s) => s.logitAt ?? [s.ids.length - 1]);
      const h = await m.lens(seqs.map((s, i) => ({ ...s, at: at[i]! })), { layers: p.hiddenAt, hidden: true });
      hidden = { name: 'hidden', dtype: 'f32', shape: [p.hiddenAt.length, h.rows, c.hiddenSize], data: h.hidden! };
    }
    const arrays: (NamedArray | null)[] = [
      r.counts ? { name: 'counts', dtype: 'i64', shape: [c.numLayers, c.intermediateSize], data: r.counts } : null,
      hidden,
      ...r.logits.map((x, i): NamedArray | null => (x ? { name: `logits.${i}`, dtype: 'f32', shape: [x.length / c.vocabSize, c.vocabSize], data: x } : null)),
    ];
    let payloads: (ArrayPayload | null)[];
    if (format === 'safetensors') {
      const present = arrays.filter((a): a is NamedArray => a !== null);
      const written = safetensorsArrays(p.output!.path!, present);
      let k = 0;
      payloads = arrays.map((a) => (a ? written[k++]! : null));
    } else {
      payloads = arrays.map((a) => (a ? base64Array(a) : null));
    }
    return {
      countedTokens: r.countedTokens,
      counts: payloads[0] ?? null,
      ...(payloads[1] ? { hidden: payloads[1] } : {}),
      logits: payloads.slice(2),
      seconds: (Date.now() - t0) / 1000,
    };
  });
}

export async function generate(p: ParamsOf<'generate'>, ctx: Ctx): Promise<ResultOf<'generate'>> {
  const l = ctx.server.models.get(p.handle);
  const tok = l.model.tokenizer;
  const prompt = p.ids ?? (p.prompt ? tok.encode(p.prompt) : tok.bosId !== undefined ? [tok.bosId] : tok.encode(''));
  const stopIds = p.stop ?? [...new Set([...(tok.eosId !== undefined ? [tok.eosId] : []), ...l.model.config.eosTokenIds])];
  const max = p.maxNewTokens ?? 64;
  return ctx.server.queues.run(l.backend, ctx.signal, (position) => ctx.progress.note({ stage: 'queued', position }), async () => {
    let n = 0;
    const ids = await generateGreedy(l.model, prompt, {
      maxNewTokens: max,
      stopIds,
      onToken: () => {
        ctx.progress.update('generate', ++n, max);
        // A cancelled generation ends at the next token, as a stopped job (ERR_INTERRUPTED).
        if (ctx.signal.aborted) throw new PlastError('ERR_INTERRUPTED', 'generation cancelled');
      },
    });
    return { ids, text: tok.decode(ids, { skipSpecialTokens: true }) };
  });
}
