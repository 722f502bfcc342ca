// English-target NLL per language on translation pairs: the mean negative log-likelihood per
// target token (the English tokens and the closing EOS), with the training prompt. Lower is better.
import { EncodedPair } from '../data/pairs';
import { Model } from '../model/model';
import { ScoreOptions, tokenLogProbs } from './score';

export interface NllStats {
  pairs: number;
  tokens: number;
  /** Mean NLL per target token (nats). */
  nll: number;
  ppl: number;
}

export interface NllReport {
  perLang: Record<string, NllStats>;
  /** Token-weighted over every pair. */
  overall: NllStats;
  /** Unweighted mean of the per-language NLLs. */
  macro: number;
}

export async function translationNll(model: Model, examples: EncodedPair[], o: ScoreOptions = {}): Promise<NllReport> {
  const lps = await tokenLogProbs(
    model,
    examples.map((e) => ({ ids: e.ids, from: e.targetStart, ...(e.pair.image !== undefined ? { images: [{ source: e.pair.image, file: e.pair.file, line: e.pair.line }] } : {}) })),
    o,
  );
  const acc = new Map<string, { pairs: number; tokens: number; sum: number }>();
  let tot = { pairs: 0, tokens: 0, sum: 0 };
  examples.forEach((e, i) => {
    const lp = lps[i]!;
    let s = 0;
    for (const x of lp) s -= x;
    const a = acc.get(e.pair.lang) ?? { pairs: 0, tokens: 0, sum: 0 };
    a.pairs++;
    a.tokens += lp.length;
    a.sum += s;
    acc.set(e.pair.lang, a);
    tot = { pairs: tot.pairs + 1, tokens: tot.tokens + lp.length, sum: tot.sum + s };
  });
  const stats = (a: { pairs: number; tokens: number; sum: number }): NllStats => {
    const nll = a.tokens > 0 ? a.sum / a.tokens : NaN;
    return { pairs: a.pairs, tokens: a.tokens, nll, ppl: Math.exp(nll) };
  };
  const perLang: Record<string, NllStats> = {};
  for (const [l, a] of [...acc.entries()].sort()) perLang[l] = stats(a);
  const langs = Object.values(perLang);
  return { perLang, overall: stats(tot), macro: langs.reduce((s, x) => s + x.nll, 0) / Math.max(1, langs.length) };
}
