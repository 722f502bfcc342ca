// Progress of long work (prompts, sequences, steps) on stderr, with rate and ETA:
//   - on a terminal, a bar redrawn in place (cli-progress);
//   - otherwise (tee, CI, a job scheduler), a plain line every PLAST_PROGRESS_INTERVAL seconds
//     (default 5), one when the work starts and one when it ends, so a log shows where a job is;
//   - none with PLAST_NO_PROGRESS set or `enabled: false` (the library's `progress: false`).
//
// A bar redraws its line on a timer and, when it stops, moves the cursor back to where it
// started: anything printed on the terminal while it runs is overwritten. A message that must be
// read while a bar runs (Ctrl-C's) stops the bars first (stopProgress).
import { SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Where the work starts (a resumed training: the steps done before). */
  start?: number;
  unit?: string;
  /** Extra payload keys shown after the bar, e.g. tokens/s or loss. */
  fields?: string[];
  /** false: no progress; true: a bar on a terminal, lines otherwise, PLAST_NO_PROGRESS or not;
   * default: as true, unless PLAST_NO_PROGRESS is set. */
  enabled?: boolean;
}

/** Seconds between two progress lines when stderr is not a terminal. */
export const DEFAULT_PROGRESS_INTERVAL = 5;

/** The bars on the terminal now. */
const active = new Set<Progress>();

/** Stops every bar on the terminal (a last draw, then a new line), so that what is printed next
 * starts on a line of its own that no redraw overwrites; a stopped bar ignores later updates.
 * Returns how many were stopped. */
export function stopProgress(): number {
  const n = active.size;
  for (const b of [...active]) b.stop();
  return n;
}

/** 9s, 4m20s, 1h05m. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(r: number): string {
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2);
}

/** Rate and ETA over the latest updates; unknown ('-') until they span a second of work. */
export class Eta {
  private readonly samples: [number, number][];

  constructor(private readonly total: number, start: number, now = Date.now()) {
    this.samples = [[now, start]];
  }

  add(done: number, now = Date.now()): void {
    this.samples.push([now, done]);
    if (this.samples.length > 20) this.samples.shift();
  }

  /** Units per second, or null while unknown. */
  rate(): number | null {
    const [t0, v0] = this.samples[0]!;
    const [t1, v1] = this.samples[this.samples.length - 1]!;
    return t1 - t0 >= 1000 && v1 > v0 ? ((v1 - v0) * 1000) / (t1 - t0) : null;
  }

  /** The time left as text ('-' while unknown). */
  eta(): string {
    const r = this.rate();
    const done = this.samples[this.samples.length - 1]![1];
    return r === null ? '-' : formatDuration((this.total - done) / r);
  }
}

function progressMode(enabled: boolean | undefined): 'bar' | 'lines' | 'off' {
  if (enabled === false || (enabled === undefined && process.env.PLAST_NO_PROGRESS)) return 'off';
  return process.stderr.isTTY === true ? 'bar' : 'lines';
}

function intervalSeconds(): number {
  const v = Number(process.env.PLAST_PROGRESS_INTERVAL);
  return process.env.PLAST_PROGRESS_INTERVAL !== undefined && Number.isFinite(v) && v >= 0 ? v : DEFAULT_PROGRESS_INTERVAL;
}

export function progress(opts: ProgressOptions): Progress {
  const mode = progressMode(opts.enabled);
  if (mode === 'off') return { update() {}, stop() {} };
  return mode === 'bar' ? barProgress(opts) : lineProgress(opts);
}

function barProgress(opts: ProgressOptions): Progress {
  const extra = (opts.fields ?? []).map((f) => ` | ${f} {${f}}`).join('');
  const bar = new SingleBar({
    // The ETA is ours ({eta_formatted} shows "NFs" before cli-progress knows a rate).
    format: `${opts.label} [{bar}] {value}/{total} ${opts.unit ?? ''} | {percentage}% | ETA {time_left}${extra}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
  });
  const eta = new Eta(opts.total, opts.start ?? 0);
  const init: Record<string, string> = { time_left: '-' };
  for (const f of opts.fields ?? []) init[f] = '-';
  bar.start(opts.total, opts.start ?? 0, init);
  let stopped = false;
  const p: Progress = {
    update(done, payload) {
      if (stopped) return;
      eta.add(done);
      bar.update(done, { ...payload, time_left: eta.eta() });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      active.delete(p);
      bar.stop();
    },
  };
  active.add(p);
  return p;
}

function lineProgress(opts: ProgressOptions): Progress {
  const every = intervalSeconds() * 1000;
  const t0 = Date.now();
  const eta = new Eta(opts.total, opts.start ?? 0, t0);
  const unit = opts.unit ?? '';
  let done = opts.start ?? 0;
  let fields: Record<string, string | number> = {};
  let last = t0;
  let stopped = false;
  const count = (): string => `${opts.label}: ${done}/${opts.total} ${unit} (${opts.total > 0 ? Math.floor((100 * done) / opts.total) : 100}%)`;
  const extra = (): string => (opts.fields ?? []).filter((f) => fields[f] !== undefined).map((f) => `, ${f} ${fields[f]}`).join('');
  const say = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  say(count());
  return {
    update(d, payload) {
      if (stopped) return;
      done = d;
      if (payload) fields = { ...fields, ...payload };
      const now = Date.now();
      eta.add(d, now);
      if (now - last < every) return;
      last = now;
      const r = eta.rate();
      say(`${count()}, ${r === null ? '-' : formatRate(r)} ${unit}/s, ETA ${eta.eta()}${extra()}`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      say(`${count()} in ${formatDuration((Date.now() - t0) / 1000)}${extra()}`);
    },
  };
}
