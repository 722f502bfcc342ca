// Ctrl-C for long jobs: the first SIGINT asks the job to stop at its next safe point (a training
// step: a checkpoint is written, and the same command continues); a second one ends the process
// at once, which loses nothing written before (outputs are written atomically).
import { stopProgress } from './progress';

export interface Interrupt {
  signal: AbortSignal;
  /** Removes the handler; SIGINT ends the process again. */
  dispose: () => void;
}

const MESSAGE = 'interrupted: stopping at the next safe point (Ctrl-C again to quit now)';

/** The message on stderr: a progress bar on the terminal is stopped first (its redraws would
 * overwrite it); without one, a new line first moves past the terminal's "^C". */
function sayInterrupted(msg: string): void {
  process.stderr.write(stopProgress() > 0 ? `${msg}\n` : `\n${msg}\n`);
}

export function onInterrupt(say: (msg: string) => void = sayInterrupted): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    process.removeListener('SIGINT', handler);
    say(MESSAGE);
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', handler) };
}
