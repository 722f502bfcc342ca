// Turning an error into the message a user sees and the exit code.
import { PlastError } from '../errors';
import { ioError, isFsError } from '../util/paths';
import { UsageError } from './usage';

/** Prints an error the way users should see it and sets the exit code; never calls exit(). */
export function reportError(err: unknown): void {
  // A file-system error that no module turned into a PlastError still names its path.
  if (isFsError(err)) err = ioError(err, err.path ?? '(unknown path)', err.syscall ?? 'access');
  if (err instanceof PlastError) {
    process.stderr.write(`plast: error [${err.code}]: ${err.message}\n`);
    if (err instanceof UsageError) process.stderr.write(`${err.hint}\n`);
    if (process.env.PLAST_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    // 130: the shell's code for a job ended by Ctrl-C.
    process.exitCode = err.code === 'ERR_INVALID' ? 2 : err.code === 'ERR_INTERRUPTED' ? 130 : 1;
    return;
  }
  process.stderr.write(`plast: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}
