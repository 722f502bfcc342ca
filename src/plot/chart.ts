// A small generic line chart: series of (x, y) with labels, optional vertical/horizontal rule
// markers, shaded x-bands and highlighted points, drawn with vega-lite + vega headlessly (SVG, no
// canvas) and rasterised to PNG with resvg using the bundled DejaVu Sans font (no system fonts
// are assumed or read, so the PNG is the same on every machine). Offline: nothing is fetched.
//
//   const chart: LineChart = { title: 'Loss', xLabel: 'step', yLabel: 'loss',
//     series: [{ label: 'train', points: [{ x: 0, y: 2.3 }, { x: 1, y: 2.1 }] }],
//     markers: [{ axis: 'x', value: 1, label: 'epoch 1', dashed: true }] };
//   await writeLineChart('out/loss', chart);   // out/loss.svg + out/loss.png, each written atomically
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { writeFileAtomic } from '../util/atomic';

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  label: string;
  points: Point[];
  /** Dashed stroke (e.g. an average drawn over the individual series). */
  dashed?: boolean;
  /** Draw a dot at each point (default: true when the series has at most 64 points). */
  showPoints?: boolean;
  /** Stroke width in px (default 2). */
  width?: number;
  /** A fixed colour (a language's, plot/colors.ts); default: the next of the palette not fixed. */
  color?: string;
}

export interface Marker {
  /** 'x': a vertical rule at x = value; 'y': a horizontal rule at y = value. */
  axis: 'x' | 'y';
  value: number;
  label?: string;
  dashed?: boolean;
  color?: string;
}

export interface Band {
  /** A shaded vertical band over x in [from, to] (for integer x, [first - 0.5, last + 0.5] covers
   * whole slots). */
  from: number;
  to: number;
  label?: string;
  color?: string;
}

export interface Highlight extends Point {
  label?: string;
  color?: string;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  markers?: Marker[];
  bands?: Band[];
  /** Emphasised points (drawn as rings on top), e.g. the selected layers. */
  highlights?: Highlight[];
  /** Plot area size in px (default 560 x 300). */
  width?: number;
  height?: number;
  /** Integer x (layers, steps): integer ticks, and half a slot of room on either side so the
   * first and last points, bands and rings lie inside the plot. */
  xInteger?: boolean;
  /** Fixed y range; default: fitted to the data (zero not forced). */
  yDomain?: [number, number];
  /** Include zero in the y range (default false). */
  yZero?: boolean;
}

// vega and vega-lite are ES modules; this CommonJS build loads them with a real dynamic import
// (TypeScript would turn `import()` into `require()`).
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const esmImport = new Function('m', 'return import(m)') as (m: string) => Promise<unknown>;

interface VegaView {
  toSVG(scale?: number): Promise<string>;
  finalize(): void;
}
interface VegaModule {
  View: new (runtime: unknown, opts: { renderer: 'none' }) => VegaView;
  parse(spec: unknown): unknown;
}
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

let libs: Promise<{ vega: VegaModule; vl: VegaLiteModule }> | undefined;
function loadLibs(): Promise<{ vega: VegaModule; vl: VegaLiteModule }> {
  libs ??= Promise.all([esmImport('vega'), esmImport('vega-lite')]).then(([vega, vl]) => ({
    vega: vega as VegaModule,
    vl: vl as VegaLiteModule,
  }));
  return libs;
}

export const FONT_FAMILY = 'DejaVu Sans';

/** The bundled font file (assets/fonts/DejaVuSans.ttf). */
export function fontFile(): string {
  const candidates = [join(__dirname, '..', '..', '..', 'assets', 'fonts', 'DejaVuSans.ttf'), join(__dirname, '..', '..', 'assets', 'fonts', 'DejaVuSans.ttf')];
  const f = candidates.find((p) => existsSync(p));
  if (!f) throw new PlastError('ERR_IO', `the plot font is missing (looked for ${candidates.join(', ')}); reinstall the package`);
  return f;
}

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];

function checkChart(c: LineChart): void {
  if (c.series.length === 0) throw new PlastError('ERR_INVALID', `chart "${c.title}": expected at least one series`);
  const labels = new Set<string>();
  for (const s of c.series) {
    if (labels.has(s.label)) throw new PlastError('ERR_INVALID', `chart "${c.title}": two series are labelled "${s.label}"`);
    labels.add(s.label);
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
        throw new PlastError('ERR_NUMERIC', `chart "${c.title}": series "${s.label}" has a non-finite point (${p.x}, ${p.y})`);
      }
    }
  }
}

/** Each series' colour: its own, else the palette's next colour that no series has fixed. */
function seriesColors(c: LineChart): string[] {
  const fixed = new Set(c.series.map((s) => s.color).filter((x): x is string => x !== undefined));
  const free = PALETTE.filter((p) => !fixed.has(p));
  let next = 0;
  return c.series.map((s) => s.color ?? free[next++ % Math.max(1, free.length)] ?? PALETTE[0]!);
}

/** The vega-lite spec of a chart (exposed for tests and for callers who want to tweak it). */
export function lineChartSpec(c: LineChart): Record<string, unknown> {
  checkChart(c);
  const labels = c.series.map((s) => s.label);
  const colors = seriesColors(c);
  // One legend for colour and dash: a dashed series shows a dashed stroke in it, not a dot.
  const legend = { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 300 };
  const color = { field: 's', type: 'nominal', title: null, scale: { domain: labels, range: colors }, sort: labels, legend };
  const strokeDash = { field: 's', type: 'nominal', title: null, scale: { domain: labels, range: c.series.map((s) => (s.dashed ? [6, 4] : [1, 0])) }, sort: labels, legend };
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
  const pad = c.xInteger ? 0.5 : 0;
  const xMin = Math.min(...xs, ...(c.markers ?? []).filter((m) => m.axis === 'x').map((m) => m.value), ...(c.bands ?? []).map((b) => b.from + pad));
  const xMax = Math.max(...xs, ...(c.markers ?? []).filter((m) => m.axis === 'x').map((m) => m.value), ...(c.bands ?? []).map((b) => b.to - pad));
  const xScale: Record<string, unknown> = { zero: false, nice: false, domain: [xMin - pad, xMax + pad] };
  const xAxis: Record<string, unknown> = { title: c.xLabel, grid: true };
  if (c.xInteger) {
    xAxis['tickMinStep'] = 1;
    xAxis['format'] = 'd';
    const first = Math.ceil(xMin);
    const last = Math.floor(xMax);
    if (last - first <= 40) xAxis['values'] = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }
  const yScale: Record<string, unknown> = c.yDomain ? { domain: c.yDomain } : { zero: c.yZero ?? false };
  // Room above the highest emphasised point for its label (the label sits above the ring).
  if (!c.yDomain && c.highlights && c.highlights.length > 0) {
    const ys = [...c.series.flatMap((s) => s.points.map((p) => p.y)), ...c.highlights.map((h) => h.y), ...(c.markers ?? []).filter((m) => m.axis === 'y').map((m) => m.value)];
    const lo = c.yZero ? Math.min(0, ...ys) : Math.min(...ys);
    const hi = Math.max(...ys);
    yScale['domain'] = [lo, hi + 0.12 * (hi - lo || Math.abs(hi) || 1)];
    yScale['nice'] = false;
  }
  const x = { field: 'x', type: 'quantitative', scale: xScale, axis: xAxis };
  const y = { field: 'y', type: 'quantitative', scale: yScale, axis: { title: c.yLabel } };
  const layers: Record<string, unknown>[] = [];

  for (const b of c.bands ?? []) {
    layers.push({
      data: { values: [{ x: b.from, x2: b.to, label: b.label ?? '' }] },
      mark: { type: 'rect', color: b.color ?? '#9ecae1', opacity: 0.25 },
      encoding: { x: { field: 'x', type: 'quantitative' }, x2: { field: 'x2' } },
    });
    if (b.label) {
      layers.push({
        // Starts at the band's left edge: a narrow band at layer 0 would push a centred label past the axis.
        data: { values: [{ x: b.from, label: b.label }] },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 3, dy: -4, fontSize: 12, fontWeight: 'bold', color: '#3b6a8f' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: c.height ?? 300 }, text: { field: 'label' } },
      });
    }
  }
  for (const dashed of [false, true]) {
    const group = c.series.filter((s) => (s.dashed ?? false) === dashed);
    if (group.length === 0) continue;
    const values = group.flatMap((s) => s.points.map((p) => ({ x: p.x, y: p.y, s: s.label, w: s.width ?? 2 })));
    const points = group.every((s) => s.showPoints ?? s.points.length <= 64);
    layers.push({
      data: { values },
      mark: { type: 'line', point: points ? { size: 28 } : false, clip: true },
      encoding: { x, y, color, strokeDash, strokeWidth: { field: 'w', type: 'quantitative', scale: null, legend: null }, order: { field: 'x' } },
    });
  }
  for (const m of c.markers ?? []) {
    const enc = m.axis === 'x' ? { x: { datum: m.value, type: 'quantitative' } } : { y: { datum: m.value, type: 'quantitative' } };
    layers.push({
      data: { values: [{}] },
      mark: { type: 'rule', color: m.color ?? '#555', strokeDash: m.dashed ? [4, 3] : [1, 0], strokeWidth: 1.5 },
      encoding: enc,
    });
    if (m.label) {
      layers.push({
        data: { values: [{}] },
        mark:
          m.axis === 'x'
            ? { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 11, color: m.color ?? '#333' }
            : { type: 'text', align: 'right', baseline: 'bottom', dx: -4, dy: -3, fontSize: 11, color: m.color ?? '#333' },
        encoding:
          m.axis === 'x'
            ? { x: { datum: m.value, type: 'quantitative' }, y: { value: 0 }, text: { value: m.label } }
            : { y: { datum: m.value, type: 'quantitative' }, x: { value: c.width ?? 560 }, text: { value: m.label } },
      });
    }
  }
  if (c.highlights && c.highlights.length > 0) {
    layers.push({
      data: { values: c.highlights.map((h) => ({ x: h.x, y: h.y, label: h.label ?? '', c: h.color ?? '#d62728' })) },
      mark: { type: 'point', shape: 'circle', size: 180, strokeWidth: 2.5, filled: false },
      // stroke and fill, not color: the color channel is the series' (one legend for colour and dash).
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, stroke: { field: 'c', type: 'nominal', scale: null } },
    });
    // Labels sit beside their point, towards the middle of the plot, so that one at either end
    // neither covers the axis labels nor runs off the canvas.
    const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
    const mid = xs.length ? (Math.min(...xs) + Math.max(...xs)) / 2 : 0;
    for (const right of [false, true]) {
      const values = c.highlights
        .filter((h) => h.label && (h.x > mid) === right)
        .map((h) => ({ x: h.x, y: h.y, label: h.label!, c: h.color ?? '#d62728' }));
      if (values.length === 0) continue;
      layers.push({
        data: { values },
        mark: { type: 'text', align: right ? 'right' : 'left', baseline: 'bottom', dx: right ? -10 : 10, dy: -6, fontSize: 11 },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          text: { field: 'label' },
          fill: { field: 'c', type: 'nominal', scale: null },
        },
      });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.subtitle ? { text: c.title, subtitle: c.subtitle } : c.title,
    width: c.width ?? 560,
    height: c.height ?? 300,
    background: 'white',
    padding: 12,
    layer: layers,
    config: {
      font: FONT_FAMILY,
      legend: { orient: 'right', labelFontSize: 12, symbolStrokeWidth: 2.5 },
      axis: { labelFontSize: 11, titleFontSize: 12 },
      title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555' },
    },
  };
}

/** The chart as an SVG document. */
export async function lineChartSvg(c: LineChart): Promise<string> {
  const spec = lineChartSpec(c);
  const { vega, vl } = await loadLibs();
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG (default 2x) with the bundled font only. */
export function svgToPng(svg: string, opts: { scale?: number } = {}): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: [fontFile()], defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
    background: 'white',
    fitTo: { mode: 'zoom', value: opts.scale ?? 2 },
  });
  return r.render().asPng();
}

/** Writes `base`.svg and `base`.png (each atomically); returns their paths. */
export async function writeLineChart(base: string, c: LineChart, opts: { scale?: number } = {}): Promise<{ svg: string; png: string }> {
  const svg = await lineChartSvg(c);
  const png = svgToPng(svg, opts);
  writeFileAtomic(`${base}.svg`, svg);
  writeFileAtomic(`${base}.png`, png);
  return { svg: `${base}.svg`, png: `${base}.png` };
}
