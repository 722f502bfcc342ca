// Writes that never leave a half-written file behind: write to a temp file in the same directory,
// fsync, then rename over the target (atomic on POSIX file systems). A failure removes the temp
// file and is an ERR_IO naming the target (util/paths.ts).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PlastError } from '../errors';
import { io, ioError, makeDirs } from './paths';

let tempSeq = 0;

/** A temp name beside `path` (same directory, so the final rename stays on one file system). */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${++tempSeq}.tmp`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeChunksAtomic(path, [typeof data === 'string' ? Buffer.from(data, 'utf8') : data]);
}

/** Like writeFileAtomic for data given as a sequence of chunks (large files without one buffer). */
export function writeChunksAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new PlastError('ERR_IO', `${path}: cannot write the file (it is a directory)`, { file: path });
  makeDirs(dirname(path), 'create the directory', path);
  const tmp = tempSibling(path);
  const fd = io(path, 'write', () => openSync(tmp, 'w'));
  try {
    for (const buf of chunks) {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw ioError(err, path, 'write');
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw ioError(err, path, 'write');
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Builds a directory under a temp name and renames it into place when `fill` succeeds, so a
 * reader never sees a partial output directory. An existing target directory is replaced; a file
 * in its place is refused (never deleted).
 */
export async function writeDirAtomic(path: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  if (existsSync(path) && !statSync(path).isDirectory()) throw new PlastError('ERR_IO', `${path}: cannot write the directory (a file is in its place)`, { file: path });
  const tmp = tempSibling(path);
  makeDirs(dirname(path), 'create the directory', path);
  io(path, 'create the directory', () => mkdirSync(tmp));
  try {
    await fill(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = `${tmp}.old`;
  const moved = existsSync(path);
  try {
    if (moved) renameSync(path, old);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (moved && !existsSync(path)) renameSync(old, path);
    throw ioError(err, path, 'write the directory');
  }
  if (moved) rmSync(old, { recursive: true, force: true });
}
