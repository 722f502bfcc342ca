// Progress bars on stderr for long work (questions, steps), with rate and ETA. Silent when stderr
// is not a terminal or PLAST_NO_PROGRESS is set, so logs and tests stay clean.
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
  return {
    update(done, payload) {
      bar.update(done, payload);
    },
    stop() {
      bar.stop();
    },
  };
}
