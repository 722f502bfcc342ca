// LAPE language-specific neurons (Tang et al. 2024, "Language-Specific Neurons: The Key to
// Multilingual Capabilities in Large Language Models"), as their identify.py computes them:
//
//   1. p_l,i,j = count_l,i,j / tokens_l for every language l, layer i, neuron j.
//   2. Normalise over languages: q_l = p_l / Σ_l' p_l' (q = 0 when Σ p = 0); entropy
//      H_i,j = −Σ_l q_l ln q_l (0 ln 0 = 0).
//   3. threshold t = the k-th smallest of ALL p values (every layer, neuron and language), with
//      k = round(0.95 · count) (1-based, round half to even as Python's round).
//   4. Candidates: neurons with p_l > t for at least one language.
//   5. Keep the round(0.01 · layers · d) candidates of lowest entropy over all layers (fewer if
//      there are fewer candidates); ties in entropy go to the lower layer, then the lower neuron.
//   6. Assign each kept neuron to every language whose p exceeds the activation bar b = the
//      k'-th smallest of all p with k' = round(activation_bar_ratio · count) (their
//      `activation_bar`; a quantile of its own, 0.95 like filter_rate in their code).
// Defaults as identify.py of RUCAIBox/Language-Specific-Neurons: filter_rate = 0.95,
// activation_bar_ratio = 0.95, top_rate = 0.01 (the paper's 1%, and identify.py since commit
// fdecc8d; the first published identify.py, commit 1ec944c, had top_rate = 0.05).
// All of English is included as a language like any other. Arithmetic is float64 (theirs is
// float32, which can move neurons sitting exactly on the threshold or tied in entropy).
import { PlastError } from '../errors';
import { CountTable } from './stats';

function rate(what: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1) throw new PlastError('ERR_INVALID', `Expected a number in (0, 1] for ${what} but received ${JSON.stringify(v)}`, { field: what });
  return v;
}

export interface LapeOptions {
  /** Quantile of all p for the candidate threshold t (their filter_rate, 0.95). */
  filterRate?: number;
  /** Quantile of all p for the bar a kept neuron's language must pass (their
   * activation_bar_ratio, 0.95; default: filterRate, which is what their code does when both are
   * equal). */
  activationBarRatio?: number;
  /** Share of all neurons kept by lowest entropy (their top_rate: 0.01, the paper's 1%). */
  topRate?: number;
}

export const LAPE_DEFAULTS = { filterRate: 0.95, activationBarRatio: 0.95, topRate: 0.01 } as const;

export interface LapeResult {
  filterRate: number;
  activationBarRatio: number;
  topRate: number;
  threshold: number;
  /** The assignment bar (equal to threshold when the two ratios are). */
  activationBar: number;
  /** Neurons with p > t in at least one language. */
  candidates: number;
  /** Neurons kept by lowest entropy (before assignment to languages). */
  kept: number;
  /** Per language, per layer, the language-specific neuron indices (ascending). */
  neurons: Record<string, number[][]>;
  /** Per language, per layer, how many. */
  perLayer: Record<string, number[]>;
}

export const LAPE_RULE =
  'LAPE (Tang et al. 2024): p = count/tokens per language; threshold t = filter_rate quantile of all p (k-th smallest, k = round(filter_rate·N)); ' +
  'candidates = neurons with p > t in some language; keep the top_rate share of all neurons (round(top_rate·layers·d)) with the lowest entropy of p ' +
  'normalised over languages (ties: lower layer, then lower neuron); assign each to every language with p > the activation_bar_ratio quantile of all p. ' +
  'Defaults as identify.py: filter_rate = activation_bar_ratio = 0.95, top_rate = 0.01.';

/** Python's round(): half to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function lapeNeurons(t: CountTable, opts: LapeOptions = {}): LapeResult {
  const filterRate = rate('filterRate', opts.filterRate ?? LAPE_DEFAULTS.filterRate);
  const activationBarRatio = rate('activationBarRatio', opts.activationBarRatio ?? opts.filterRate ?? LAPE_DEFAULTS.activationBarRatio);
  const topRate = rate('topRate', opts.topRate ?? LAPE_DEFAULTS.topRate);
  const L = t.langs.length;
  const d = t.intermediate;
  const n = t.layers * d;
  const p = new Float64Array(n * L); // [neuron][lang]
  t.langs.forEach((l, li) => {
    const c = t.counts[l]!;
    const tok = t.tokens[l]!;
    for (let k = 0; k < n; k++) p[k * L + li] = c[k]! / tok;
  });
  const sorted = Float64Array.from(p).sort();
  const quantile = (r: number): number => sorted[Math.min(Math.max(roundHalfEven(sorted.length * r), 1), sorted.length) - 1]!;
  const threshold = quantile(filterRate);
  const activationBar = quantile(activationBarRatio);

  const cand: { k: number; h: number }[] = [];
  for (let k2 = 0; k2 < n; k2++) {
    let sum = 0;
    let any = false;
    for (let li = 0; li < L; li++) {
      const v = p[k2 * L + li]!;
      sum += v;
      if (v > threshold) any = true;
    }
    if (!any) continue;
    let h = 0;
    for (let li = 0; li < L; li++) {
      const q = sum > 0 ? p[k2 * L + li]! / sum : 0;
      if (q > 0) h -= q * Math.log(q);
    }
    cand.push({ k: k2, h });
  }
  cand.sort((a, b) => a.h - b.h || a.k - b.k); // k = layer*d + neuron: lower layer, then neuron
  const keep = cand.slice(0, Math.min(cand.length, roundHalfEven(n * topRate)));
  const neurons: Record<string, number[][]> = {};
  for (const l of t.langs) neurons[l] = Array.from({ length: t.layers }, () => []);
  for (const { k: k2 } of keep) {
    const layer = Math.floor(k2 / d);
    const j = k2 % d;
    t.langs.forEach((l, li) => {
      if (p[k2 * L + li]! > activationBar) neurons[l]![layer]!.push(j);
    });
  }
  const perLayer: Record<string, number[]> = {};
  for (const l of t.langs) {
    for (const arr of neurons[l]!) arr.sort((a, b) => a - b);
    perLayer[l] = neurons[l]!.map((a) => a.length);
  }
  return { filterRate, activationBarRatio, topRate, threshold, activationBar, candidates: cand.length, kept: keep.length, neurons, perLayer };
}
