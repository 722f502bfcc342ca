// One heavy job per device: jobs on the same backend run one after another, in arrival order;
// each waiting job is told its position whenever it changes. A job cancelled while it waits
// leaves the queue at once (ERR_INTERRUPTED) without having started.
import { PlastError } from '../errors';

interface Waiter {
  start: () => void;
  onPosition: (position: number) => void;
}

export class DeviceQueues {
  private readonly running = new Set<string>();
  private readonly waiting = new Map<string, Waiter[]>();

  /** Runs `job` when `device` is free; `onPosition(n)` while n jobs are ahead-or-running. */
  async run<T>(device: string, signal: AbortSignal, onPosition: (position: number) => void, job: () => Promise<T>): Promise<T> {
    if (this.running.has(device)) await this.wait(device, signal, onPosition);
    else this.running.add(device);
    try {
      return await job();
    } finally {
      this.release(device);
    }
  }

  private wait(device: string, signal: AbortSignal, onPosition: (position: number) => void): Promise<void> {
    if (signal.aborted) return Promise.reject(cancelledWhileQueued());
    const list = this.waiting.get(device) ?? [];
    this.waiting.set(device, list);
    return new Promise<void>((res, rej) => {
      const w: Waiter = {
        start: () => {
          signal.removeEventListener('abort', abort);
          res();
        },
        onPosition,
      };
      const abort = (): void => {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        this.tell(device);
        rej(cancelledWhileQueued());
      };
      signal.addEventListener('abort', abort, { once: true });
      list.push(w);
      onPosition(list.length);
    });
  }

  private release(device: string): void {
    const next = this.waiting.get(device)?.shift();
    if (!next) {
      this.running.delete(device);
      return;
    }
    next.start(); // the device stays marked running: handed over
    this.tell(device);
  }

  private tell(device: string): void {
    this.waiting.get(device)?.forEach((w, i) => w.onPosition(i + 1));
  }
}

function cancelledWhileQueued(): PlastError {
  return new PlastError('ERR_INTERRUPTED', 'cancelled while waiting in the device queue');
}
