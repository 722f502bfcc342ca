// One writer per output: a lock file beside the output (`.NAME.lock` in its parent directory, so
// it survives the output directory being replaced by an atomic rename), created with O_EXCL and
// holding the writer's pid. A second writer gets an ERR_IO naming the holder's pid; a lock whose
// pid is no longer running (a killed run) is taken over. Taking the lock also proves that the
// output's parent is writable, before any work starts.
import { closeSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { PlastError } from '../errors';
import { io, ioError, makeDirs } from './paths';

export interface OutputLock {
  /** The output path locked. */
  readonly target: string;
  /** The lock file. */
  readonly file: string;
  release(): void;
}

interface LockRecord {
  pid: number;
  host?: string;
  since?: string;
  command?: string;
}

export function lockPathFor(target: string): string {
  const p = resolve(target);
  return join(dirname(p), `.${basename(p)}.lock`);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readRecord(file: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    return Number.isInteger(r?.pid) && r.pid > 0 ? r : undefined;
  } catch {
    return undefined;
  }
}

const held = new Map<string, OutputLock>();
let exitHook = false;

/**
 * Takes the lock on `target` (a file or directory that this process will write). `command`
 * names the writer in the lock, for the message another writer gets.
 */
export function lockOutput(target: string, command: string): OutputLock {
  const p = resolve(target);
  const file = lockPathFor(p);
  if (held.has(file)) throw new PlastError('ERR_IO', `${p}: this process already writes it`, { file: p });
  makeDirs(dirname(p), 'create the directory', p);
  const rec: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err, p, 'lock the output (writing the lock file beside it)');
      const other = readRecord(file);
      if (other === undefined) {
        // Unreadable: a writer between creating and filling it, or a crash in that instant.
        const age = Date.now() - io(file, 'read the lock', () => statSync(file)).mtimeMs;
        if (age < 10_000) throw busy(p, file, undefined);
      } else if (other.pid !== process.pid && alive(other.pid) && (other.host === undefined || other.host === hostname())) {
        throw busy(p, file, other);
      }
      // Stale (its process is gone): take it over.
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(rec) + '\n');
    } catch (err) {
      closeSync(fd);
      rmSync(file, { force: true });
      throw ioError(err, p, 'lock the output (writing the lock file beside it)');
    }
    closeSync(fd);
    const lock: OutputLock = {
      target: p,
      file,
      release: () => {
        if (!held.delete(file)) return;
        if (readRecord(file)?.pid === process.pid) {
          try {
            unlinkSync(file);
          } catch {
            // already gone
          }
        }
      },
    };
    held.set(file, lock);
    // Holding the lock, the temp files a killed writer of this output left are garbage.
    removeStaleTemps(dirname(p), `.${basename(p)}.`);
    if (isDir(p)) removeStaleTemps(p);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const l of [...held.values()]) l.release();
      });
    }
    return lock;
  }
  throw busy(p, file, readRecord(file));
}

function busy(p: string, file: string, other: LockRecord | undefined): PlastError {
  const who = other ? `plast ${other.command ?? ''} (pid ${other.pid}${other.since ? `, since ${other.since}` : ''})`.replace('  ', ' ') : 'another plast process';
  return new PlastError('ERR_IO', `${p}: another writer holds it: ${who}; wait for it to finish or stop it (the lock, ${file}, is taken over once its process has exited)`, {
    file: p,
  });
}

/** Runs `fn` holding the lock on `target`; the lock goes when it settles. */
export async function withOutputLock<T>(target: string, command: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = lockOutput(target, command);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Temp names of util/atomic (`.NAME.PID.TIME.SEQ.tmp`, and `.old` beside a replaced directory). */
const TEMP = /^\..+\.(\d+)\.\d+\.\d+\.tmp(\.old)?$/;

/**
 * Removes the temp files and directories a killed writer left in `dir` (not recursive): those
 * whose pid is not running. Call it holding the lock of the output they belong to.
 */
export function removeStaleTemps(dir: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP.exec(n);
    if (!m || !n.startsWith(prefix)) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, n), { recursive: true, force: true });
    removed.push(join(dir, n));
  }
  return removed;
}
