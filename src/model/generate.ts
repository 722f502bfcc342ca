// Greedy decoding. Each step runs the full prefix (no KV cache yet), asking for one row of logits.
import { PlastError } from '../errors';
import { ImageInput, SequenceEmbeds } from './batch';
import { Model } from './model';

export interface GenerateOptions {
  maxNewTokens?: number;
  /** Token ids that stop generation (not included in the output). */
  stopIds?: number[];
  onToken?: (id: number) => void;
  /** Embeddings given for prompt positions (image features: Model.imageEmbeds). */
  embeds?: SequenceEmbeds;
  /** Images for the prompt's (expanded) <image> placeholders: encoded once, before the first step. */
  images?: ImageInput[];
}

export async function generateGreedy(model: Model, promptIds: number[], opts: GenerateOptions = {}): Promise<number[]> {
  const max = opts.maxNewTokens ?? 64;
  const stop = new Set(opts.stopIds ?? (model.tokenizer.eosId !== undefined ? [model.tokenizer.eosId] : []));
  const ids = [...promptIds];
  const out: number[] = [];
  const limit = model.config.maxPositions;
  let embeds = opts.embeds;
  if (opts.images && opts.images.length > 0) {
    if (embeds) throw new PlastError('ERR_INVALID', 'give images or embeds, not both', { field: 'images' });
    // Resolved once: every step runs the same prompt positions.
    embeds = (await model.withImages([{ ids: promptIds, images: opts.images }]))[0]!.embeds;
  }
  for (let step = 0; step < max && ids.length < limit; step++) {
    const r = await model.forward([{ ids, logitAt: [ids.length - 1], ...(embeds ? { embeds } : {}) }]);
    const logits = r.logits[0]!;
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
    if (stop.has(best)) break;
    out.push(best);
    ids.push(best);
    opts.onToken?.(best);
  }
  return out;
}
