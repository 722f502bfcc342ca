// Every file the engine reads as input goes through here: it must be a regular file. A FIFO would
// block the read forever, a directory gives a raw EISDIR, a device reads without end; each is an
// ERR_IO naming the path instead. The file is opened non-blocking first (opening a FIFO for
// reading blocks until a writer appears otherwise), then checked on the open descriptor, so what
// is checked is what is read.
import { closeSync, constants, fstatSync, openSync, readFileSync, Stats } from 'node:fs';
import { PlastError } from '../errors';
import { ioError } from './paths';

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Opens `path` for reading (a file descriptor) after checking that it is a regular file. */
export function openInput(path: string, what = 'file'): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw ioError(err, path, `read the ${what}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new PlastError('ERR_IO', `${path}: cannot read the ${what} (it is ${kind(st)}, not a regular file)`, { file: path });
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw ioError(err, path, `read the ${what}`);
  }
}

/** The bytes of a regular file (ERR_IO naming the path otherwise). */
export function readInput(path: string, what = 'file'): Buffer {
  const fd = openInput(path, what);
  try {
    return readFileSync(fd);
  } catch (err) {
    throw ioError(err, path, `read the ${what}`);
  } finally {
    closeSync(fd);
  }
}

/** The text of a regular file, decoded as UTF-8 with U+FFFD for invalid bytes. */
export function readInputText(path: string, what = 'file'): string {
  return readInput(path, what).toString('utf8');
}
