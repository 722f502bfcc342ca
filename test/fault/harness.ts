// The fault suite's harness: each case makes one malformed input, runs the library (or the CLI)
// on it and checks what a user gets: a PlastError with one of the engine's codes, naming the file
// and the field or line, with no stack trace in the message, within a time limit; and the outputs
// named by the case exactly as they were (no partial output, an existing output untouched).
import { ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PlastError } from '../../src/errors';
import { ROOT } from '../helpers';

export const CODES = new Set([
  'ERR_SHAPE', 'ERR_DTYPE', 'ERR_FORMAT', 'ERR_NO_DEVICE', 'ERR_OOM', 'ERR_UNSUPPORTED', 'ERR_INVALID', 'ERR_IO', 'ERR_DEVICE',
  'ERR_DATA', 'ERR_LANG', 'ERR_NUMERIC', 'ERR_MISMATCH', 'ERR_INTERRUPTED',
]);

export interface FaultCase {
  name: string;
  run: () => unknown;
  /** The expected code(s); any engine code when omitted. */
  code?: string | string[];
  /** The file the error must name (its basename, or a full path): in err.file or the message. */
  file: string;
  /** The field (err.field, or in the message) or the 1-based line (err.line) the error must name. */
  field?: string;
  line?: number;
  /** Paths that must be byte-for-byte the same after the case (or still absent). */
  untouched?: string[];
  /** Seconds the case may take (default 5). */
  limit?: number;
}

/** A digest of a file or directory tree (names, kinds and bytes), or 'absent'. */
export function snapshot(path: string): string {
  if (!existsSync(path)) return 'absent';
  const h = createHash('sha256');
  const walk = (p: string, rel: string): void => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      h.update(`d:${rel}\n`);
      for (const e of readdirSync(p).sort()) walk(join(p, e), `${rel}/${e}`);
    } else if (st.isFile()) {
      h.update(`f:${rel}:${st.size}\n`);
      h.update(readFileSync(p));
    } else h.update(`o:${rel}\n`);
  };
  walk(path, '.');
  return h.digest('hex');
}

/** Runs one case; returns what is wrong with the outcome ('' when it is right). */
export async function check(c: FaultCase): Promise<string> {
  const before = (c.untouched ?? []).map(snapshot);
  const t0 = Date.now();
  let err: unknown;
  try {
    await c.run();
  } catch (e) {
    err = e;
  }
  const secs = (Date.now() - t0) / 1000;
  const problems: string[] = [];
  if (err === undefined) return `${c.name}: no error was raised`;
  if (!(err instanceof PlastError)) {
    problems.push(`not a PlastError: ${(err as Error)?.constructor?.name} ${(err as Error)?.message ?? String(err)}`);
  } else {
    const codes = c.code === undefined ? [...CODES] : Array.isArray(c.code) ? c.code : [c.code];
    if (!codes.includes(err.code)) problems.push(`code ${err.code}, expected ${codes.join('|')}`);
    const f = c.file;
    const names = (s: string | undefined): boolean => s !== undefined && (s === f || s.endsWith('/' + basename(f)) || s.includes(f));
    if (!names(err.file) && !err.message.includes(f) && !err.message.includes(basename(f))) problems.push(`does not name ${f} (file ${err.file})`);
    if (c.field !== undefined && !(err.field?.includes(c.field) || err.message.includes(c.field))) problems.push(`does not name the field ${c.field} (field ${err.field})`);
    if (c.line !== undefined && err.line !== c.line) problems.push(`line ${err.line}, expected ${c.line}`);
    if (/\n\s+at /.test(err.message)) problems.push('a stack trace in the message');
  }
  if (secs > (c.limit ?? 5)) problems.push(`took ${secs.toFixed(1)} s`);
  (c.untouched ?? []).forEach((p, i) => {
    if (snapshot(p) !== before[i]) problems.push(`${p} changed`);
  });
  if (problems.length === 0) return '';
  return `${c.name}: ${problems.join('; ')}${err instanceof Error ? ` [${(err as PlastError).code}: ${err.message.slice(0, 200)}]` : ''}`;
}

/** Runs every case (in order) and throws one error listing all that went wrong. */
export async function checkAll(cases: FaultCase[]): Promise<void> {
  const bad: string[] = [];
  for (const c of cases) {
    const p = await check(c);
    if (p) bad.push(p);
  }
  if (bad.length > 0) throw new Error(`${bad.length} of ${cases.length} fault case(s) wrong:\n  ${bad.join('\n  ')}`);
}

/** A fresh temp directory; each suite removes its own (uvu runs every suite in one process). */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `plast-fault-${tag}-`));
}

export function cleanup(...dirs: string[]): () => void {
  return () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
}

/** The number of cases of a class, printed by each suite. */
export function report(cls: string, n: number): void {
  console.log(`  fault cases, ${cls}: ${n}`);
}

/** The compiled lock module, for writers in other processes. */
export const LOCK_MODULE = join(ROOT, 'dist', 'src', 'util', 'lock.js');

export interface Holder {
  pid: number;
  child: ChildProcess;
  /** kill -9, resolved once the process is gone. */
  kill(): Promise<void>;
}

/**
 * Another writer: a node process that takes the output lock on `target` as a CLI does
 * (lockOutput) and holds it until killed. Resolves once it holds the lock.
 */
export function holdLock(target: string, command = 'profile'): Promise<Holder> {
  const script = `require(${JSON.stringify(LOCK_MODULE)}).lockOutput(process.argv[1], process.argv[2]); process.stdout.write('held\\n'); setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['-e', script, target, command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const gone = new Promise<void>((res) => child.once('exit', () => res()));
  const kill = (): Promise<void> => {
    child.kill('SIGKILL');
    return gone;
  };
  return new Promise((res, rej) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.once('data', () => res({ pid: child.pid!, child, kill }));
    child.once('exit', (code) => rej(new Error(`the lock holder exited (${code}) before holding ${target}: ${err}`)));
  });
}
