// train.jsonl: one JSON record a line, appended as the run goes (config, data, bad rows, each
// step, checkpoints, export, errors, the end), so the log of a run that crashed still shows how
// far it got.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { io } from '../util/paths';

export class TrainLog {
  readonly path: string;

  constructor(out: string) {
    this.path = join(out, 'train.jsonl');
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  append(rec: unknown): void {
    io(this.path, 'append to the log', () => appendFileSync(this.path, JSON.stringify(rec) + '\n'));
  }

  /** A fresh run: the log starts empty, then these records. */
  start(records: unknown[]): void {
    io(this.path, 'write the log', () => writeFileSync(this.path, ''));
    for (const r of records) this.append(r);
  }

  /** A resumed run keeps the records up to the checkpoint's step; later ones (an interrupted tail) go. */
  keepUpTo(step: number): void {
    if (!this.exists()) return;
    const kept = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => {
        try {
          const r = JSON.parse(l) as { step?: unknown };
          return typeof r.step !== 'number' || r.step <= step;
        } catch {
          return false;
        }
      });
    writeFileAtomic(this.path, kept.map((l) => l + '\n').join(''));
  }
}
