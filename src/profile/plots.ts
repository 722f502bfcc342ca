// The profile's plots, next to profile.json as SVG and PNG:
//   plot-R        R per layer per language, with the non-English average (paper Fig. 3)
//   plot-overlap  overlap O with English per layer per non-English language, the average, the
//                 peak and K (Fig. 4)
//   plot-msd      MSD per layer, K, θ and the selected layers (Fig. 6)
// A language has the same colour in every plot (plot/colors.ts), averages are dark grey and
// dashed, and K or the trained layers are shaded over their whole slots (layer ± 0.5).
import { basename, join } from 'node:path';
import { parallelItems } from '../data/parallel';
import { Band, LineChart, Marker, writeLineChart } from '../plot/chart';
import { AVERAGE_COLOR, languageColor } from '../plot/colors';
import type { ProfileJson } from './types';

/** The charts of a profile, by file name (without extension). */
export function profileCharts(p: ProfileJson): [string, LineChart][] {
  const langs = p.params.langs;
  const others = langs.filter((l) => l !== 'en');
  const layers = p.layers;
  const sel = p.selection;
  const sub = `${basename(p.model.dir)} · ${p.questions} ${parallelItems(p.data.file)} · scope ${p.params.scope} · τ = ${sel.tau}`;
  const K = sel.K;
  const bands: Band[] = K.length > 0 ? [{ from: K[0]! - 0.5, to: K[K.length - 1]! + 0.5, label: 'K' }] : [];
  const peak: Marker = { axis: 'x', value: sel.peakLayer, label: `peak ${sel.peakLayer}`, dashed: true };
  const avg = (f: (s: ProfileJson['layers'][number]) => number) => layers.map((s) => ({ x: s.layer, y: f(s) }));

  const rChart: LineChart = {
    title: 'Activated neurons R per layer',
    subtitle: sub,
    xLabel: 'layer (0-based)',
    yLabel: 'R = |activated set| / d_inter',
    xInteger: true,
    series: [
      ...langs.map((l) => ({ label: l, color: languageColor(l), points: layers.map((s) => ({ x: s.layer, y: s.R[l]! })) })),
      { label: 'AVG (non-en)', color: AVERAGE_COLOR, dashed: true, width: 3, points: avg((s) => others.reduce((a, l) => a + s.R[l]!, 0) / others.length) },
    ],
  };
  const oChart: LineChart = {
    title: 'Overlap O with English per layer',
    subtitle: sub,
    xLabel: 'layer (0-based)',
    yLabel: 'O = |N_l ∩ N_en| / |N_en|',
    xInteger: true,
    series: [
      ...others.map((l) => ({ label: l, color: languageColor(l), points: layers.map((s) => ({ x: s.layer, y: s.overlap[l]! })) })),
      { label: 'AVG', color: AVERAGE_COLOR, dashed: true, width: 3, points: avg((s) => s.overlapAvg) },
    ],
    markers: [peak],
    bands,
  };
  const markers: Marker[] = [peak];
  if (sel.theta !== null) markers.push({ axis: 'y', value: sel.theta, label: `θ = ${sel.theta.toExponential(2)}`, dashed: true, color: '#d62728' });
  const mChart: LineChart = {
    title: 'MSD of R across languages per layer',
    subtitle: `${sub} · selected: ${sel.selected.length ? sel.selected.join(', ') : 'none'}`,
    xLabel: 'layer (0-based)',
    yLabel: 'MSD',
    xInteger: true,
    yZero: true,
    series: [{ label: 'MSD', points: layers.map((s) => ({ x: s.layer, y: s.msd })) }],
    markers,
    bands,
    highlights: sel.selected.map((i) => ({ x: i, y: layers[i]!.msd, label: 'selected' })),
  };
  return [
    ['plot-R', rChart],
    ['plot-overlap', oChart],
    ['plot-msd', mChart],
  ];
}

async function writeCharts(dir: string, charts: [string, LineChart][]): Promise<string[]> {
  const out: string[] = [];
  for (const [name, chart] of charts) {
    await writeLineChart(join(dir, name), chart);
    out.push(`${name}.svg`, `${name}.png`);
  }
  return out;
}

export function writeProfilePlots(dir: string, p: ProfileJson): Promise<string[]> {
  return writeCharts(dir, profileCharts(p));
}

/**
 * Before and after training on the same questions (the paper's Fig. 6): the average overlap of
 * the non-English languages with English per layer, and the MSD of R per layer. Written as
 * DIR/plot-compare-overlap and DIR/plot-compare-msd (SVG + PNG).
 */
export function writeComparePlots(dir: string, before: ProfileJson, after: ProfileJson, layersTrained: number[]): Promise<string[]> {
  return writeCharts(dir, compareCharts(before, after, layersTrained));
}

/** The before/after charts, by file name (without extension). */
export function compareCharts(before: ProfileJson, after: ProfileJson, layersTrained: number[]): [string, LineChart][] {
  const sub = `${basename(before.model.dir)} · ${before.questions} ${parallelItems(before.data.file)} · scope ${before.params.scope} · trained layers ${layersTrained.join(', ') || 'none'}`;
  const line = (p: ProfileJson, f: (s: ProfileJson['layers'][number]) => number) => p.layers.map((s) => ({ x: s.layer, y: f(s) }));
  const trained: Band[] = layersTrained.length > 0 ? [{ from: Math.min(...layersTrained) - 0.5, to: Math.max(...layersTrained) + 0.5, label: 'trained' }] : [];
  const charts: [string, LineChart][] = [
    [
      'plot-compare-overlap',
      {
        title: 'Average overlap with English, before and after training',
        subtitle: sub,
        xLabel: 'layer (0-based)',
        yLabel: 'mean O over non-English languages',
        xInteger: true,
        series: [
          { label: 'before', dashed: true, points: line(before, (s) => s.overlapAvg) },
          { label: 'after', points: line(after, (s) => s.overlapAvg) },
        ],
        bands: trained,
      },
    ],
    [
      'plot-compare-msd',
      {
        title: 'MSD of R across languages, before and after training',
        subtitle: sub,
        xLabel: 'layer (0-based)',
        yLabel: 'MSD',
        xInteger: true,
        yZero: true,
        series: [
          { label: 'before', dashed: true, points: line(before, (s) => s.msd) },
          { label: 'after', points: line(after, (s) => s.msd) },
        ],
        bands: trained,
      },
    ],
  ];
  return charts;
}
