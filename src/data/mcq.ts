// Multiple-choice eval data in the MMBench / MMMB layout, as TSV (pandas to_csv with sep='\t':
// a header row; fields with tabs, quotes or newlines quoted with "...", quotes doubled) or JSONL.
// Columns: question, hint (optional), A, B, C, D (more letters allowed; empty = absent; JSONL may
// give `options` as a list or a letter->text object instead), answer (a letter), language/lang
// (or one language for the whole file via `lang`), image/image_path (base64 or a path: the row is
// kept and flagged `hasImage`; the logits protocol reports it as not scored; vlmeval answers it with a LLaVA tower),
// index, category. Bad rows are counted with their line; `strict` rejects the file instead.
import { PlastError } from '../errors';
import { readJsonl, readTextFile } from './jsonl';
import { findLanguage } from './languages';
import { BadReason, BadRow, RowSelection, badRow, rejectRow, selectRow } from './rows';

export interface McqOption {
  letter: string;
  text: string;
}

export interface McqItem {
  file: string;
  line: number;
  index?: string;
  lang: string;
  question: string;
  hint?: string;
  options: McqOption[];
  answer: string;
  hasImage: boolean;
  category?: string;
}

export interface McqData extends RowSelection {
  files: string[];
  items: McqItem[];
  bad: BadRow[];
}

export interface LoadMcqOptions {
  /** Language of rows without a language column. */
  lang?: string;
  langs?: string[];
  limit?: number;
  strict?: boolean;
}

const LETTERS = 'ABCDEFGH'.split('');

/** Parses TSV text into records of fields, each with the 1-based line it starts on. */
export function parseTsv(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field: string;
      if (text[i] === '"') {
        // quoted field
        let j = i + 1;
        let buf = '';
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) throw new PlastError('ERR_DATA', `line ${start}: unterminated quoted field`, { line: start });
          buf += text.slice(j, q);
          if (text[q + 1] === '"') {
            buf += '"';
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        for (const c of buf) if (c === '\n') line++;
        field = buf;
      } else {
        let j = i;
        while (j < n && text[j] !== '\t' && text[j] !== '\n' && text[j] !== '\r') j++;
        field = text.slice(i, j);
        i = j;
      }
      fields.push(field);
      if (i >= n) break;
      if (text[i] === '\t') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
        break;
      }
      if (i >= n) break;
      throw new PlastError('ERR_DATA', `line ${line}: unexpected character after a quoted field`, { line });
    }
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: start, fields });
  }
  return out;
}

function present(v: unknown): v is string | number {
  if (v === undefined || v === null) return false;
  const s = String(v).trim();
  return s !== '' && s.toLowerCase() !== 'nan';
}

/** The rows of an MCQ file (TSV: fields as written, untrimmed; JSONL: values), each with its line. */
export function readRows(file: string): { line: number; value: Record<string, unknown> }[] {
  if (/\.jsonl?$/i.test(file)) return readJsonl(file).rows;
  const text = readTextFile(file);
  let recs: { line: number; fields: string[] }[];
  try {
    recs = parseTsv(text);
  } catch (err) {
    const e = err as PlastError;
    throw new PlastError('ERR_DATA', `${file}:${e.line ?? '?'}: ${e.message.replace(/^line \d+: /, '')}`, { file, ...(e.line ? { line: e.line } : {}) });
  }
  if (recs.length < 2) throw new PlastError('ERR_DATA', `${file}: expected a header row and at least one data row`, { file });
  const header = recs[0]!.fields.map((h) => h.trim());
  return recs.slice(1).map((r) => {
    const value: Record<string, unknown> = {};
    header.forEach((h, k) => {
      if (r.fields[k] !== undefined) value[h] = r.fields[k];
    });
    return { line: r.line, value };
  });
}

/** Case-insensitive column lookup (letters are matched exactly, upper case). */
function col(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) {
    if (n in row) return row[n];
    const k = Object.keys(row).find((x) => x.toLowerCase() === n.toLowerCase());
    if (k !== undefined) return row[k];
  }
  return undefined;
}

export function loadMcq(files: string | string[], opts: LoadMcqOptions = {}): McqData {
  const list = Array.isArray(files) ? files : [files];
  const keep = opts.langs ? new Set(opts.langs) : undefined;
  const fileLang = opts.lang !== undefined ? findLanguage(opts.lang) : undefined;
  if (opts.lang !== undefined && !fileLang) throw new PlastError('ERR_LANG', `unknown language code "${opts.lang}" in --lang`, { field: 'lang' });
  const out: McqData = { files: list, items: [], bad: [], filtered: {}, overLimit: 0 };
  for (const file of list) {
    const reject = (line: number, reason: BadReason, msg: string, extra: { lang?: string; column?: string } = {}): void =>
      rejectRow(badRow(file, line, reason, msg, extra), opts.strict, out.bad);
    for (const { line, value } of readRows(file)) {
      const question = col(value, 'question');
      if (!present(question)) {
        reject(line, 'missing-field', 'missing question', { column: 'question' });
        continue;
      }
      const langRaw = col(value, 'language', 'lang');
      let lang: string;
      if (present(langRaw)) {
        const l = findLanguage(String(langRaw));
        if (!l) {
          reject(line, 'unknown-language', `unknown language code "${String(langRaw)}"`, { column: 'language' });
          continue;
        }
        lang = l.code;
      } else if (fileLang) {
        lang = fileLang.code;
      } else {
        reject(line, 'missing-field', 'no language column and no --lang for the file', { column: 'language' });
        continue;
      }
      const options: McqOption[] = [];
      const given = col(value, 'options');
      if (Array.isArray(given)) {
        given.forEach((t, k) => {
          if (present(t) && k < LETTERS.length) options.push({ letter: LETTERS[k]!, text: String(t).trim() });
        });
      } else if (given && typeof given === 'object') {
        for (const L of LETTERS) {
          const t = (given as Record<string, unknown>)[L];
          if (present(t)) options.push({ letter: L, text: String(t).trim() });
        }
      } else {
        for (const L of LETTERS) {
          const t = value[L];
          if (present(t)) options.push({ letter: L, text: String(t).trim() });
        }
      }
      if (options.length < 2) {
        reject(line, 'too-few-options', `${options.length} option(s); a multiple-choice row needs at least 2 of A, B, C, D`, { lang, column: 'A' });
        continue;
      }
      const ans = col(value, 'answer');
      if (!present(ans)) {
        reject(line, 'missing-field', 'missing answer', { lang, column: 'answer' });
        continue;
      }
      const answer = String(ans).trim().toUpperCase();
      if (!options.some((o) => o.letter === answer)) {
        reject(line, 'invalid-answer', `answer "${String(ans)}" is not one of the options ${options.map((o) => o.letter).join(', ')}`, { lang, column: 'answer' });
        continue;
      }
      if (!selectRow(out, lang, out.items.length, keep, opts.limit)) continue;
      const hint = col(value, 'hint');
      const index = col(value, 'index', 'id');
      const category = col(value, 'category');
      const image = col(value, 'image', 'image_path');
      out.items.push({
        file,
        line,
        lang,
        question: String(question).trim(),
        options,
        answer,
        hasImage: present(image),
        ...(present(hint) ? { hint: String(hint).trim() } : {}),
        ...(present(index) ? { index: String(index) } : {}),
        ...(present(category) ? { category: String(category) } : {}),
      });
    }
  }
  return out;
}
