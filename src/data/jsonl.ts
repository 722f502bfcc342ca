// JSONL reading with errors that name the file and the line: invalid JSON on line N, a line that
// is not an object, an empty file. Blank lines are skipped and counted. Also the plain text read
// (BOM dropped) the TSV reader shares.
import { PlastError } from '../errors';
import { readInput } from '../util/input';

export interface JsonlRow {
  line: number; // 1-based
  value: Record<string, unknown>;
}

export interface JsonlFile {
  file: string;
  rows: JsonlRow[];
  blankLines: number;
}

/**
 * A UTF-8 text data file without its byte-order mark (editors on Windows write one). Invalid
 * UTF-8 is an ERR_DATA naming the line: replacing it with U+FFFD would train and profile on
 * text that is not what the file says, for every command alike.
 */
export function readTextFile(file: string, bytes?: Buffer): string {
  const buf = bytes ?? readInput(file, 'data file');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const at = firstInvalidUtf8(buf);
    let line = 1;
    for (let i = 0; i < at; i++) if (buf[i] === 0x0a) line++;
    throw new PlastError('ERR_DATA', `${file}:${line}: invalid UTF-8 (byte ${at} of the file); re-encode the file as UTF-8`, { file, line });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
    }
    if (n === 2) {
      const cp = ((c & 0x0f) << 12) | ((b[i + 1]! & 0x3f) << 6);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return i; // overlong or a surrogate
    }
    if (n === 3) {
      const cp = ((c & 0x07) << 18) | ((b[i + 1]! & 0x3f) << 12);
      if (cp < 0x10000 || cp > 0x10ffff) return i;
    }
    i += n + 1;
  }
  return b.length;
}

export function readJsonl(file: string, bytes?: Buffer): JsonlFile {
  const text = readTextFile(file, bytes);
  const rows: JsonlRow[] = [];
  let blank = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') {
      if (i < lines.length - 1 || raw !== '') blank++;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new PlastError('ERR_DATA', `${file}:${line}: invalid JSON (${(err as Error).message})`, { file, line, cause: err });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new PlastError('ERR_DATA', `${file}:${line}: expected a JSON object but found ${Array.isArray(value) ? 'an array' : typeof value}`, { file, line });
    }
    rows.push({ line, value: value as Record<string, unknown> });
  });
  if (rows.length === 0) throw new PlastError('ERR_DATA', `${file}: the file is empty (no JSON rows)`, { file });
  return { file, rows, blankLines: blank };
}
