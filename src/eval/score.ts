// Token log-probabilities from the model's logits, batched by a padded-token budget: the shared
// core of the translation NLL and the multiple-choice scorers. Log-softmax in float64.
import { ImageInput } from '../model/batch';
import { Model } from '../model/model';
import { DEFAULT_MICRO_TOKENS, microBatches } from '../model/batching';

export interface ScoreItem {
  ids: number[];
  /** Score ids[from..]: the log-prob of each given the tokens before it (from >= 1). */
  from: number;
  /** Images for the ids' (expanded) <image> placeholders (LLaVA). */
  images?: ImageInput[];
}

export interface ScoreOptions {
  microTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

/** log p(ids[t] | ids[<t]) for t in [from, ids.length), per item. */
export async function tokenLogProbs(model: Model, items: ScoreItem[], o: ScoreOptions = {}): Promise<Float64Array[]> {
  const out: Float64Array[] = new Array(items.length);
  const V = model.config.vocabSize;
  const groups = microBatches(items.map((_, i) => i), (i) => items[i]!.ids.length, { microTokens: o.microTokens ?? DEFAULT_MICRO_TOKENS });
  let done = 0;
  for (const g of groups) {
    const seqs = g.map((i) => {
      const it = items[i]!;
      const logitAt: number[] = [];
      for (let t = it.from - 1; t < it.ids.length - 1; t++) logitAt.push(t);
      return { ids: it.ids, logitAt, ...(it.images ? { images: it.images } : {}) };
    });
    const r = await model.forward(seqs);
    g.forEach((i, k) => {
      const it = items[i]!;
      const logits = r.logits[k]!;
      const n = it.ids.length - it.from;
      const lp = new Float64Array(n);
      for (let j = 0; j < n; j++) lp[j] = logSoftmaxAt(logits, j * V, V, it.ids[it.from + j]!);
      out[i] = lp;
    });
    done += g.length;
    o.onProgress?.(done, items.length);
  }
  return out;
}

/** Next-token logits after each prefix (the last position's row). */
export async function nextTokenLogits(model: Model, prefixes: number[][], o: ScoreOptions = {}): Promise<Float32Array[]> {
  const out: Float32Array[] = new Array(prefixes.length);
  const groups = microBatches(prefixes.map((_, i) => i), (i) => prefixes[i]!.length, { microTokens: o.microTokens ?? DEFAULT_MICRO_TOKENS });
  let done = 0;
  for (const g of groups) {
    const r = await model.forward(g.map((i) => ({ ids: prefixes[i]!, logitAt: [prefixes[i]!.length - 1] })));
    g.forEach((i, k) => {
      out[i] = r.logits[k]!;
    });
    done += g.length;
    o.onProgress?.(done, prefixes.length);
  }
  return out;
}

export function logSoftmaxAt(logits: Float32Array, off: number, V: number, label: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[off + v]! > max) max = logits[off + v]!;
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v]! - max);
  return logits[off + label]! - max - Math.log(sum);
}
