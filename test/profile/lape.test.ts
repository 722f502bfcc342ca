// LAPE neurons (Tang et al. 2024) on a table small enough to follow by hand: the threshold as the
// k-th smallest p, candidates above it, the lowest-entropy share kept (ties to the lower index),
// and each kept neuron assigned to every language above the threshold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CountTable } from '../../src/profile/stats';
import { lapeNeurons, roundHalfEven } from '../../src/profile/lape';

// 2 layers x 4 neurons, 10 counted tokens per language, so p = count / 10:
//   en  layer 0: 1.0 0.0 0.5 0.1   layer 1: 0.2 0.2 0.9 0.0
//   ar  layer 0: 0.2 0.8 0.5 0.1   layer 1: 0.2 0.3 0.1 0.0
// The 16 p sorted: 0 0 0 .1 .1 .1 .2 .2 .2 .2 .3 .5 .5 .8 .9 1.
// Entropy of p normalised over the two languages (k = layer*4 + neuron):
//   k0 [1, .2]/1.2 -> 0.4506   k1 [0, .8] -> 0   k2 [.5, .5] -> ln 2 = 0.6931
//   k5 [.2, .3]/.5 -> 0.6730   k6 [.9, .1] -> 0.3251
const T: CountTable = {
  langs: ['en', 'ar'],
  layers: 2,
  intermediate: 4,
  tokens: { en: 10, ar: 10 },
  counts: { en: [10, 0, 5, 1, 2, 2, 9, 0], ar: [2, 8, 5, 1, 2, 3, 1, 0] },
};

test('LAPE: threshold, candidates, lowest entropy kept, assignment (filter 0.75, top 0.25)', () => {
  // k = round(0.75 * 16) = 12 -> t = 0.5. Candidates (p > 0.5 somewhere): k0, k1, k6 (k2 sits on t).
  // Keep round(0.25 * 8) = 2 of lowest entropy: k1 (0), k6 (0.325); k0 (0.451) is dropped.
  const r = lapeNeurons(T, { filterRate: 0.75, topRate: 0.25 });
  assert.is(r.threshold, 0.5);
  assert.is(r.candidates, 3);
  assert.is(r.kept, 2);
  assert.equal(r.neurons, { en: [[], [2]], ar: [[1], []] });
  assert.equal(r.perLayer, { en: [0, 1], ar: [1, 0] });
});

test('LAPE: a neuron above the threshold in both languages belongs to both (filter 0.5, top 0.75)', () => {
  // k = round(0.5 * 16) = 8 -> t = 0.2. Candidates: k0 k1 k2 k5 k6; keep round(0.75 * 8) = 6 -> all 5.
  // Assignment with p > 0.2: k0 en; k1 ar; k2 en and ar; k5 ar (en sits on t); k6 en.
  const r = lapeNeurons(T, { filterRate: 0.5, topRate: 0.75 });
  assert.is(r.threshold, 0.2);
  assert.is(r.candidates, 5);
  assert.is(r.kept, 5);
  assert.equal(r.neurons, { en: [[0, 2], [2]], ar: [[1, 2], [1]] });
  // Keeping 4 drops the highest entropy, k2 (ln 2), from both languages.
  const four = lapeNeurons(T, { filterRate: 0.5, topRate: 0.5 });
  assert.equal(four.neurons, { en: [[0], [2]], ar: [[1], [1]] });
});

test('LAPE: the default 1% of 8 neurons rounds to none kept; Python rounding half to even', () => {
  const r = lapeNeurons(T);
  assert.is(r.kept, 0);
  assert.ok(r.candidates > 0);
  assert.equal(r.perLayer, { en: [0, 0], ar: [0, 0] });
  assert.equal([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3]);
});

test.run();
