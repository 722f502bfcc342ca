// $/progress notifications of one request: stage, done/total, tokens/s and an ETA from the rate
// of the latest updates (util/progress.ts's Eta, as the terminal bars compute it). Without a
// progressToken in the request nothing is sent.
import { Eta } from '../util/progress';
import { ProgressValue } from './schema';

export type Send = (value: ProgressValue) => void;

export class ProgressReporter {
  private eta?: Eta;
  private stage = '';

  constructor(private readonly send: Send | undefined) {}

  /** A stage or message without counters (queued position, a log line of run). */
  note(value: ProgressValue): void {
    this.send?.(value);
  }

  /** done of total in `stage`; tokensPerSecond when the work knows it. */
  update(stage: string, done: number, total: number | null, extra: Partial<ProgressValue> = {}): void {
    if (!this.send) return;
    if (stage !== this.stage || !this.eta) {
      this.stage = stage;
      this.eta = new Eta(total ?? 0, done); // a resumed training starts past 0
    }
    this.eta.add(done);
    const rate = this.eta.rate();
    const etaSeconds = total !== null && rate !== null ? Math.max(0, (total - done) / rate) : null;
    this.send({ stage, done, total, etaSeconds, ...extra });
  }
}
