// Shared CLI plumbing: option parsing helpers and turning errors into messages and exit codes.
import { InvalidArgumentError } from 'commander';
import { PlastError } from '../errors';

export function intOption(name: string, min = 1): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`Expected an integer >= ${min} for ${name} but received "${v}"`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a number in [${min}, ${max}] for ${name} but received "${v}"`);
    }
    return n;
  };
}

/** Prints an error the way users should see it and sets the exit code; never calls exit(). */
export function reportError(err: unknown): void {
  if (err instanceof PlastError) {
    process.stderr.write(`plast: error [${err.code}]: ${err.message}\n`);
    if (process.env.PLAST_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    // 130: the shell's code for a job ended by Ctrl-C.
    process.exitCode = err.code === 'ERR_INVALID' ? 2 : err.code === 'ERR_INTERRUPTED' ? 130 : 1;
    return;
  }
  process.stderr.write(`plast: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}
