// VLMEvalKit-format MCQ files (MMBench / MMMB TSV: index, question, hint, A, B, C, D..., answer,
// category, l2-category, split, image as base64 or image_path) read as VLMEvalKit reads them:
// pandas read_csv (fields as written, untrimmed; pandas' NA strings are missing values), every
// upper-case letter column an option, other column names case-insensitive
// (vlmeval/dataset/image_mcq.py, ImageMCQDataset.evaluate), and the image resolution of
// vlmeval/dataset/image_base.py (ImageBaseDataset.__init__): an `image` of 64 characters or fewer
// is the index of another row whose image it shares; a "['a', 'b']" value is a list of images.
// Circular evaluation (MMBench): rows with index >= 1e6 are rotations of question index % 1e6.
//
// Two choices differ from VLMEvalKit on purpose: rows without an image are kept (VLMEvalKit's
// skip_noimg drops them; here they are text rows), and a bad row is counted with its file and line
// (or, with strict, rejects the file) where VLMEvalKit asserts.
import { basename, dirname, resolve } from 'node:path';
import { PlastError } from '../../errors';
import { readRows } from '../../data/mcq';
import { findLanguage } from '../../data/languages';
import { BadReason, BadRow, RowSelection } from '../../data/rows';

/** Where a row's image comes from: base64 in the file, or a path (relative to the TSV). */
export type ImageSource = { kind: 'base64'; data: string } | { kind: 'path'; path: string; resolved: string };

/** A row's image(s), what a vision model receives; `index` names the row that holds the data. */
export interface ImageRef {
  file: string;
  index: string;
  sources: ImageSource[];
}

export interface VlmOption {
  letter: string;
  text: string;
}

export interface VlmItem {
  file: string;
  line: number;
  /** The index as written (an integer for MMBench). */
  index: string;
  /** Circular question this row belongs to: index % 1e6 (the row's own index when not circular). */
  group: string;
  /** A rotation row of a circular question (index >= 1e6). */
  rotation: boolean;
  lang: string;
  question: string;
  hint?: string;
  options: VlmOption[];
  answer: string;
  category?: string;
  l2category?: string;
  split?: string;
  image?: ImageRef;
}

export type VlmBadReason = BadReason | 'bad-index' | 'bad-image';
export interface VlmBadRow extends Omit<BadRow, 'reason'> {
  reason: VlmBadReason;
}

export interface VlmDataset {
  file: string;
  /** MMBench-style circular evaluation, and why (VLMEvalKit: the dataset name has mmbench/ccbench). */
  circular: boolean;
  circularWhy: string;
}

export interface VlmData extends RowSelection {
  datasets: VlmDataset[];
  items: VlmItem[];
  bad: VlmBadRow[];
  /** Rotation rows whose question (index % 1e6) is not in the file: VLMEvalKit ignores them. */
  orphanRotations: number;
}

export interface LoadVlmOptions {
  /** Language of rows without a language column (else from the file name: mmbench_dev_ar.tsv). */
  lang?: string;
  langs?: string[];
  /** Questions to keep (a circular question counts once, with its rotations). */
  limit?: number;
  strict?: boolean;
  /** Circular evaluation: by file name as VLMEvalKit decides (default), or forced. */
  circular?: boolean;
}

// pandas.read_csv's default NA strings (pandas/_libs/parsers.pyx STR_NA_VALUES): such a field is
// NaN, so VLMEvalKit leaves such an option, hint or image out.
const PANDAS_NA = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);

/** The field as pandas would give it: undefined for a missing value. */
function field(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : String(v);
  const s = String(v);
  return PANDAS_NA.has(s) ? undefined : s;
}

/** Non-letter columns are matched case-insensitively (VLMEvalKit lower-cases them). */
function column(row: Record<string, unknown>, name: string): unknown {
  for (const k of Object.keys(row)) if (k.length > 1 || !/[A-Z]/.test(k)) if (k.toLowerCase() === name) return row[k];
  return undefined;
}

/** VLMEvalKit's toliststr: "['a', 'b']" -> ['a', 'b'] (a Python list literal of strings), else [s]. */
export function toListStr(s: string): string[] {
  if (!(s.startsWith('[') && s.endsWith(']'))) return [s];
  const out: string[] = [];
  const re = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
  const body = s.slice(1, -1);
  re.lastIndex = 0;
  while (re.lastIndex < body.length) {
    const m = re.exec(body);
    if (!m) return [s]; // not a list of string literals: one value, as written
    out.push((m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
    if (m[3] === '') break;
  }
  return out;
}

/** The language a VLMEvalKit file name carries: MMBench_dev_ar.tsv, mmmb_cn.tsv (cn = Chinese). */
export function languageFromFileName(file: string): string | undefined {
  const m = /_([a-z]{2})\.(tsv|jsonl?)$/i.exec(basename(file));
  if (!m) return undefined;
  const code = m[1]!.toLowerCase() === 'cn' ? 'zh' : m[1]!;
  return findLanguage(code)?.code;
}

/** VLMEvalKit's rule (image_mcq.py, evaluate): circular iff the dataset name contains mmbench or ccbench. */
export function circularByName(file: string): boolean {
  const n = basename(file).toLowerCase();
  return n.includes('mmbench') || n.includes('ccbench');
}

const CIRCULAR_STEP = 1e6;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');

export function loadVlmeval(files: string | string[], opts: LoadVlmOptions = {}): VlmData {
  const list = Array.isArray(files) ? files : [files];
  const keep = opts.langs ? new Set(opts.langs) : undefined;
  const given = opts.lang !== undefined ? findLanguage(opts.lang) : undefined;
  if (opts.lang !== undefined && !given) throw new PlastError('ERR_LANG', `unknown language code "${opts.lang}" in --lang`, { field: 'lang' });
  const out: VlmData = { datasets: [], items: [], bad: [], filtered: {}, overLimit: 0, orphanRotations: 0 };
  let questions = 0;
  for (const file of list) {
    const circular = opts.circular ?? circularByName(file);
    out.datasets.push({ file, circular, circularWhy: opts.circular !== undefined ? 'as asked' : circular ? 'the file name has mmbench/ccbench, as VLMEvalKit decides' : 'the file name has no mmbench/ccbench' });
    const fileLang = given?.code ?? languageFromFileName(file);
    const reject = (line: number, reason: VlmBadReason, msg: string, extra: { lang?: string; column?: string } = {}): void => {
      const b: VlmBadRow = { file, line, reason, message: `${file}:${line}: ${msg}`, ...extra };
      if (opts.strict) throw new PlastError('ERR_DATA', `${b.message} (--strict rejects the file)`, { file, line, ...(extra.column ? { field: extra.column } : {}) });
      out.bad.push(b);
    };
    const rows = readRows(file);
    // The image map of image_base.py over every row of the file (a reference may point at a row
    // that is itself filtered out or bad in other ways).
    const imageOf = new Map<string, string>();
    for (const { value } of rows) {
      const idx = field(column(value, 'index'));
      const img = field(column(value, 'image'));
      if (idx !== undefined && img !== undefined && !imageOf.has(idx.trim())) imageOf.set(idx.trim(), img);
    }
    const seen = new Set<string>();
    const fileItems: VlmItem[] = [];
    for (const { line, value } of rows) {
      const index = field(column(value, 'index'))?.trim();
      if (index === undefined) {
        reject(line, 'missing-field', 'missing index', { column: 'index' });
        continue;
      }
      if (seen.has(index)) {
        reject(line, 'bad-index', `index ${index} appears twice in the file`, { column: 'index' });
        continue;
      }
      seen.add(index);
      let group = index;
      let rotation = false;
      if (circular) {
        if (!/^\d+$/.test(index)) {
          reject(line, 'bad-index', `index "${index}" is not a non-negative integer, which circular (MMBench) evaluation needs`, { column: 'index' });
          continue;
        }
        const n = Number(index);
        group = String(n % CIRCULAR_STEP);
        rotation = n >= CIRCULAR_STEP;
      }
      const question = field(column(value, 'question'));
      if (question === undefined) {
        reject(line, 'missing-field', 'missing question', { column: 'question' });
        continue;
      }
      const langRaw = field(column(value, 'language') ?? column(value, 'lang'));
      let lang: string;
      if (langRaw !== undefined) {
        const l = findLanguage(langRaw);
        if (!l) {
          reject(line, 'unknown-language', `unknown language code "${langRaw}"`, { column: 'language' });
          continue;
        }
        lang = l.code;
      } else if (fileLang) {
        lang = fileLang;
      } else {
        reject(line, 'missing-field', 'no language column, no --lang and no language in the file name (as in mmbench_dev_ar.tsv)', { column: 'language' });
        continue;
      }
      const options: VlmOption[] = [];
      for (const L of LETTERS) {
        const t = field(value[L]);
        if (t !== undefined) options.push({ letter: L, text: t });
      }
      if (options.length < 2) {
        reject(line, 'too-few-options', `${options.length} option(s); a multiple-choice row needs at least 2 of A, B, C, D...`, { lang, column: 'A' });
        continue;
      }
      const ans = field(column(value, 'answer'))?.trim();
      if (ans === undefined) {
        reject(line, 'missing-field', 'missing answer (a test split without answers cannot be scored here)', { lang, column: 'answer' });
        continue;
      }
      if (!options.some((o) => o.letter === ans)) {
        reject(line, 'invalid-answer', `answer "${ans}" is not one of the options ${options.map((o) => o.letter).join(', ')}`, { lang, column: 'answer' });
        continue;
      }
      let image: ImageRef | undefined;
      const img = field(column(value, 'image'));
      const imgPath = field(column(value, 'image_path'));
      if (img !== undefined) {
        let data = img;
        let holder = index;
        if (img.length <= 64) {
          // image_base.py: a short value is another row's index; that row must hold the image.
          const ref = imageOf.get(img.trim());
          if (ref === undefined || ref.length <= 64) {
            reject(line, 'bad-image', `image "${img}" is neither base64 nor the index of a row with an image`, { lang, column: 'image' });
            continue;
          }
          data = ref;
          holder = img.trim();
        }
        image = { file, index: holder, sources: toListStr(data).map((d) => ({ kind: 'base64' as const, data: d })) };
      } else if (imgPath !== undefined) {
        image = { file, index, sources: toListStr(imgPath).map((p) => ({ kind: 'path' as const, path: p, resolved: resolve(dirname(file), p) })) };
      }
      const hint = field(column(value, 'hint'));
      const category = field(column(value, 'category'));
      const l2 = field(column(value, 'l2-category'));
      const split = field(column(value, 'split'));
      fileItems.push({
        file,
        line,
        index,
        group,
        rotation,
        lang,
        question,
        options,
        answer: ans,
        ...(hint !== undefined ? { hint } : {}),
        ...(category !== undefined ? { category } : {}),
        ...(l2 !== undefined ? { l2category: l2 } : {}),
        ...(split !== undefined ? { split } : {}),
        ...(image ? { image } : {}),
      });
    }
    // --langs / --limit choose questions; a rotation follows its question.
    const mains = new Set(fileItems.filter((it) => !it.rotation).map((it) => it.group));
    const kept = new Set<string>();
    for (const it of fileItems) {
      if (it.rotation) continue;
      if (keep && !keep.has(it.lang)) {
        out.filtered[it.lang] = (out.filtered[it.lang] ?? 0) + 1;
        continue;
      }
      if (opts.limit !== undefined && questions >= opts.limit) {
        out.overLimit++;
        continue;
      }
      questions++;
      kept.add(it.group);
    }
    for (const it of fileItems) {
      if (it.rotation && !mains.has(it.group)) out.orphanRotations++;
      else if (kept.has(it.group)) out.items.push(it);
    }
  }
  return out;
}
