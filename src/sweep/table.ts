// The sweep's table and plot, rewritten from the finished variants' result.json after each one:
// OUT/sweep.md (Markdown), OUT/results.json (the same rows, for scripts) and OUT/sweep.svg + .png
// (the paper's Fig. 5: the score against the number of trained layers, the first-K curve, the
// random ("R") and all-layer ("A") points, PLAST and its attn / mlp halves marked, the untrained
// base as a rule).
import { join } from 'node:path';
import { Highlight, LineChart, Marker, writeLineChart } from '../plot/chart';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { VariantResult } from './result';
import { SweepJson } from './sweep';
import { describeLayers } from './variants';

export interface SweepTable {
  markdown: string;
  json: string;
  plot: { svg: string; png: string } | null;
  langs: string[];
}

const fmtScore = (metric: string, x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : metric === 'NLL' ? x.toFixed(4) : (100 * x).toFixed(1));
const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

export function sweepMarkdown(j: SweepJson, rs: VariantResult[]): string {
  const langs = [...new Set(rs.flatMap((r) => Object.keys(r.scores)))].sort();
  const metric = rs[0]?.metric ?? 'score';
  const unit = metric === 'NLL' ? 'NLL per target token, lower is better' : `${metric} in %`;
  const s = j.settings;
  const vlm = s.eval.protocol === 'vlmeval' ? ` by VLMEvalKit's protocol (greedy, at most ${s.eval.maxNewTokens} new tokens, prompting ${s.eval.prompting})` : '';
  const lines = [
    '# Layer sweep',
    '',
    `Model \`${s.model}\` (${s.numLayers} layers), trained on ${s.data.map((d) => `\`${d}\``).join(', ')} with one recipe (epochs ${s.recipe.epochs}, lr ${s.recipe.lr}, batch ${s.recipe.batch}, seed ${s.recipe.seed}${s.recipe.limit !== null ? `, limit ${s.recipe.limit}` : ''}), evaluated on ${s.eval.data.map((d) => `\`${d}\``).join(', ')}${vlm}: ${unit}.${s.selection ? ` PLAST selection: ${s.selection.join(',')}.` : ''}`,
    `${rs.length} of ${j.variants.length} variants finished.`,
    '',
    `| variant | trained layers | trainable % | ${langs.join(' | ')} | average | final loss | wall s | peak MiB |`,
    `|---|---|---|${langs.map(() => '---|').join('')}---|---|---|---|`,
  ];
  for (const r of rs) {
    const v = j.variants.find((x) => x.name === r.name) ?? { ...r };
    lines.push(
      `| ${r.name} | ${describeLayers(v, s.numLayers)} | ${r.trainablePercent.toFixed(2)} | ${langs.map((l) => fmtScore(metric, r.scores[l])).join(' | ')} | ${fmtScore(metric, r.average)} | ${r.finalLoss !== null ? r.finalLoss.toFixed(4) : '-'} | ${r.seconds.toFixed(1)} | ${mib(r.peakBytes)} |`,
    );
  }
  lines.push('', '![score against trained layers](sweep.png)', '');
  return lines.join('\n');
}

export function sweepChart(j: SweepJson, rs: VariantResult[]): LineChart | null {
  const trained = rs.filter((r) => r.kind !== 'base');
  if (trained.length === 0) return null;
  const metric = rs[0]!.metric;
  const y = (r: VariantResult): number => (metric === 'NLL' ? r.average : 100 * r.average);
  const first = rs.filter((r) => r.kind === 'first').sort((a, b) => a.layers.length - b.layers.length);
  const highlights: Highlight[] = [];
  const mark = (r: VariantResult, label: string, color: string): void => {
    if (Number.isFinite(y(r))) highlights.push({ x: r.layers.length, y: y(r), label, color });
  };
  for (const r of rs) {
    if (r.kind === 'random') mark(r, `R${r.seed ?? ''}`, '#9d755d');
    if (r.kind === 'all') mark(r, 'A', '#e45756');
    if (r.kind === 'plast') mark(r, 'PLAST', '#54a24b');
  }
  const markers: Marker[] = [];
  const base = rs.find((r) => r.kind === 'base');
  if (base && Number.isFinite(y(base))) markers.push({ axis: 'y', value: y(base), label: 'base', dashed: true });
  // One series per kind (a single point draws as a dot; the random seeds of one size as a bar
  // over their spread), so every variant is inside the axes and in the legend.
  const groups: [string, VariantResult[], string][] = [
    ['first K layers', first, '#4c78a8'],
    ['random (R)', rs.filter((r) => r.kind === 'random').sort((a, b) => a.layers.length - b.layers.length || y(a) - y(b)), '#9d755d'],
    ['all (A)', rs.filter((r) => r.kind === 'all'), '#e45756'],
    ['PLAST', rs.filter((r) => r.kind === 'plast'), '#54a24b'],
    ['PLAST attn', rs.filter((r) => r.kind === 'plast-attn'), '#72b7b2'],
    ['PLAST mlp', rs.filter((r) => r.kind === 'plast-mlp'), '#b279a2'],
  ];
  const series = groups
    .map(([label, xs, color]) => ({ label, color, points: xs.filter((r) => Number.isFinite(y(r))).map((r) => ({ x: r.layers.length, y: y(r) })) }))
    .filter((g) => g.points.length > 0);
  if (series.length === 0) return null;
  return {
    title: 'Score against the number of trained layers',
    subtitle: `${j.settings.model} · R = random layers, A = all layers`,
    xLabel: 'trained layers',
    yLabel: metric === 'NLL' ? 'average NLL per target token (lower is better)' : `average ${metric} (%)`,
    xInteger: true,
    series,
    markers,
    highlights,
  };
}

/** Writes OUT/sweep.md, OUT/results.json and the plot; a plot failure is logged in the table, not thrown. */
export async function writeSweepTable(out: string, j: SweepJson, rs: VariantResult[]): Promise<SweepTable> {
  const langs = [...new Set(rs.flatMap((r) => Object.keys(r.scores)))].sort();
  const markdown = join(out, 'sweep.md');
  const json = join(out, 'results.json');
  writeJsonAtomic(json, { format: 'plast-sweep-results', settings: j.settings, variants: j.variants, shard: j.shard, langs, results: rs });
  const chart = sweepChart(j, rs);
  const plot = chart ? await writeLineChart(join(out, 'sweep'), chart) : null;
  writeFileAtomic(markdown, sweepMarkdown(j, rs));
  return { markdown, json, plot, langs };
}
