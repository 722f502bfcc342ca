// --peak: the first local maximum of the average overlap (rules (a)-(c) in stats.ts) on curves
// worked out by hand, both peaks recorded in the selection, and the warning when K spans more
// than half of the layers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CountTable, computeStats, firstLocalMax } from '../../src/profile/stats';
import { rejects } from '../helpers';

const cmpOf = (ys: number[]) => (a: number, b: number): number => Math.sign(ys[a]! - ys[b]!);
const first = (ys: number[], w?: number): number => firstLocalMax(ys.length, cmpOf(ys), w);

test('first local maximum: window, plateaus, falling and flat curves', () => {
  assert.is(first([1, 3, 2, 5, 4]), 3); // layer 1 is below layer 3, within 2 layers: noise
  assert.is(first([1, 3, 2, 5, 4], 1), 1); // with a window of 1 it is a peak
  assert.is(first([1, 2, 2, 3, 1], 1), 3); // a plateau that rises further is no peak
  assert.is(first([1, 3, 3, 2, 4], 1), 1); // a plateau that falls is, at its first layer
  assert.is(first([1, 3, 3, 2, 1, 0, 4]), 1); // later global maximum farther than 2 layers away
  assert.is(first([5, 4, 3]), 0);
  assert.is(first([2, 2, 2]), 0);
  assert.is(first([1, 2, 3]), 2);
});

// English fires on all 8 neurons of every layer; "xa" on the first s_i of layer i, so
// O^i = Ō^i = s_i / 8 with s = [1, 4, 2, 3, 6, 5]: global maximum at layer 4, first local
// maximum at layer 1 (4 is not below any layer within 2: 1, 2, 3).
function curve(s: number[]): CountTable {
  const d = 8;
  const en = s.flatMap(() => Array.from({ length: d }, () => 1));
  const xa = s.flatMap((k) => Array.from({ length: d }, (_, j) => (j < k ? 1 : 0)));
  return { langs: ['en', 'xa'], layers: s.length, intermediate: d, tokens: { en: 1, xa: 1 }, counts: { en, xa } };
}

test('--peak global (default) and first: both peaks recorded, K from the one asked for, a warning when K > half the layers', async () => {
  const t = curve([1, 4, 2, 3, 6, 5]);
  const g = computeStats(t).selection;
  assert.is(g.peakRule, 'global');
  assert.is(g.peakLayer, 4);
  assert.equal(g.peaks, { global: { layer: 4, overlap: 6 / 8 }, first: { layer: 1, overlap: 4 / 8 } });
  assert.equal(g.K, [0, 1, 2, 3]);
  assert.ok(g.warnings.some((w) => /K spans 4 of 6 layers.*--peak first would end K at layer 1/.test(w)), g.warnings.join('\n'));
  assert.ok(g.reasoning.some((r) => /first local maximum is layer 1/.test(r)));

  const f = computeStats(t, { peak: 'first' }).selection;
  assert.is(f.peakRule, 'first');
  assert.is(f.peakLayer, 1);
  assert.equal(f.K, [0]);
  assert.equal(f.peaks, g.peaks);
  assert.is(f.warnings.length, 0);
  assert.ok(f.reasoning.some((r) => /first local maximum at layer 1 .*maximum over all layers is layer 4/.test(r)), f.reasoning.join('\n'));

  await rejects(() => computeStats(t, { peak: 'last' as never }), 'ERR_INVALID', /global or first/);
});

test.run();
