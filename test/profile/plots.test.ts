// The plots the engine draws, checked on their vega-lite specs and rendered SVG: a language has
// one colour in every plot; K and the trained layers are shaded over their whole slots (layer 0
// included); a dashed series is a dashed stroke in the legend, not a dot; a highlight's label
// stays inside the plot.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineChart, lineChartSpec, lineChartSvg } from '../../src/plot/chart';
import { compareCharts, profileCharts } from '../../src/profile/plots';
import { ProfileJson } from '../../src/profile/types';

function profile(langs: string[], K: number[], selected: number[]): ProfileJson {
  const layers = Array.from({ length: 8 }, (_, i) => ({
    layer: i,
    R: Object.fromEntries(langs.map((l, j) => [l, 0.2 + 0.05 * ((i + j) % 5)])),
    overlap: Object.fromEntries(langs.filter((l) => l !== 'en').map((l, j) => [l, 0.3 + 0.04 * ((i * 3 + j) % 7)])),
    overlapAvg: 0.4 + 0.01 * i,
    msd: i === 0 ? 0.0334 : 0.02 / (i + 1),
    inK: K.includes(i),
    selected: selected.includes(i),
  }));
  return {
    model: { dir: '/m/mini-ml' },
    data: { file: '/d/xquad_questions_train.jsonl' },
    questions: 200,
    params: { langs, scope: 'question' },
    layers,
    selection: { tau: 0.5, K, peakLayer: K.length, theta: K.length ? 0.0334 : null, selected },
  } as unknown as ProfileJson;
}

/** label -> colour of a chart's series. */
function colours(c: LineChart): Map<string, string> {
  const spec = lineChartSpec(c) as { layer: { mark: { type: string }; encoding: { color?: { scale: { domain: string[]; range: string[] } } } }[] };
  const line = spec.layer.find((l) => l.mark.type === 'line')!;
  const { domain, range } = line.encoding.color!.scale;
  return new Map(domain.map((d, i) => [d, range[i]!]));
}

const chart = (charts: [string, LineChart][], name: string): LineChart => charts.find(([n]) => n === name)![1];

test('a language has the same colour in every plot, whatever the other languages', () => {
  const six = profileCharts(profile(['en', 'ar', 'tr', 'ru', 'pt', 'zh'], [0], [0]));
  const R = colours(chart(six, 'plot-R'));
  const O = colours(chart(six, 'plot-overlap'));
  for (const l of ['ar', 'tr', 'ru', 'pt', 'zh']) assert.is(O.get(l), R.get(l), l);
  assert.is(R.get('AVG (non-en)'), O.get('AVG'), 'averages share one colour');
  const other = profileCharts(profile(['en', 'zh', 'ar'], [0], [0]));
  assert.is(colours(chart(other, 'plot-overlap')).get('ar'), R.get('ar'));
  assert.is(colours(chart(other, 'plot-R')).get('zh'), R.get('zh'));
  assert.is(new Set(R.values()).size, R.size, 'distinct colours within a plot');
});

test('K and the trained layers are shaded over whole slots, layer 0 included, inside the x range', () => {
  const p = profile(['en', 'ar', 'zh'], [0], [0]);
  for (const c of [chart(profileCharts(p), 'plot-overlap'), chart(profileCharts(p), 'plot-msd'), ...compareCharts(p, p, [0]).map(([, x]) => x)]) {
    const spec = lineChartSpec(c) as { layer: { mark: { type: string }; data: { values: { x: number; x2?: number }[] }; encoding: { x?: { scale?: { domain: number[] } } } }[] };
    const rect = spec.layer.find((l) => l.mark.type === 'rect')!;
    assert.equal([rect.data.values[0]!.x, rect.data.values[0]!.x2], [-0.5, 0.5], c.title);
    const line = spec.layer.find((l) => l.mark.type === 'line')!;
    assert.equal(line.encoding.x!.scale!.domain, [-0.5, 7.5], c.title);
  }
});

/** The legend entries of an SVG: label, the symbol's path and its dash. */
function legend(svg: string): { label: string; path: string; dash: string | null }[] {
  const out: { label: string; path: string; dash: string | null }[] = [];
  const re = /role-legend-symbol[^>]*><path ([^>]*)\/><\/g><g class="mark-text role-legend-label"[^>]*><text [^>]*>([^<]*)<\/text>/g;
  for (const m of svg.matchAll(re)) {
    out.push({ label: m[2]!, path: /\bd="([^"]*)"/.exec(m[1]!)![1]!, dash: /stroke-dasharray="([^"]*)"/.exec(m[1]!)?.[1] ?? null });
  }
  return out;
}

test('a dashed series is a dashed stroke in the legend; a solid one a solid stroke', async () => {
  const svg = await lineChartSvg(chart(profileCharts(profile(['en', 'ar', 'zh'], [0], [0])), 'plot-R'));
  const entries = legend(svg);
  assert.equal(entries.map((e) => e.label), ['en', 'ar', 'zh', 'AVG (non-en)']);
  for (const e of entries) assert.match(e.path, /^M-?[\d.]+,0L[\d.]+,0$/, `${e.label}: a stroke, not a dot (${e.path})`);
  assert.is(entries.find((e) => e.label === 'AVG (non-en)')!.dash, '6,4');
  assert.is(entries.find((e) => e.label === 'ar')!.dash, '1,0');
});

test('the label of the highest highlighted point stays inside the plot', async () => {
  const svg = await lineChartSvg(chart(profileCharts(profile(['en', 'ar', 'zh'], [0], [0])), 'plot-msd'));
  const m = /<text [^>]*transform="translate\(([-\d.]+),([-\d.]+)\)"[^>]*>selected<\/text>/.exec(svg);
  assert.ok(m, 'the label is drawn');
  // The label's baseline lies below its font size from the top of the plot area (y = 0).
  assert.ok(Number(m![2]) >= 11, `label baseline at y = ${m![2]}`);
});

test.run();
