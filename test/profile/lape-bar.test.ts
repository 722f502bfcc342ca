// LAPE's two quantiles as identify.py has them: filter_rate picks the candidates, and
// activation_bar_ratio the languages a kept neuron is assigned to (worked out by hand below).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LAPE_DEFAULTS, lapeNeurons } from '../../src/profile/lape';
import { CountTable } from '../../src/profile/stats';
import { rejects } from '../helpers';

// One layer of 4 neurons, 10 tokens per language: p(en) = [.1 .2 .3 .9], p(ar) = [.9 .2 .3 .1].
// All 8 p sorted: .1 .1 .2 .2 .3 .3 .9 .9.
const T: CountTable = { langs: ['en', 'ar'], layers: 1, intermediate: 4, tokens: { en: 10, ar: 10 }, counts: { en: [1, 2, 3, 9], ar: [9, 2, 3, 1] } };

test('filter rate 0.5: t = 4th smallest = .2; candidates 0, 2, 3; bar at the same quantile assigns neuron 2 to both', () => {
  const r = lapeNeurons(T, { filterRate: 0.5, topRate: 1 });
  assert.is(r.threshold, 0.2);
  assert.is(r.activationBar, 0.2);
  assert.is(r.activationBarRatio, 0.5);
  assert.is(r.candidates, 3);
  assert.equal(r.neurons, { en: [[2, 3]], ar: [[0, 2]] });
});

test('activation bar ratio 0.75 on its own: bar = 6th smallest = .3, so neuron 2 (p = .3, not above) goes to no language', () => {
  const r = lapeNeurons(T, { filterRate: 0.5, activationBarRatio: 0.75, topRate: 1 });
  assert.is(r.threshold, 0.2);
  assert.is(r.activationBar, 0.3);
  assert.is(r.candidates, 3);
  assert.equal(r.neurons, { en: [[3]], ar: [[0]] });
});

test('defaults as identify.py (0.95, 0.95, 0.01); rates outside (0, 1] refused', async () => {
  assert.equal(LAPE_DEFAULTS, { filterRate: 0.95, activationBarRatio: 0.95, topRate: 0.01 });
  const r = lapeNeurons(T);
  assert.equal([r.filterRate, r.activationBarRatio, r.topRate], [0.95, 0.95, 0.01]);
  await rejects(() => lapeNeurons(T, { activationBarRatio: 0 }), 'ERR_INVALID', /activationBarRatio/);
  await rejects(() => lapeNeurons(T, { topRate: 2 }), 'ERR_INVALID', /topRate/);
});

test.run();
