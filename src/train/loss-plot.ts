// The training loss curve, drawn with the shared chart module like the profile plots:
// OUT/loss.svg and OUT/loss.png. The raw per-step loss with an exponential moving average over it
// (dashed; a few hundred noisy steps read better smoothed) and a rule where each new epoch starts.
import { LineChart, Marker, Point, writeLineChart } from '../plot/chart';

export interface LossPlotOptions {
  title?: string;
  subtitle?: string;
  /** Optimizer steps per epoch: a rule marks where each later epoch starts. */
  stepsPerEpoch?: number;
}

/** The chart of per-step losses (step i + 1 at x = i + 1); non-finite losses are left out. */
export function lossChart(losses: number[], o: LossPlotOptions = {}): LineChart {
  const raw: Point[] = [];
  losses.forEach((y, i) => {
    if (Number.isFinite(y)) raw.push({ x: i + 1, y });
  });
  // Heavier smoothing for long runs, where a single step says little.
  const alpha = raw.length > 50 ? 0.1 : 0.3;
  const ema: Point[] = [];
  let acc: number | undefined;
  for (const p of raw) {
    acc = acc === undefined ? p.y : acc + alpha * (p.y - acc);
    ema.push({ x: p.x, y: acc });
  }
  const markers: Marker[] = [];
  const spe = o.stepsPerEpoch;
  if (spe !== undefined && spe > 0) {
    // Epoch e (0-based) starts with step e * spe + 1; the rule sits just before it.
    for (let e = 1; e * spe < losses.length; e++) markers.push({ axis: 'x', value: e * spe + 0.5, label: `epoch ${e + 1}`, dashed: true });
  }
  return {
    title: o.title ?? 'PLAST training loss',
    ...(o.subtitle !== undefined ? { subtitle: o.subtitle } : {}),
    xLabel: 'optimizer step',
    yLabel: 'loss (mean NLL per target token)',
    xInteger: true,
    series: [
      { label: 'loss', points: raw, width: 1.5 },
      // dashed, like the averages of the profile plots
      { label: `EMA (α = ${alpha})`, points: ema, width: 2.5, dashed: true, showPoints: false },
    ],
    markers,
  };
}

/** Writes `base`.svg and `base`.png; returns their paths, or null when there is no finite loss yet. */
export async function writeLossPlot(base: string, losses: number[], o: LossPlotOptions = {}): Promise<{ svg: string; png: string } | null> {
  if (!losses.some((l) => Number.isFinite(l))) return null;
  return writeLineChart(base, lossChart(losses, o));
}

/** Redraws `base`.svg/.png when there are losses it has not drawn. A failure is logged, never
 * thrown: the plot is a by-product and must not end (or lose) a training run. */
export function lossPlotter(base: string, o: LossPlotOptions, log: (m: string) => void): (losses: number[]) => Promise<void> {
  let plotted = -1;
  return async (losses) => {
    if (plotted === losses.length) return;
    plotted = losses.length;
    try {
      await writeLossPlot(base, losses, o);
    } catch (err) {
      log(`loss plot not written: ${(err as Error).message}`);
    }
  };
}
