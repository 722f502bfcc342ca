// JSONL reading with errors that name the file and the line: invalid JSON on line N, a line that
// is not an object, an empty file. Blank lines are skipped and counted. Also the plain text read
// (BOM dropped) the TSV reader shares.
import { readFileSync } from 'node:fs';
import { PlastError } from '../errors';

export interface JsonlRow {
  line: number; // 1-based
  value: Record<string, unknown>;
}

export interface JsonlFile {
  file: string;
  rows: JsonlRow[];
  blankLines: number;
}

/** A UTF-8 text data file without its byte-order mark (editors on Windows write one). */
export function readTextFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlastError('ERR_IO', `${file}: cannot read (${(err as Error).message})`, { file, cause: err });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function readJsonl(file: string): JsonlFile {
  const text = readTextFile(file);
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
