// Parallel questions: the same question in several languages, read from JSONL in one of two
// layouts, checked whole before anything runs (every error names the file and the line):
//
//   wide  one object per question with a column per language, keyed by ISO 639-1 code or an alias
//         from src/data/languages.ts (NTREX-style "eng", "arb", "zho-CN"):
//           {"id": "q1", "en": "How ...?", "ar": "...", "zh": "..."}
//         Keys that are not languages (e.g. "source") are ignored; "id" is optional (default:
//         "line-N"). Two columns for the same language ("en" and "eng") are an error.
//   long  one row per question and language, grouped by id (order: first appearance of the id):
//           {"id": "q1", "lang": "en", "text": "How ...?"}
//         Rows of languages not asked for are skipped, but their codes must still be known.
//
// The layout is taken from the first row: long when it has both a "lang" and a "text" key (whatever
// their values, so a bad value there is reported as such rather than as missing columns).
// Every question must have a non-empty string for every language asked for. Blank lines are
// skipped and counted. `limit` keeps the first N questions (in file order) after the whole file
// has been checked.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { PlastError } from '../errors';
import { Language, findLanguage, language } from './languages';
import { readJsonl } from './jsonl';
import { checkCell } from './validate';
import { readInput } from '../util/input';

/** What the items of a parallel file are, as messages and reports name them: questions when the
 * file's name says so (the paper profiles questions, and `plast run` prefers such a file), else
 * sentences (NTREX-128 and most parallel corpora). */
export function parallelItems(file: string): 'questions' | 'sentences' {
  return /question/i.test(basename(file)) ? 'questions' : 'sentences';
}

export interface ParallelQuestion {
  /** The row's "id" (as a string), or "line-N" in the wide layout when there is none. */
  id: string;
  /** 0-based position among the questions of the file. */
  index: number;
  /** 1-based line of the question (wide) or of its first row (long). */
  line: number;
  /** Text per canonical language code, for exactly the languages asked for. */
  texts: Record<string, string>;
  /** The row's "image": a path relative to the data file, or base64 (LLaVA profiling). */
  image?: string;
}

export interface ParallelData {
  file: string;
  /** sha256 of the file's bytes (hex). */
  sha256: string;
  layout: 'wide' | 'long';
  /** Canonical codes asked for, in the order given. */
  langs: string[];
  /** For the wide layout, the column used for each language (e.g. {"ar": "arb"}). */
  columns: Record<string, string>;
  /** Questions in the file (before `limit`). */
  questionsInFile: number;
  /** Questions kept (the first `limit`, or all). */
  questions: ParallelQuestion[];
  /** JSON rows read. */
  rows: number;
  /** Blank lines skipped. */
  blankLines: number;
}

export interface ParallelOptions {
  /** Keep only the first N questions. */
  limit?: number;
}

export function loadParallel(file: string, langs: string[], opts: ParallelOptions = {}): ParallelData {
  if (langs.length === 0) throw new PlastError('ERR_LANG', 'Expected at least one language', { field: 'langs' });
  const codes = langs.map((l) => language(l, '--langs').code);
  const dup = codes.find((c, i) => codes.indexOf(c) !== i);
  if (dup) throw new PlastError('ERR_LANG', `language "${dup}" is asked for twice`, { field: 'langs' });
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit <= 0)) {
    throw new PlastError('ERR_INVALID', `Expected a positive integer for limit but received ${JSON.stringify(opts.limit)}`, { field: 'limit' });
  }
  const bytes = readInput(file, 'data file');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const jl = readJsonl(file, bytes);
  const first = jl.rows[0]!.value;
  const layout: 'wide' | 'long' = isLongRow(first) ? 'long' : 'wide';
  const columns: Record<string, string> = {};
  const questions = layout === 'wide' ? readWide(file, jl.rows, codes, columns) : readLong(file, jl.rows, codes);
  const kept = opts.limit !== undefined ? questions.slice(0, opts.limit) : questions;
  return {
    file,
    sha256,
    layout,
    langs: codes,
    columns,
    questionsInFile: questions.length,
    questions: kept,
    rows: jl.rows.length,
    blankLines: jl.blankLines,
  };
}

type Row = { line: number; value: Record<string, unknown> };

const isLongRow = (v: Record<string, unknown>): boolean => 'lang' in v && 'text' in v;

function rowId(file: string, row: Row, required: boolean): string | undefined {
  const v = row.value['id'];
  if (v === undefined || v === null) {
    if (required) throw new PlastError('ERR_DATA', `${file}:${row.line}: the row has no "id" (the long layout groups rows by id)`, { file, line: row.line, field: 'id' });
    return undefined;
  }
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new PlastError('ERR_DATA', `${file}:${row.line}: expected "id" to be a non-empty string or a number but found ${JSON.stringify(v)}`, {
    file,
    line: row.line,
    field: 'id',
  });
}

function text(file: string, line: number, key: string, v: unknown): string {
  const c = checkCell(key, v, 'text'); // the verdict every command gives this cell (data/validate.ts)
  if (!c.ok) throw new PlastError('ERR_DATA', `${file}:${line}: ${c.message}`, { file, line, field: key });
  return c.text;
}

/** A row's "image" (a path or base64; the loader tells which), or undefined when it has none. */
function imageOf(file: string, row: Row): string | undefined {
  const v = row.value['image'];
  if (v === undefined || v === null) return undefined;
  return text(file, row.line, 'image', v);
}

function readWide(file: string, rows: Row[], codes: string[], columns: Record<string, string>): ParallelQuestion[] {
  const out: ParallelQuestion[] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    if (isLongRow(row.value)) {
      throw new PlastError('ERR_DATA', `${file}:${row.line}: a long-layout row ("lang", "text") in a file whose first row has a column per language`, {
        file,
        line: row.line,
      });
    }
    // Which key holds which language in this row.
    const keyOf = new Map<string, string>();
    for (const key of Object.keys(row.value)) {
      if (key === 'id') continue;
      const l = findLanguage(key);
      if (!l) continue;
      const prev = keyOf.get(l.code);
      if (prev !== undefined) {
        throw new PlastError('ERR_DATA', `${file}:${row.line}: columns "${prev}" and "${key}" both hold ${l.name}`, { file, line: row.line, field: key });
      }
      keyOf.set(l.code, key);
    }
    const texts: Record<string, string> = {};
    for (const code of codes) {
      const key = keyOf.get(code);
      if (key === undefined) {
        const l = language(code);
        throw new PlastError(
          'ERR_DATA',
          `${file}:${row.line}: no column for ${l.name} (${[l.code, ...l.aliases].map((a) => `"${a}"`).join(', ')})`,
          { file, line: row.line, field: code },
        );
      }
      texts[code] = text(file, row.line, key, row.value[key]);
      columns[code] ??= key;
    }
    const id = rowId(file, row, false) ?? `line-${row.line}`;
    const prevLine = seen.get(id);
    if (prevLine !== undefined) {
      throw new PlastError('ERR_DATA', `${file}:${row.line}: id "${id}" was already used on line ${prevLine}`, { file, line: row.line, field: 'id' });
    }
    seen.set(id, row.line);
    const image = imageOf(file, row);
    out.push({ id, index: out.length, line: row.line, texts, ...(image !== undefined ? { image } : {}) });
  }
  return out;
}

function readLong(file: string, rows: Row[], codes: string[]): ParallelQuestion[] {
  const byId = new Map<string, { q: ParallelQuestion; lines: Record<string, number> }>();
  for (const row of rows) {
    const v = row.value;
    if (typeof v['lang'] !== 'string') {
      throw new PlastError('ERR_DATA', `${file}:${row.line}: expected a string "lang" (the first row has the long layout: {"id", "lang", "text"})`, {
        file,
        line: row.line,
        field: 'lang',
      });
    }
    let l: Language;
    try {
      l = language(v['lang']);
    } catch (err) {
      // Name the file and line like every other data error (language() knows neither).
      throw new PlastError('ERR_LANG', `${file}:${row.line}: ${(err as Error).message}`, { file, line: row.line, field: 'lang', cause: err });
    }
    const id = rowId(file, row, true)!;
    let entry = byId.get(id);
    if (!entry) {
      entry = { q: { id, index: byId.size, line: row.line, texts: {} }, lines: {} };
      byId.set(id, entry);
    }
    const prev = entry.lines[l.code];
    if (prev !== undefined) {
      throw new PlastError('ERR_DATA', `${file}:${row.line}: question "${id}" already has a ${l.name} row on line ${prev}`, { file, line: row.line, field: 'lang' });
    }
    entry.lines[l.code] = row.line;
    const image = imageOf(file, row);
    if (image !== undefined) {
      if (entry.q.image !== undefined && entry.q.image !== image) {
        throw new PlastError('ERR_DATA', `${file}:${row.line}: question "${id}" has a different "image" than on line ${entry.q.line}`, { file, line: row.line, field: 'image' });
      }
      entry.q.image = image;
    }
    const t = text(file, row.line, 'text', v['text']);
    if (codes.includes(l.code)) entry.q.texts[l.code] = t;
  }
  const out: ParallelQuestion[] = [];
  for (const { q } of byId.values()) {
    for (const code of codes) {
      if (q.texts[code] === undefined) {
        throw new PlastError('ERR_DATA', `${file}:${q.line}: question "${q.id}" (first row on line ${q.line}) has no ${language(code).name} row`, {
          file,
          line: q.line,
          field: code,
        });
      }
    }
    // Texts in the order asked for.
    q.texts = Object.fromEntries(codes.map((c) => [c, q.texts[c]!]));
    out.push(q);
  }
  return out;
}
