// File-system errors as PlastErrors (ERR_IO) that name the path and say in words what went wrong,
// so that no user sees a raw ENOTDIR or EISDIR stack; and the checks of an output path that run
// before the work that fills it starts (minutes of evaluation lost to a typo in --out otherwise).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PlastError } from '../errors';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
  EXDEV: 'on another file system',
};

/** A Node.js file-system error (it has an errno code and the system call that failed). */
export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException | undefined;
  return typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === 'string';
}

/** An ERR_IO naming `path`: `${path}: cannot ${action} (${reason})`. Other errors pass through. */
export function ioError(err: unknown, path: string, action: string): PlastError {
  if (err instanceof PlastError) return err;
  const e = err as NodeJS.ErrnoException;
  const reason =
    e?.code === 'EEXIST' && e.syscall === 'mkdir' ? 'a file is in its place' : ((e?.code !== undefined ? REASONS[e.code] : undefined) ?? e?.message ?? String(err));
  return new PlastError('ERR_IO', `${path}: cannot ${action} (${reason})`, { file: path, cause: err });
}

/** Runs a file-system call, turning its error into ioError(path, action). */
export function io<T>(path: string, action: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw ioError(err, path, action);
  }
}

/** An output directory given as `flag`: absent (it is created later) or a directory. */
export function checkOutputDir(path: string, flag: string): string {
  const p = resolve(path);
  if (existsSync(p) && !statSync(p).isDirectory()) {
    throw new PlastError('ERR_IO', `${p}: ${flag} must be a directory, but it is a file`, { file: p, field: flag });
  }
  return p;
}

/** An output file given as `flag`: absent or a file (never a directory). */
export function checkOutputFile(path: string, flag: string): string {
  const p = resolve(path);
  if (existsSync(p) && statSync(p).isDirectory()) {
    throw new PlastError('ERR_IO', `${p}: ${flag} must be a file, but it is a directory`, { file: p, field: flag });
  }
  return p;
}

/**
 * mkdir -p without `recursive: true`: each missing component is created in turn, and the first
 * failure is an ERR_IO naming the directory. (Node's recursive mkdir never returns where mkdir
 * keeps answering ENOENT, e.g. under /proc; it also reports the failure less precisely.)
 */
export function makeDirs(path: string, action = 'create the directory', target?: string): void {
  const p = resolve(path);
  const missing: string[] = [];
  let cur = p;
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch {
      st = undefined;
    }
    if (st) {
      if (!st.isDirectory()) {
        throw new PlastError('ERR_IO', `${cur}: cannot ${action} (a file is in its place)${target !== undefined ? `; needed for ${target}` : ''}`, { file: target ?? p });
      }
      break;
    }
    missing.push(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(d).isDirectory()) continue; // made meanwhile
      throw ioError(err, target ?? p, target !== undefined ? `${action} ${d}` : action);
    }
  }
}
