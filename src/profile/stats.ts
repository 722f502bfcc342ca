// PLAST statistics from per-token gate counts (paper §2–3, DESIGN.md), and the layer selection
// with the reasoning that led to it. Pure functions of a count table: no model, no files.
//
// Definitions (layer i, language l, d = intermediate size, L = all languages, en = English):
//   p_l,i,j  = count_l,i,j / tokens_l          share of l's counted tokens on which neuron j fires
//   N_l^i    = { j : p_l,i,j > τ }             activated set
//   R_l^i    = |N_l^i| / d                      (paper Eq. 3)
//   O_l^i    = |N_l^i ∩ N_en^i| / |N_en^i|       overlap with English, l ≠ en (Eq. 4); 0 when N_en^i is empty
//   Ō^i      = mean of O_l^i over l ≠ en
//   peak     = by --peak (both are computed and recorded; the selection uses the one asked for):
//     global (default, the paper's "the point where the average overlap ratio attains its
//              maximum"): the FIRST layer where Ō^i reaches its maximum over all layers (ties go
//              to the shallowest layer)
//     first    the first local maximum: the shallowest layer p such that
//                (a) Ō^p > Ō^(p−1) (or p = 0): p starts its plateau (a run of exactly equal Ō
//                    counts as one point, taken at its shallowest layer);
//                (b) Ō^p ≥ Ō^j for every layer j with |j − p| ≤ PEAK_WINDOW (= 2): a bump that
//                    a neighbour within two layers exceeds is noise, not a peak;
//                (c) the first layer after p whose Ō differs from Ō^p is lower (or there is
//                    none): the plateau ends by falling, not by rising further.
//              The global peak always satisfies (a)–(c), so first ≤ global.
//   K        = { 0, ..., peak − 1 }             language-specific layers: those before the peak
//   MSD^i    = (1/|L|) Σ_{l∈L} (R_l^i − μ^i)², μ^i = (1/|L|) Σ_{l∈L} R_l^i, over ALL languages,
//              English included (Eq. 5–6)
//   θ        = (1/|K|) Σ_{i∈K} MSD^i            (Eq. 7)
//   selected = { i ∈ K : MSD^i > θ }
//
// Exactness: R, O and MSD are ratios of integers (set sizes), so the peak and the MSD > θ test are
// decided in exact integer arithmetic (BigInt cross-multiplication): float rounding never picks a
// layer. The reported numbers are the same quantities as float64.
//
// Rules where the paper is silent (each is written into `reasoning` when it applies):
//   - English missing from the languages, or no other language: ERR_LANG.
//   - A language with zero counted tokens: ERR_DATA naming it (p would be 0/0).
//   - Ties in the peak of Ō: the shallowest such layer (keeps K as small as the data allows).
//   - K spanning more than half of the layers: said in the reasoning and the warnings (a late
//     peak; --peak first, or a look at the overlap plot, may tell a noisy curve from a real one).
//   - Peak at layer 0: K is empty, the paper's rule selects nothing; this is said, and the
//     --min-layers fill (below) decides what is selected (default 1: layer 0).
//   - No layer of K exceeds θ (|K| = 1, where no layer can exceed the mean of itself, or all MSD
//     in K equal): all of K is selected — no layer of K stands out, so all are equally engaged.
//   - --min-layers N (default 1): if fewer than N are selected, add the remaining layers of K with
//     the highest MSD (ties: shallower first), then the layers from the peak upward (the
//     shallowest layers outside K), until N (or every layer) is selected.
//   - --max-layers N (default none): keep the N selected layers with the highest MSD (ties:
//     shallower first).
//
// τ default (DEFAULT_TAU = 0.5, see its comment).
import { PlastError } from '../errors';

/**
 * Default activation threshold τ: a neuron belongs to a language's activated set when it fires
 * on MORE THAN HALF of that language's counted tokens.
 *
 * Why not τ = 0 ("fired on at least one token", the literal union of the paper's Eq. 2 indicator
 * over a sample)? With per-token counting that set only grows with the sample: over the few
 * thousand tokens of 200 questions nearly every neuron fires somewhere, R saturates near 1 for
 * every language and layer, and MSD (and so the selection) measures sample size, not language.
 * With τ > 0 the set estimates a fixed population quantity, { j : P(gate_j > 0 | language) > τ },
 * so R converges as the sample grows instead of drifting. 0.5 — "fires on most of the language's
 * tokens" — sits in the middle of a SwiGLU gate's firing rates, where the sets of two languages
 * can differ most. It is a parameter (--tau) and is recorded in every output; `plast select`
 * recomputes everything from the saved counts for another τ without running the model.
 */
export const DEFAULT_TAU = 0.5;
export const DEFAULT_MIN_LAYERS = 1;
/** Which maximum of Ō ends K (see the header). */
export type PeakRule = 'global' | 'first';
export const PEAK_RULES: PeakRule[] = ['global', 'first'];
export const DEFAULT_PEAK: PeakRule = 'global';
/** Layers on each side that a first-local-maximum peak must not be below (noise rule (b)). */
export const PEAK_WINDOW = 2;
export const ENGLISH = 'en';

export interface CountTable {
  /** Canonical language codes, in output order. */
  langs: string[];
  layers: number;
  intermediate: number;
  /** Per language, counts laid out [layer][neuron] (layers × intermediate), integer-valued. */
  counts: Record<string, ArrayLike<number>>;
  /** Per language, the number of counted tokens. */
  tokens: Record<string, number>;
}

export interface SelectOptions {
  tau?: number;
  /** Select at least this many layers (default 1; 0 allows an empty selection). */
  minLayers?: number;
  /** Select at most this many layers (default: no limit). */
  maxLayers?: number | null;
  /** Which maximum of the average overlap ends K (default global). */
  peak?: PeakRule;
}

export interface LayerStats {
  layer: number;
  /** |N_l^i| per language. */
  activated: Record<string, number>;
  /** R_l^i per language. */
  R: Record<string, number>;
  /** |N_l^i ∩ N_en^i| per non-English language. */
  shared: Record<string, number>;
  /** O_l^i per non-English language. */
  overlap: Record<string, number>;
  /** Ō^i: mean overlap over the non-English languages. */
  overlapAvg: number;
  /** Mean firing rate p over the layer's neurons per language (τ-free; for reference). */
  pMean: Record<string, number>;
  msd: number;
  inK: boolean;
  selected: boolean;
}

export interface Selection {
  tau: number;
  minLayers: number;
  maxLayers: number | null;
  /** The rule that chose peakLayer (absent in profiles from before the option: global). */
  peakRule?: PeakRule;
  peakLayer: number;
  peakOverlap: number;
  /** Both peaks, whichever the rule used (absent in profiles from before). */
  peaks?: { global: { layer: number; overlap: number }; first: { layer: number; overlap: number } };
  /** Other layers whose Ō equals the peak exactly (the tie rule took the first). */
  peakTies: number[];
  K: number[];
  /** Mean MSD over K; null when K is empty. */
  theta: number | null;
  /** Layers the paper's rule picks (MSD > θ in K, or all of K when none exceeds θ). */
  byRule: number[];
  /** The final selection after --min-layers / --max-layers, ascending. */
  selected: number[];
  reasoning: string[];
  warnings: string[];
}

export interface ProfileStats {
  langs: string[];
  layers: LayerStats[];
  selection: Selection;
}

/** Checks the table and returns the non-English languages. */
function checkTable(t: CountTable): string[] {
  if (!t.langs.includes(ENGLISH)) {
    throw new PlastError('ERR_LANG', `English ("en") must be one of the languages (it is the reference of the overlap O); got ${t.langs.join(', ')}`, {
      field: 'langs',
    });
  }
  const others = t.langs.filter((l) => l !== ENGLISH);
  if (others.length === 0) {
    throw new PlastError('ERR_LANG', 'Expected at least one non-English language besides "en" (the overlap O compares each with English)', { field: 'langs' });
  }
  if (!Number.isInteger(t.layers) || t.layers <= 0 || !Number.isInteger(t.intermediate) || t.intermediate <= 0) {
    throw new PlastError('ERR_INVALID', `Expected positive layer and neuron counts but received ${t.layers} x ${t.intermediate}`);
  }
  for (const l of t.langs) {
    const c = t.counts[l];
    if (!c) throw new PlastError('ERR_DATA', `no counts for language "${l}"`, { field: l });
    if (c.length !== t.layers * t.intermediate) {
      throw new PlastError('ERR_SHAPE', `counts of "${l}" have ${c.length} entries; expected ${t.layers} x ${t.intermediate}`, { field: l });
    }
    const n = t.tokens[l];
    if (n === undefined || !Number.isFinite(n) || n <= 0) {
      throw new PlastError('ERR_DATA', `language "${l}" has ${n ?? 'no'} counted tokens; every language needs at least one (p = count / tokens)`, {
        field: l,
      });
    }
  }
  return others;
}

/** Validates (and fills the defaults of) the selection options for a model of `layers` layers. */
export function checkSelectOptions(o: SelectOptions, layers: number): { tau: number; minLayers: number; maxLayers: number | null; peak: PeakRule } {
  const tau = o.tau ?? DEFAULT_TAU;
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau < 0 || tau >= 1) {
    throw new PlastError('ERR_INVALID', `Expected a number in [0, 1) for tau but received ${JSON.stringify(o.tau)}`, { field: 'tau' });
  }
  const minLayers = o.minLayers ?? DEFAULT_MIN_LAYERS;
  if (!Number.isInteger(minLayers) || minLayers < 0 || minLayers > layers) {
    throw new PlastError('ERR_INVALID', `Expected an integer in [0, ${layers}] for minLayers but received ${JSON.stringify(o.minLayers)}`, { field: 'minLayers' });
  }
  const maxLayers = o.maxLayers ?? null;
  if (maxLayers !== null && (!Number.isInteger(maxLayers) || maxLayers < 1)) {
    throw new PlastError('ERR_INVALID', `Expected a positive integer for maxLayers but received ${JSON.stringify(o.maxLayers)}`, { field: 'maxLayers' });
  }
  if (maxLayers !== null && maxLayers < minLayers) {
    throw new PlastError('ERR_INVALID', `Expected maxLayers (${maxLayers}) >= minLayers (${minLayers})`, { field: 'maxLayers' });
  }
  const peak = o.peak ?? DEFAULT_PEAK;
  if (!PEAK_RULES.includes(peak)) throw new PlastError('ERR_INVALID', `Expected a peak rule of global or first but received ${JSON.stringify(o.peak)}`, { field: 'peak' });
  return { tau, minLayers, maxLayers, peak };
}

const fmt = (x: number, digits = 4): string => (x === 0 ? '0' : Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toFixed(digits));
const list = (xs: number[]): string => (xs.length === 0 ? 'none' : xs.join(', '));
function range(xs: number[]): string {
  if (xs.length === 0) return 'none';
  const contiguous = xs.every((x, i) => i === 0 || x === xs[i - 1]! + 1);
  return contiguous && xs.length > 2 ? `${xs[0]}–${xs[xs.length - 1]}` : xs.join(', ');
}

export function computeStats(t: CountTable, opts: SelectOptions = {}): ProfileStats {
  const others = checkTable(t);
  const { tau, minLayers, maxLayers, peak: peakRule } = checkSelectOptions(opts, t.layers);
  const d = t.intermediate;
  const m = t.langs.length;
  const warnings: string[] = [];

  // Activated sets, their sizes and intersections with English.
  const layerStats: LayerStats[] = [];
  const enSizes: number[] = [];
  const sharedSums: number[] = [];
  const sizes: number[][] = []; // [layer][lang index]
  for (let i = 0; i < t.layers; i++) {
    const off = i * d;
    const enAct = new Uint8Array(d);
    const cEn = t.counts[ENGLISH]!;
    const nEn = t.tokens[ENGLISH]!;
    for (let j = 0; j < d; j++) enAct[j] = cEn[off + j]! / nEn > tau ? 1 : 0;
    const activated: Record<string, number> = {};
    const R: Record<string, number> = {};
    const shared: Record<string, number> = {};
    const overlap: Record<string, number> = {};
    const pMean: Record<string, number> = {};
    const row: number[] = [];
    for (const l of t.langs) {
      const c = t.counts[l]!;
      const n = t.tokens[l]!;
      let size = 0;
      let both = 0;
      let sum = 0;
      for (let j = 0; j < d; j++) {
        const v = c[off + j]!;
        sum += v;
        if (v / n > tau) {
          size++;
          if (enAct[j]) both++;
        }
      }
      activated[l] = size;
      R[l] = size / d;
      pMean[l] = sum / n / d;
      if (l !== ENGLISH) shared[l] = both;
      row.push(size);
    }
    const e = activated[ENGLISH]!;
    let sharedSum = 0;
    for (const l of others) {
      overlap[l] = e === 0 ? 0 : shared[l]! / e;
      sharedSum += shared[l]!;
    }
    if (e === 0) warnings.push(`layer ${i}: the English activated set is empty at τ = ${tau}; its overlaps are taken as 0`);
    enSizes.push(e);
    sharedSums.push(sharedSum);
    sizes.push(row);
    const overlapAvg = others.reduce((a, l) => a + overlap[l]!, 0) / others.length;
    layerStats.push({ layer: i, activated, R, shared, overlap, overlapAvg, pMean, msd: 0, inK: false, selected: false });
  }

  // MSD exactly: MSD^i = Q^i / (m³ d²) with Q^i = Σ_l (m·n_l − S)², S = Σ_l n_l.
  const Q: bigint[] = sizes.map((row) => {
    const S = BigInt(row.reduce((a, b) => a + b, 0));
    return row.reduce((acc, n) => {
      const dev = BigInt(m) * BigInt(n) - S;
      return acc + dev * dev;
    }, 0n);
  });
  const msdScale = m * m * m * d * d;
  layerStats.forEach((s, i) => (s.msd = Number(Q[i]!) / msdScale));

  // Peak of Ō: Ō^i ∝ sharedSum^i / e^i (the 1/|others| factor is common); 0 when e^i = 0.
  const frac = (i: number): [bigint, bigint] => (enSizes[i] === 0 ? [0n, 1n] : [BigInt(sharedSums[i]!), BigInt(enSizes[i]!)]);
  const cmp = (a: number, b: number): number => {
    const [na, da] = frac(a);
    const [nb, db] = frac(b);
    const x = na * db - nb * da;
    return x > 0n ? 1 : x < 0n ? -1 : 0;
  };
  let globalPeak = 0;
  for (let i = 1; i < t.layers; i++) if (cmp(i, globalPeak) > 0) globalPeak = i;
  const firstPeak = firstLocalMax(t.layers, cmp);
  const peak = peakRule === 'first' ? firstPeak : globalPeak;
  const peakTies: number[] = [];
  for (let i = peak + 1; i < t.layers; i++) if (cmp(i, peak) === 0) peakTies.push(i);
  const K = Array.from({ length: peak }, (_, i) => i);
  for (const i of K) layerStats[i]!.inK = true;

  const reasoning: string[] = [];
  reasoning.push(
    `Activated set: neurons firing (gate_proj > 0) on more than τ = ${tau} of a language's counted tokens; ` +
      `R = |set| / ${d}. Languages: ${t.langs.map((l) => `${l} (${t.tokens[l]} tokens)`).join(', ')}.`,
  );
  const ties = peakTies.length > 0 ? `; layers ${list(peakTies)} reach the same value exactly, and the first is taken` : '';
  if (peakRule === 'global') {
    reasoning.push(
      `Average overlap with English over ${others.join(', ')} peaks at layer ${peak} (${fmt(layerStats[peak]!.overlapAvg)}, its maximum over all layers)${ties}` +
        (firstPeak !== globalPeak ? `; its first local maximum is layer ${firstPeak} (${fmt(layerStats[firstPeak]!.overlapAvg)}, --peak first).` : '.'),
    );
  } else {
    reasoning.push(
      `Average overlap with English over ${others.join(', ')}: first local maximum at layer ${peak} (${fmt(layerStats[peak]!.overlapAvg)}; ` +
        `not below any layer within ${PEAK_WINDOW}, and followed by a fall)` +
        (firstPeak !== globalPeak ? `; the maximum over all layers is layer ${globalPeak} (${fmt(layerStats[globalPeak]!.overlapAvg)}).` : ', which is also its maximum over all layers.'),
    );
  }
  if (K.length > t.layers / 2) {
    const w = `K spans ${K.length} of ${t.layers} layers (more than half): the overlap peaks late${peakRule === 'global' && firstPeak < globalPeak ? `; --peak first would end K at layer ${firstPeak}` : ''}. Check the overlap plot for noise before training this many layers.`;
    reasoning.push(w);
    warnings.push(w);
  }

  let theta: number | null = null;
  let byRule: number[] = [];
  if (K.length === 0) {
    reasoning.push('K is empty: no layer comes before the peak at layer 0, so by the paper\'s rule no layer is language-specific and none is selected.');
  } else {
    const sumK = K.reduce((a, i) => a + Q[i]!, 0n);
    theta = Number(sumK) / K.length / msdScale;
    reasoning.push(`K = ${K.length === 1 ? 'layer' : 'layers'} ${range(K)} (the layers before the peak).`);
    reasoning.push(`MSD of R over all ${m} languages in K: ${K.map((i) => `${i}: ${fmt(layerStats[i]!.msd, 6)}`).join(', ')}; θ = mean over K = ${fmt(theta, 6)}.`);
    const above = K.filter((i) => BigInt(K.length) * Q[i]! > sumK);
    if (above.length > 0) {
      byRule = above;
      const below = K.filter((i) => !above.includes(i));
      reasoning.push(`Layers of K with MSD > θ: ${list(above)}${below.length ? `; not selected (MSD ≤ θ): ${list(below)}` : ''}.`);
    } else {
      byRule = [...K];
      reasoning.push(
        K.length === 1
          ? `K holds one layer, whose MSD cannot exceed the mean of itself; that layer (${K[0]}) is selected.`
          : `No layer of K has MSD > θ (all MSD in K are equal), so none stands out and all of K is selected.`,
      );
    }
  }

  // --min-layers / --max-layers.
  let selected = [...byRule];
  const byMsd = (a: number, b: number): number => (Q[b]! > Q[a]! ? 1 : Q[b]! < Q[a]! ? -1 : a - b);
  if (selected.length < minLayers) {
    const fill = [...K.filter((i) => !selected.includes(i)).sort(byMsd)];
    for (let i = peak; i < t.layers; i++) fill.push(i);
    const added = fill.slice(0, minLayers - selected.length);
    selected.push(...added);
    reasoning.push(
      `--min-layers ${minLayers}: the rule gave ${byRule.length}; added layer${added.length === 1 ? '' : 's'} ${list(added)} ` +
        `(first the remaining K layers by MSD, then the shallowest layers from the peak upward).`,
    );
  }
  if (maxLayers !== null && selected.length > maxLayers) {
    const kept = [...selected].sort(byMsd).slice(0, maxLayers);
    const dropped = selected.filter((i) => !kept.includes(i));
    selected = kept;
    reasoning.push(`--max-layers ${maxLayers}: kept the ${maxLayers} with the highest MSD; dropped ${list(dropped.sort((a, b) => a - b))}.`);
  }
  selected.sort((a, b) => a - b);
  for (const i of selected) layerStats[i]!.selected = true;
  reasoning.push(selected.length > 0 ? `Selected layers (0-based): ${list(selected)}.` : 'Selected layers: none.');

  return {
    langs: [...t.langs],
    layers: layerStats,
    selection: {
      tau,
      minLayers,
      maxLayers,
      peakRule,
      peakLayer: peak,
      peakOverlap: layerStats[peak]!.overlapAvg,
      peaks: {
        global: { layer: globalPeak, overlap: layerStats[globalPeak]!.overlapAvg },
        first: { layer: firstPeak, overlap: layerStats[firstPeak]!.overlapAvg },
      },
      peakTies,
      K,
      theta,
      byRule,
      selected,
      reasoning,
      warnings,
    },
  };
}

/** The first local maximum of a curve given by an exact comparison of layers (rules (a)–(c) of
 * the header); the last layer when no earlier one qualifies (the global maximum always does). */
export function firstLocalMax(layers: number, cmp: (a: number, b: number) => number, window = PEAK_WINDOW): number {
  for (let p = 0; p < layers; p++) {
    if (p > 0 && cmp(p, p - 1) <= 0) continue; // (a)
    let ok = true;
    for (let j = Math.max(0, p - window); j <= Math.min(layers - 1, p + window) && ok; j++) if (cmp(p, j) < 0) ok = false; // (b)
    if (!ok) continue;
    let q = p + 1;
    while (q < layers && cmp(q, p) === 0) q++;
    if (q < layers && cmp(q, p) > 0) continue; // (c)
    return p;
  }
  return layers - 1;
}
