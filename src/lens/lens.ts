// `lens(model, opts)`: the paper's Fig. 1 logit lens. Each prompt runs once through the model; at
// the chosen positions (default: the last prompt token) the final norm and the LM head are applied
// to the residual stream after every layer (natively, Model.lens), giving one next-token
// distribution per layer. Per prompt and layer the report keeps the probability and rank of the
// English and the source-language next token (data.ts says which tokens those are), the entropy
// and the top tokens; per language and layer it averages them (summary).
import { PlastError, expectPositiveInt } from '../errors';
import { Model } from '../model/model';
import { progress } from '../util/progress';
import { LensInput, LensTask, loadLensData, nextToken } from './data';

export type LensPositions = 'last' | 'all';

export interface LensRunOptions {
  data: string;
  langs?: string[];
  task?: LensTask;
  limit?: number;
  /** Lens positions of each prompt: its last token (default) or every token (Fig. 1's x-axis). */
  positions?: LensPositions;
  /** Top tokens kept per layer and position (default 5). */
  topK?: number;
  /** Prompts per forward pass (default 8). */
  batch?: number;
  progress?: boolean;
}

export interface LensToken {
  id: number;
  token: string;
}

export interface LensLayer {
  /** Hidden-state index: 0 = the embeddings, l + 1 = the output of layer l (0-based). */
  layer: number;
  entropy: number;
  en: { prob: number; rank: number };
  src: { prob: number; rank: number };
  top: (LensToken & { prob: number })[];
}

export interface LensPosition {
  position: number;
  /** The prompt token at this position (its next token is what the lens predicts). */
  token: string;
  layers: LensLayer[];
}

export interface LensItemResult {
  id: string;
  lang: string;
  line: number;
  prompt: string;
  promptTokens: number;
  enToken: LensToken;
  srcToken: LensToken;
  positions: LensPosition[];
}

/** Per language and hidden-state index, over the prompts' last positions. */
export interface LensSummaryRow {
  layer: number;
  items: number;
  /** Mean probability of the English / source-language next token. */
  pEn: number;
  pSrc: number;
  /** Median rank (1 = the most probable token). */
  rankEn: number;
  rankSrc: number;
  /** Share of prompts whose English token is more probable than its source-language token. */
  enAboveSrc: number;
  entropy: number;
  /** The most frequent top-1 token at this layer, and how many prompts have it. */
  top: { token: string; count: number };
}

export interface LensReport {
  model: string;
  data: string;
  kind: LensInput['kind'];
  task: LensTask | null;
  numLayers: number;
  /** Hidden-state indices reported (0..numLayers). */
  layers: number[];
  positions: LensPositions;
  topK: number;
  langs: string[];
  summary: Record<string, LensSummaryRow[]>;
  items: LensItemResult[];
  seconds: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function lens(model: Model, o: LensRunOptions): Promise<LensReport> {
  const t0 = Date.now();
  const topK = o.topK ?? 5;
  if (!Number.isInteger(topK) || topK < 0) throw new PlastError('ERR_INVALID', `Expected a non-negative integer for topK but received ${topK}`, { field: 'topK' });
  const batch = expectPositiveInt('batch', o.batch ?? 8);
  const positions = o.positions ?? 'last';
  if (positions !== 'last' && positions !== 'all') throw new PlastError('ERR_INVALID', `Expected positions last or all but received ${String(positions)}`, { field: 'positions' });
  const input = loadLensData(o.data, { ...(o.langs ? { langs: o.langs } : {}), ...(o.task ? { task: o.task } : {}), ...(o.limit !== undefined ? { limit: o.limit } : {}) });
  const tok = model.tokenizer;
  const maxLen = model.config.maxPositions;
  const prepared = input.items.map((it) => {
    const ids = tok.encode(it.prompt);
    if (ids.length === 0) throw new PlastError('ERR_DATA', `${input.file}:${it.line}: the prompt has no tokens`, { file: input.file, line: it.line });
    if (ids.length > maxLen) throw new PlastError('ERR_DATA', `${input.file}:${it.line}: the prompt has ${ids.length} tokens, over the model's ${maxLen}`, { file: input.file, line: it.line });
    const en = nextToken(tok, it.prompt, ids, it.en);
    const src = nextToken(tok, it.prompt, ids, it.src);
    const at = positions === 'last' ? [ids.length - 1] : ids.map((_, i) => i);
    return { it, ids, en, src, at };
  });
  const name = (id: number): string => tok.decode([id]);
  const L = model.config.numLayers;
  const layers = Array.from({ length: L + 1 }, (_, i) => i);
  const results: LensItemResult[] = [];
  const bar = progress({ label: 'lens', total: prepared.length, unit: 'prompts', ...(o.progress !== undefined ? { enabled: o.progress } : {}) });
  try {
    for (let s = 0; s < prepared.length; s += batch) {
      const chunk = prepared.slice(s, s + batch);
      const out = await model.lens(
        chunk.map((p) => ({ ids: p.ids, at: p.at, tokens: p.at.map(() => [p.en, p.src]) })),
        { layers, topK },
      );
      const R = out.rows;
      chunk.forEach((p, c) => {
        const [start] = out.spans[c]!;
        const posOut: LensPosition[] = p.at.map((t, j) => {
          const row = start + j;
          return {
            position: t,
            token: name(p.ids[t]!),
            layers: layers.map((layer, h) => {
              const o2 = (h * R + row) * 2;
              const top = [];
              for (let k = 0; k < topK; k++) {
                const id = out.topIds[(h * R + row) * topK + k]!;
                top.push({ id, token: name(id), prob: out.topProbs[(h * R + row) * topK + k]! });
              }
              return {
                layer,
                entropy: out.entropy[h * R + row]!,
                en: { prob: out.probs[o2]!, rank: out.ranks[o2]! },
                src: { prob: out.probs[o2 + 1]!, rank: out.ranks[o2 + 1]! },
                top,
              };
            }),
          };
        });
        results.push({ id: p.it.id, lang: p.it.lang, line: p.it.line, prompt: p.it.prompt, promptTokens: p.ids.length, enToken: { id: p.en, token: name(p.en) }, srcToken: { id: p.src, token: name(p.src) }, positions: posOut });
      });
      bar.update(Math.min(prepared.length, s + batch));
    }
  } finally {
    bar.stop();
  }
  const langs = [...new Set(results.map((r) => r.lang))];
  const summary: Record<string, LensSummaryRow[]> = {};
  for (const lang of langs) {
    const mine = results.filter((r) => r.lang === lang).map((r) => r.positions[r.positions.length - 1]!);
    summary[lang] = layers.map((layer, h) => {
      const at = mine.map((p) => p.layers[h]!);
      const n = at.length;
      const tops = new Map<string, number>();
      for (const a of at) if (a.top[0]) tops.set(a.top[0].token, (tops.get(a.top[0].token) ?? 0) + 1);
      const best = [...tops.entries()].sort((x, y) => y[1] - x[1])[0];
      return {
        layer,
        items: n,
        pEn: at.reduce((a, x) => a + x.en.prob, 0) / n,
        pSrc: at.reduce((a, x) => a + x.src.prob, 0) / n,
        rankEn: median(at.map((x) => x.en.rank)),
        rankSrc: median(at.map((x) => x.src.rank)),
        enAboveSrc: at.filter((x) => x.en.prob > x.src.prob).length / n,
        entropy: at.reduce((a, x) => a + x.entropy, 0) / n,
        top: best ? { token: best[0], count: best[1] } : { token: '', count: 0 },
      };
    });
  }
  return { model: model.dir, data: input.file, kind: input.kind, task: input.task, numLayers: L, layers, positions, topK, langs, summary, items: results, seconds: (Date.now() - t0) / 1000 };
}
