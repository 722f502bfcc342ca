// Ctrl-C for long jobs: the first SIGINT asks the job to stop at its next safe point (a training
// step: a checkpoint is written, and the same command continues); a second one ends the process
// at once, which loses nothing written before (outputs are written atomically).
export interface Interrupt {
  signal: AbortSignal;
  /** Removes the handler; SIGINT ends the process again. */
  dispose: () => void;
}

export function onInterrupt(say: (msg: string) => void = (m) => process.stderr.write(m + '\n')): Interrupt {
  const controller = new AbortController();
  const handler = (): void => {
    process.removeListener('SIGINT', handler);
    say('\ninterrupted: stopping at the next safe point (Ctrl-C again to quit now)');
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', handler) };
}
