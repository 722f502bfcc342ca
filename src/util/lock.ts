// One writer per output: a lock file beside the output (`.NAME.lock` in its parent directory, so
// it survives the output directory being replaced by an atomic rename), held with a kernel lock
// (flock). The kernel drops it when the holder's process ends, however it ends, so a killed
// writer's lock is free at once and no pid is ever guessed at (pids are reused). The file also
// holds the writer's record (pid, command, since), for the ERR_IO a second writer gets. Taking
// the lock also proves that the output's parent is writable, before any work starts.
//
// Within a process, flock alone cannot tell a nested call of the same job (the CLI holds --out,
// then train() locks it again) from a second job (two server requests). So locks belong to async
// contexts (AsyncLocalStorage): a withOutputLock on an output that its context holds, or that is
// under a directory it holds, just runs; one overlapping another context's output is refused.
// lockOutput's locks (the CLIs: one job per process) belong to every context.
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { PlastError } from '../errors';
import { tryLockFd } from '../native';
import { io, makeDirs } from './paths';

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

interface Held {
  target: string;
  file: string;
  fd: number;
  command: string;
}

/**
 * The output as the file system names it: symbolic links resolved in the longest part of the
 * path that exists, so that two spellings of one place share one lock file and one key.
 */
export function canonicalOutput(target: string): string {
  const p = resolve(target);
  const rest: string[] = [];
  for (let at = p; ; at = dirname(at)) {
    try {
      return join(realpathSync(at), ...rest);
    } catch {
      if (dirname(at) === at) return p;
      rest.unshift(basename(at));
    }
  }
}

export function lockPathFor(target: string): string {
  const p = canonicalOutput(target);
  return join(dirname(p), `.${basename(p)}.lock`);
}

/** Every lock this process holds; lockOutput's also in `everyContext`. */
const held = new Set<Held>();
const everyContext: Held[] = [];
const contextLocks = new AsyncLocalStorage<readonly Held[]>();
let exitHook = false;

/** `p` is `dir` or lies under it. */
const within = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** The locks the current context holds (those released since are dropped). */
function mine(): Held[] {
  return [...everyContext, ...(contextLocks.getStore() ?? [])].filter((h) => held.has(h));
}

/** A lock of this process, outside `own`, on an output overlapping `p`. */
function otherJob(p: string, own: Held[]): Held | undefined {
  return [...held].find((h) => !own.includes(h) && (within(p, h.target) || within(h.target, p)));
}

/**
 * Takes the lock on `target` (a file or directory that this process will write) until release()
 * or the process exits. For the CLIs, which run one job per process: the lock counts as held by
 * every async context. A library call or server job uses withOutputLock instead.
 */
export function lockOutput(target: string, command: string): OutputLock {
  const p = canonicalOutput(target);
  const other = otherJob(p, []);
  if (other) throw busyHere(p, other);
  const h = acquire(p, command);
  everyContext.push(h);
  return { target: p, file: h.file, release: () => release(h) };
}

/**
 * Runs `fn` holding the lock on `target`; the lock goes when it settles. Nested in a context that
 * already holds `target` (or a directory above it), `fn` just runs; while another context of this
 * process writes an overlapping output, it is an ERR_IO.
 */
export async function withOutputLock<T>(target: string, command: string, fn: () => Promise<T> | T): Promise<T> {
  const p = canonicalOutput(target);
  const own = mine();
  if (own.some((h) => within(p, h.target))) return fn();
  const other = otherJob(p, own);
  if (other) throw busyHere(p, other);
  const h = acquire(p, command);
  try {
    return await contextLocks.run([...(contextLocks.getStore() ?? []), h], fn);
  } finally {
    release(h);
  }
}

const LOCKING = 'lock the output (writing the lock file beside it)';

function acquire(p: string, command: string): Held {
  makeDirs(dirname(p), 'create the directory', p);
  const file = lockPathFor(p); // after makeDirs: p was canonical up to what existed then
  const rec: LockRecord = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 10; attempt++) {
    const fd = io(p, LOCKING, () => openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644));
    let ok = false;
    try {
      const got = tryLock(fd, p);
      if (got === false) throw busy(p, file, readRecord(fd));
      if (got === 'unsupported') noKernelLock(file, p);
      // A holder releasing between our open and our flock unlinked this file: our lock is on a
      // file no one else will open, so try again with the one now at the path.
      if (!io(p, LOCKING, () => samePath(fd, file))) continue;
      io(p, LOCKING, () => {
        ftruncateSync(fd, 0);
        writeSync(fd, JSON.stringify(rec) + '\n', 0);
      });
      ok = true;
    } finally {
      if (!ok) closeSync(fd);
    }
    const h: Held = { target: p, file, fd, command };
    held.add(h);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => [...held].forEach(release));
    }
    // Holding the lock, the temp files a killed writer of this output left are garbage.
    removeStaleTemps(dirname(p), `.${basename(p)}.`);
    if (isDir(p)) removeStaleTemps(p);
    return h;
  }
  throw busy(p, file, undefined);
}

/** Unlink, then close: one who opened the file before the unlink and locks it after the close
 * sees that it is no longer the file at the path (samePath) and tries again. */
function release(h: Held): void {
  if (!held.delete(h)) return;
  const i = everyContext.indexOf(h);
  if (i >= 0) everyContext.splice(i, 1);
  try {
    unlinkSync(h.file);
  } catch {
    // removed by hand: nothing to tidy
  }
  try {
    closeSync(h.fd);
  } catch {
    // already closed
  }
}

function tryLock(fd: number, p: string): boolean | 'unsupported' {
  try {
    return tryLockFd(fd);
  } catch (err) {
    // A file system without flock (some Lustre mounts, FUSE): refusing every output there would
    // stop all work, so the output is written without the kernel lock, with a warning.
    if (err instanceof PlastError && err.code === 'ERR_UNSUPPORTED') return 'unsupported';
    // The system's refusal (ENOLCK aside) names the output; an addon that does not load stays
    // ERR_NO_DEVICE.
    if (!(err instanceof PlastError) || err.code !== 'ERR_IO') throw err;
    throw new PlastError('ERR_IO', `${p}: cannot lock the output (${err.message})`, { file: p, cause: err });
  }
}

const warnedDirs = new Set<string>();

/** Once per directory: its outputs get no kernel lock (the in-process one still holds). */
function noKernelLock(file: string, p: string): void {
  if (warnedDirs.has(dirname(file))) return;
  warnedDirs.add(dirname(file));
  process.stderr.write(
    `plast: warning: ${dirname(file)}: the file system has no flock, so ${p} is written without the one-writer lock; do not start a second writer of it\n`,
  );
}

function samePath(fd: number, file: string): boolean {
  const a = fstatSync(fd, { bigint: true });
  const b = statSync(file, { bigint: true, throwIfNoEntry: false });
  return b !== undefined && a.ino === b.ino && a.dev === b.dev;
}

function readRecord(fd: number): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(fd, 'utf8')) as LockRecord;
    return Number.isInteger(r?.pid) && r.pid > 0 ? r : undefined;
  } catch {
    return undefined; // a holder between truncating and writing it
  }
}

function busy(p: string, file: string, other: LockRecord | undefined): PlastError {
  const where = other?.host !== undefined && other.host !== hostname() ? ` on ${other.host}` : '';
  const who = other ? `plast ${other.command ?? ''} (pid ${other.pid}${where}${other.since ? `, since ${other.since}` : ''})`.replace('  ', ' ') : 'another plast process';
  return new PlastError('ERR_IO', `${p}: another writer holds it: ${who}; wait for it to finish or stop it (the lock, ${file}, is released when its process exits)`, {
    file: p,
  });
}

function busyHere(p: string, h: Held): PlastError {
  const what = h.target === p ? 'it' : h.target;
  return new PlastError('ERR_IO', `${p}: another job of this process (pid ${process.pid}, plast ${h.command}) writes ${what}; wait for it to finish`, { file: p });
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

/** Temp names of util/atomic (`.NAME.PID.TIME.SEQ.tmp`, and `.old` beside a replaced directory). */
const TEMP = /^\..+\.(\d+)\.\d+\.\d+\.tmp(\.old)?$/;

/**
 * Removes the temp files and directories a killed writer left in `dir` (not recursive): those
 * whose pid is not running. Call it holding the lock of the output they belong to. (A pid, unlike
 * the lock, is the right test here: a live process may be writing a sibling output.)
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
