// Progress bars on stderr for long work (questions, steps), with rate and ETA. Silent when stderr
// is not a terminal or PLAST_NO_PROGRESS is set, so logs and tests stay clean.
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
  unit?: string;
  /** Extra payload keys shown after the bar, e.g. tokens/s or loss. */
  fields?: string[];
  enabled?: boolean;
}

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

export function progress(opts: ProgressOptions): Progress {
  const enabled = opts.enabled ?? (process.stderr.isTTY === true && !process.env.PLAST_NO_PROGRESS);
  if (!enabled) return { update() {}, stop() {} };
  const extra = (opts.fields ?? []).map((f) => ` | ${f} {${f}}`).join('');
  const bar = new SingleBar(
    {
      format: `${opts.label} [{bar}] {value}/{total} ${opts.unit ?? ''} | {percentage}% | ETA {eta_formatted}${extra}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
  );
  const init: Record<string, string> = {};
  for (const f of opts.fields ?? []) init[f] = '-';
  bar.start(opts.total, 0, init);
  let stopped = false;
  const p: Progress = {
    update(done, payload) {
      if (!stopped) bar.update(done, payload);
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
