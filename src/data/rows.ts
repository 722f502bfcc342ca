// Row accounting shared by the data readers (pairs, MCQ) and the steps that drop rows later (over-
// long sequences): every row that cannot be used is a BadRow with its file, line and reason, or,
// under --strict, the ERR_DATA that names it; and the --langs / --limit selection, which counts
// what it leaves out. Nothing is dropped silently.
import { PlastError } from '../errors';

export type BadReason =
  | 'missing-field'
  | 'not-text'
  | 'empty-text'
  | 'empty-source'
  | 'empty-target'
  | 'unknown-language'
  | 'english-source'
  | 'too-long'
  | 'invalid-answer'
  | 'too-few-options'
  | 'bad-image';

export interface BadRow {
  file: string;
  line: number;
  reason: BadReason;
  message: string;
  lang?: string;
  column?: string;
}

export function badRow(file: string, line: number, reason: BadReason, message: string, extra: { lang?: string; column?: string } = {}): BadRow {
  return { file, line, reason, message: `${file}:${line}: ${message}`, ...extra };
}

/** Counts `b` in `into`, or with `strict` rejects the whole file with an ERR_DATA naming the line. */
export function rejectRow(b: BadRow, strict: boolean | undefined, into: BadRow[]): void {
  if (strict) throw new PlastError('ERR_DATA', `${b.message} (--strict rejects the file)`, { file: b.file, line: b.line, ...(b.column ? { field: b.column } : {}) });
  into.push(b);
}

/** Counts of bad rows per reason, for logs and summaries. */
export function badCounts(bad: BadRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of bad) out[b.reason] = (out[b.reason] ?? 0) + 1;
  return out;
}

/** Items per language. */
export function langCounts(items: { lang: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[x.lang] = (out[x.lang] ?? 0) + 1;
  return out;
}

/** What the --langs / --limit selection left out. */
export interface RowSelection {
  /** Rows left out because their language is not in --langs, per language code. */
  filtered: Record<string, number>;
  /** Rows after the first --limit that were not used. */
  overLimit: number;
}

/**
 * Whether a good row of language `lang` is used, given `kept` rows taken so far: --langs first,
 * then --limit (in file order); a row left out is counted in `sel`.
 */
export function selectRow(sel: RowSelection, lang: string, kept: number, langs: Set<string> | undefined, limit: number | undefined): boolean {
  if (langs && !langs.has(lang)) {
    sel.filtered[lang] = (sel.filtered[lang] ?? 0) + 1;
    return false;
  }
  if (limit !== undefined && kept >= limit) {
    sel.overLimit++;
    return false;
  }
  return true;
}
