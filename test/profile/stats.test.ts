// computeStats on small count tables whose activated sets, R, overlaps, MSD, θ, K and selection are
// worked out by hand in the comments (never by re-running the code under test): the paper's rule,
// the rules where it is silent (peak ties, empty K, K of one layer, all MSD equal), --min-layers,
// --max-layers, τ, and the errors for bad tables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CountTable, computeStats } from '../../src/profile/stats';
import { finishProfile } from '../../src/profile/profile';
import { ProfileMeta } from '../../src/profile/types';
import { formatProfile } from '../../src/profile/report';
import { CountsFile } from '../../src/profile/counts';
import { rejects } from '../helpers';

/** A table from explicit counts: counts[lang][layer] = the d neuron counts of that layer. */
function table(tokens: Record<string, number>, counts: Record<string, number[][]>): CountTable {
  const langs = Object.keys(counts);
  const layers = counts[langs[0]!]!.length;
  const d = counts[langs[0]!]![0]!.length;
  return { langs, layers, intermediate: d, tokens, counts: Object.fromEntries(langs.map((l) => [l, Float64Array.from(counts[l]!.flat())])) };
}

/** A table from activated sets: every listed neuron fires on all of the language's tokens, others never. */
function fromSets(d: number, tokens: Record<string, number>, sets: Record<string, number[][]>): CountTable {
  const counts: Record<string, number[][]> = {};
  for (const [l, layers] of Object.entries(sets)) {
    counts[l] = layers.map((set) => Array.from({ length: d }, (_, j) => (set.includes(j) ? tokens[l]! : 0)));
  }
  return table(tokens, counts);
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

// Table A: en (10 tokens), ar (4), zh (6); 4 layers of d = 4 neurons; τ = 0.5 (the default).
// Counts of exactly half the tokens (en 5, ar 2, zh 3) are NOT above τ (p > τ is strict).
//            en                 ar             zh             activated sets (p > 0.5)
// layer 0  [10, 6, 5, 0]     [2, 0, 3, 4]   [4, 3, 6, 5]     en {0,1}     ar {2,3}    zh {0,2,3}
// layer 1  [ 7, 8, 9, 5]     [4, 2, 1, 3]   [6, 4, 5, 4]     en {0,1,2}   ar {0,3}    zh {0,1,2,3}
// layer 2  [10,10,10,10]     [3, 3, 4, 4]   [6, 6, 6, 6]     all          all         all
// layer 3  [ 6,10, 0, 5]     [4, 2, 0, 1]   [3, 4, 0, 0]     en {0,1}     ar {0}      zh {1}
const A = table(
  { en: 10, ar: 4, zh: 6 },
  {
    en: [[10, 6, 5, 0], [7, 8, 9, 5], [10, 10, 10, 10], [6, 10, 0, 5]],
    ar: [[2, 0, 3, 4], [4, 2, 1, 3], [3, 3, 4, 4], [4, 2, 0, 1]],
    zh: [[4, 3, 6, 5], [6, 4, 5, 4], [6, 6, 6, 6], [3, 4, 0, 0]],
  },
);

test('table A: activated sets, R, shared, overlap O and its average per layer (ties at p = τ left out)', () => {
  const s = computeStats(A);
  const want = [
    // sizes en, ar, zh | shared with en: ar, zh | O ar, zh | Ō
    { n: [2, 2, 3], shared: [0, 1], O: [0, 1 / 2], avg: 1 / 4 },
    { n: [3, 2, 4], shared: [1, 3], O: [1 / 3, 1], avg: 2 / 3 },
    { n: [4, 4, 4], shared: [4, 4], O: [1, 1], avg: 1 },
    { n: [2, 1, 1], shared: [1, 1], O: [1 / 2, 1 / 2], avg: 1 / 2 },
  ];
  assert.is(s.layers.length, 4);
  want.forEach((w, i) => {
    const L = s.layers[i]!;
    assert.is(L.layer, i);
    assert.equal(L.activated, { en: w.n[0], ar: w.n[1], zh: w.n[2] }, `layer ${i} sizes`);
    assert.equal(L.R, { en: w.n[0]! / 4, ar: w.n[1]! / 4, zh: w.n[2]! / 4 }, `layer ${i} R`);
    assert.equal(L.shared, { ar: w.shared[0], zh: w.shared[1] }, `layer ${i} shared`);
    close(L.overlap['ar']!, w.O[0]!, `layer ${i} O ar`);
    close(L.overlap['zh']!, w.O[1]!, `layer ${i} O zh`);
    close(L.overlapAvg, w.avg, `layer ${i} Ō`);
  });
  // τ-free mean firing rate, layer 0 en: (10 + 6 + 5 + 0) / 10 / 4.
  close(s.layers[0]!.pMean['en']!, 21 / 40, 'pMean');
});

test('table A: MSD over all languages, peak, K, θ and the selection MSD > θ', () => {
  // MSD = (1/3) Σ (R_l − μ)²: layer 0 R = (1/2, 1/2, 3/4), μ = 7/12, deviations (−1/12, −1/12, 1/6)
  // → (1/144 + 1/144 + 4/144) / 3 = 1/72. Layer 1 R = (3/4, 1/2, 1): μ = 3/4, (0, −1/4, 1/4) → 1/24.
  // Layer 2: all R = 1 → 0. Layer 3 R = (1/2, 1/4, 1/4): μ = 1/3, (1/6, −1/12, −1/12) → 1/72.
  const s = computeStats(A);
  [1 / 72, 1 / 24, 0, 1 / 72].forEach((m, i) => close(s.layers[i]!.msd, m, `MSD layer ${i}`));
  const sel = s.selection;
  assert.is(sel.peakLayer, 2); // Ō = 1/4, 2/3, 1, 1/2
  assert.is(sel.peakOverlap, 1);
  assert.equal(sel.peakTies, []);
  assert.equal(sel.K, [0, 1]);
  close(sel.theta!, (1 / 72 + 1 / 24) / 2, 'θ'); // 1/36: layer 1 (3/72) is above, layer 0 (1/72) is not
  assert.equal(sel.byRule, [1]);
  assert.equal(sel.selected, [1]);
  assert.equal(s.layers.map((l) => [l.inK, l.selected]), [[true, false], [true, true], [false, false], [false, false]]);
  assert.is(sel.tau, 0.5);
  assert.is(sel.minLayers, 1);
  assert.is(sel.maxLayers, null);
  const why = sel.reasoning.join('\n');
  assert.match(why, /peaks at layer 2/);
  assert.match(why, /K = layers 0, 1/);
  assert.match(why, /Layers of K with MSD > θ: 1; not selected \(MSD ≤ θ\): 0/);
  assert.match(why, /Selected layers \(0-based\): 1\./);
  assert.equal(sel.warnings, []);
});

test('τ: other thresholds give the hand-computed sets (strict >, so p = τ is out); τ outside [0, 1) is refused', () => {
  // τ = 0.75: en layer 1 p = (.7, .8, .9, .5) → {1,2}; ar layer 2 p = (.75, .75, 1, 1) → {2,3};
  // zh layer 0 p = (4/6, 3/6, 1, 5/6) → {2,3}.
  const s = computeStats(A, { tau: 0.75 });
  assert.is(s.layers[1]!.activated['en'], 2);
  assert.is(s.layers[2]!.activated['ar'], 2);
  assert.is(s.layers[0]!.activated['zh'], 2);
  assert.is(s.selection.tau, 0.75);
  assert.match(s.selection.reasoning[0]!, /τ = 0\.75/);
  // τ = 0: any neuron that fired at all. en layer 0 (10,6,5,0) → 3; ar layer 3 (4,2,0,1) → 3.
  const z = computeStats(A, { tau: 0 });
  assert.is(z.layers[0]!.activated['en'], 3);
  assert.is(z.layers[3]!.activated['ar'], 3);
  for (const tau of [1, -0.1, Number.NaN, 2]) {
    assert.throws(() => computeStats(A, { tau }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID' && /tau/.test(e.message), `tau ${tau}`);
  }
});

// Table C: en and ar, d = 8, five layers. With two languages MSD = (|N_en| − |N_ar|)² / (4 d²).
//   layer 0: en all 8, ar {0}          O = 1/8   MSD = 49/256
//   layer 1: en all 8, ar {0,1,2}      O = 3/8   MSD = 25/256
//   layer 2: en {0..4}, ar {0..3}      O = 4/5   MSD =  1/256
//   layer 3: en {0..3}, ar {0..3}      O = 1     MSD =  0       ← peak
//   layer 4: en {0..5}, ar {0,1,2}     O = 1/2   MSD =  9/256
// K = {0,1,2}, θ = (49 + 25 + 1)/3/256 = 25/256 = MSD of layer 1 exactly: only layer 0 is above.
const all8 = [0, 1, 2, 3, 4, 5, 6, 7];
const C = fromSets(8, { en: 3, ar: 2 }, {
  en: [all8, all8, [0, 1, 2, 3, 4], [0, 1, 2, 3], [0, 1, 2, 3, 4, 5]],
  ar: [[0], [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2]],
});

test('a layer whose MSD equals θ exactly is not selected (MSD > θ is strict, decided exactly)', () => {
  const s = computeStats(C);
  [49, 25, 1, 0, 9].forEach((q, i) => close(s.layers[i]!.msd, q / 256, `MSD layer ${i}`));
  [1 / 8, 3 / 8, 4 / 5, 1, 1 / 2].forEach((o, i) => close(s.layers[i]!.overlapAvg, o, `Ō layer ${i}`));
  assert.is(s.selection.peakLayer, 3);
  assert.equal(s.selection.K, [0, 1, 2]);
  close(s.selection.theta!, 25 / 256, 'θ');
  assert.equal(s.selection.selected, [0]);
  assert.match(s.selection.reasoning.join('\n'), /not selected \(MSD ≤ θ\): 1, 2/);
});

test('--min-layers: fills with the remaining K layers by MSD, then from the peak upward, and says so', () => {
  // Table C: the rule gives [0]; the rest of K by MSD is 1 (25), 2 (1); then layers 3, 4.
  const two = computeStats(C, { minLayers: 2 });
  assert.equal(two.selection.byRule, [0]);
  assert.equal(two.selection.selected, [0, 1]);
  const four = computeStats(C, { minLayers: 4 });
  assert.equal(four.selection.selected, [0, 1, 2, 3]);
  assert.match(four.selection.reasoning.join('\n'), /--min-layers 4: the rule gave 1; added layers 1, 2, 3 \(first the remaining K layers by MSD/);
  assert.equal(computeStats(C, { minLayers: 5 }).selection.selected, [0, 1, 2, 3, 4]);
  // Already enough: nothing added, nothing said.
  assert.ok(!computeStats(C, { minLayers: 1 }).selection.reasoning.some((r) => r.includes('--min-layers')));
  for (const minLayers of [6, -1, 1.5]) {
    assert.throws(() => computeStats(C, { minLayers }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID' && /minLayers/.test(e.message), `minLayers ${minLayers}`);
  }
});

// Table H: en and ar, d = 8, eight layers; MSD = (|N_en| − |N_ar|)² / 256.
//   layers 0, 2: en all, ar {0..3}        O = 1/2   MSD = 16/256
//   layers 1, 3: en all, ar {0..4}        O = 5/8   MSD =  9/256
//   layers 4, 5: en {0..3}, ar {1..4}     O = 3/4   MSD =  0
//   layer 6:     en {0..3}, ar {0..3}     O = 1     ← peak
//   layer 7:     en {0,1}, ar {1,2}       O = 1/2
// K = 0..5, θ = 50/6/256 ≈ 8.33/256: the rule selects 0, 1, 2, 3.
const H = fromSets(8, { en: 1, ar: 1 }, {
  en: [all8, all8, all8, all8, [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1]],
  ar: [[0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 1, 2, 3], [0, 1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [0, 1, 2, 3], [1, 2]],
});

test('--max-layers: keeps the highest MSD (ties to the shallower layer) and names what it dropped', () => {
  assert.equal(computeStats(H).selection.selected, [0, 1, 2, 3]);
  // By MSD: 0 and 2 (16, tied: 0 first), then 1 and 3 (9, tied: 1 first).
  const three = computeStats(H, { maxLayers: 3 });
  assert.equal(three.selection.byRule, [0, 1, 2, 3]);
  assert.equal(three.selection.selected, [0, 1, 2]);
  assert.match(three.selection.reasoning.join('\n'), /--max-layers 3: kept the 3 with the highest MSD; dropped 3\./);
  const one = computeStats(H, { maxLayers: 1 });
  assert.equal(one.selection.selected, [0]);
  assert.match(one.selection.reasoning.join('\n'), /dropped 1, 2, 3\./);
  // After a --min-layers fill: table A with --min-layers 4 selects every layer (MSD 1/72, 3/72,
  // 0, 1/72); --max-layers 4 keeps them all, a limit above the selection changes nothing.
  assert.equal(computeStats(A, { minLayers: 4, maxLayers: 4 }).selection.selected, [0, 1, 2, 3]);
  assert.equal(computeStats(A, { maxLayers: 3 }).selection.selected, [1]);
  assert.throws(() => computeStats(A, { minLayers: 3, maxLayers: 2 }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID' && /maxLayers \(2\) >= minLayers \(3\)/.test(e.message));
  assert.throws(() => computeStats(A, { maxLayers: 0 }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID' && /maxLayers/.test(e.message));
});

// Table D: en and ar, d = 4, four layers.
//   layer 0: en all, ar {0,1}   O = 1/2  MSD = 4/64
//   layer 1: en all, ar {2,3}   O = 1/2  MSD = 4/64
//   layer 2: en {0,1}, ar {0,1} O = 1                ← peak (first of the tie)
//   layer 3: en {2,3}, ar {2,3} O = 1                ← ties the peak
const D = fromSets(4, { en: 2, ar: 2 }, {
  en: [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1], [2, 3]],
  ar: [[0, 1], [2, 3], [0, 1], [2, 3]],
});

test('ties: the peak of Ō goes to the shallowest layer (others listed); all MSD in K equal → all of K, explained', () => {
  const s = computeStats(D);
  const sel = s.selection;
  assert.is(sel.peakLayer, 2);
  assert.equal(sel.peakTies, [3]);
  assert.equal(sel.K, [0, 1]);
  close(sel.theta!, 4 / 64, 'θ');
  assert.equal(sel.byRule, [0, 1]);
  assert.equal(sel.selected, [0, 1]);
  const why = sel.reasoning.join('\n');
  assert.match(why, /layers 3 reach the same value exactly, and the first is taken/);
  assert.match(why, /No layer of K has MSD > θ \(all MSD in K are equal\), so none stands out and all of K is selected/);
});

// Table E: en and ar, d = 2: Ō falls from layer 0 (O = 1, 1/2, 0), so the peak is layer 0.
const E = fromSets(2, { en: 1, ar: 1 }, {
  en: [[0, 1], [0, 1], [0, 1]],
  ar: [[0, 1], [0], []],
});

/** A profile JSON around a count table, to see what the user is shown. */
function shown(t: CountTable, opts: Parameters<typeof computeStats>[1] = {}): string {
  const counts: CountsFile = {
    langs: t.langs,
    layers: t.layers,
    intermediate: t.intermediate,
    counts: t.counts as Record<string, Float64Array>,
    tokens: t.tokens,
    questions: Object.fromEntries(t.langs.map((l) => [l, 1])),
  };
  const meta: ProfileMeta = {
    format: 'plast-profile',
    formatVersion: 1,
    engineVersion: 'test',
    model: { dir: '/m', fingerprint: 'sha256:0', architecture: 'LlamaForCausalLM', modelType: 'llama', layers: t.layers, intermediate: t.intermediate },
    data: { file: '/d.jsonl', sha256: '0', layout: 'wide', questionsInFile: 1, rows: 1, blankLines: 0, columns: {} },
    params: { langs: t.langs, scope: 'question', template: 'plain', limit: null, shard: null, backend: 'cpu' },
    questions: 1,
    languages: Object.fromEntries(t.langs.map((l) => [l, { questions: 1, tokens: t.tokens[l]!, promptTokens: t.tokens[l]! + 1 }])),
    run: {},
  };
  return formatProfile(finishProfile(meta, counts, opts).json);
}

test('peak at layer 0: K is empty; the paper selects nothing, --min-layers (default 1) picks layer 0, and both are said', () => {
  const s = computeStats(E);
  const sel = s.selection;
  assert.is(sel.peakLayer, 0);
  assert.equal(sel.K, []);
  assert.is(sel.theta, null);
  assert.equal(sel.byRule, []);
  assert.equal(sel.selected, [0]);
  const why = sel.reasoning.join('\n');
  assert.match(why, /K is empty: no layer comes before the peak at layer 0/);
  assert.match(why, /--min-layers 1: the rule gave 0; added layer 0/);
  const out = shown(E);
  assert.match(out, /K is empty/);
  assert.match(out, /θ = n\/a \(K empty\), selected layers: 0/);

  // --min-layers 0 allows the empty selection, but never without a word.
  const none = computeStats(E, { minLayers: 0 });
  assert.equal(none.selection.selected, []);
  assert.match(none.selection.reasoning.join('\n'), /K is empty[^\n]*none is selected[\s\S]*Selected layers: none\./);
  const out0 = shown(E, { minLayers: 0 });
  assert.match(out0, /K is empty/);
  assert.match(out0, /selected layers: none/);
});

test('K of one layer: no layer can exceed the mean of itself, so that layer is selected, with the reason', () => {
  // Layers 1 and 2 of table E behind a layer of lower overlap: Ō = 1/2, 1, 0 → peak 1, K = {0}.
  const F = fromSets(2, { en: 1, ar: 1 }, { en: [[0, 1], [0, 1], [0, 1]], ar: [[0], [0, 1], []] });
  const sel = computeStats(F).selection;
  assert.equal(sel.K, [0]);
  close(sel.theta!, 1 / 16, 'θ'); // MSD of layer 0: (2 − 1)² / (4 · 4)
  assert.equal(sel.selected, [0]);
  assert.match(sel.reasoning.join('\n'), /K = layer 0 \(the layers before the peak\)[\s\S]*K holds one layer, whose MSD cannot exceed the mean of itself; that layer \(0\) is selected/);
  assert.match(shown(F), /K holds one layer/);
});

test('an empty English activated set: overlaps taken as 0, with a warning naming the layer', () => {
  // en fires on no more than half its tokens in layer 1 (counts 1 of 2).
  const G = table({ en: 2, ar: 2 }, { en: [[2, 2], [1, 1], [2, 0]], ar: [[2, 0], [2, 2], [2, 0]] });
  const s = computeStats(G);
  assert.is(s.layers[1]!.activated['en'], 0);
  assert.is(s.layers[1]!.overlap['ar'], 0);
  assert.is(s.selection.warnings[0], 'layer 1: the English activated set is empty at τ = 0.5; its overlaps are taken as 0');
  // K = {0, 1}: two of three layers, more than half
  assert.match(s.selection.warnings[1]!, /^K spans 2 of 3 layers \(more than half\)/);
  assert.is(s.selection.warnings.length, 2);
  assert.is(s.selection.peakLayer, 2); // Ō = 1/2, 0, 1
  assert.match(shown(G), /! layer 1: the English activated set is empty/);
});

test('errors: English missing, English alone, a language with zero counted tokens, bad shapes', async () => {
  const noEn = table({ ar: 2, zh: 2 }, { ar: [[1, 2]], zh: [[2, 2]] });
  await rejects(() => computeStats(noEn), 'ERR_LANG', /English \("en"\) must be one of the languages.*got ar, zh/);
  await rejects(() => computeStats(table({ en: 2 }, { en: [[1, 2]] })), 'ERR_LANG', /at least one non-English language/);
  const zero = table({ en: 2, ar: 0 }, { en: [[1, 2]], ar: [[0, 0]] });
  const e = await rejects(() => computeStats(zero), 'ERR_DATA', /language "ar" has 0 counted tokens; every language needs at least one/);
  assert.is((e as { field?: string }).field, 'ar');
  await rejects(() => computeStats({ ...A, tokens: { ...A.tokens, zh: Number.NaN } }), 'ERR_DATA', /"zh" has NaN counted tokens/);
  await rejects(() => computeStats({ ...A, tokens: { en: 10, ar: 4 } }), 'ERR_DATA', /"zh" has no counted tokens/);
  await rejects(() => computeStats({ ...A, counts: { ...A.counts, ar: new Float64Array(15) } }), 'ERR_SHAPE', /counts of "ar" have 15 entries; expected 4 x 4/);
  const { zh: _zh, ...noZh } = A.counts;
  void _zh;
  await rejects(() => computeStats({ ...A, counts: noZh }), 'ERR_DATA', /no counts for language "zh"/);
  await rejects(() => computeStats({ ...A, layers: 0 }), 'ERR_INVALID', /positive layer and neuron counts/);
});

test.run();
