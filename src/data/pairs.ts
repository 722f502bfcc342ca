// Question-translation pairs (X -> English) for PLAST training and the translation-NLL eval.
// Two JSONL layouts are read:
//   pairs:    {"lang": "ar", "source": "...", "target": "..."}          (one pair per line)
//   parallel: {"id": ..., "eng": "...", "arb": "...", "tur": "...", ...} (one pair per non-English
//             language column; the English column is the target; codes via data/languages.ts;
//             columns that are not a language code are listed in `ignoredColumns`, and "id" is
//             always such a column — Indonesian is "ind" in parallel files)
// Every row that cannot become a pair is a BadRow with its line and reason; nothing is dropped
// silently. `strict` turns the first bad row into an ERR_DATA naming the line.
import { createHash } from 'node:crypto';
import { PlastError } from '../errors';
import { IMAGE_PLACEHOLDER, ImageTokens, expandEncoded } from '../model/llava';
import { TextTokenizer } from '../model/tokenizer';
import { readJsonl } from './jsonl';
import { readInput } from '../util/input';
import { BadReason, BadRow, RowSelection, badRow, rejectRow, selectRow } from './rows';
import { checkCell, tooLongMessage } from './validate';
import { findLanguage, language } from './languages';
import { encodeSegments } from './segments';
import { TemplateName, translationPrompt } from './templates';

export interface TranslationPair {
  lang: string; // canonical ISO 639-1 code of the source language
  source: string;
  target: string; // English
  file: string;
  line: number; // 1-based line in `file`
  column?: string; // parallel files: the source column
  /** An image in the prompt (LLaVA): a path relative to the file, or base64. */
  image?: string;
}

export interface PairsData extends RowSelection {
  files: string[];
  format: ('pairs' | 'parallel')[];
  pairs: TranslationPair[];
  bad: BadRow[];
  /** Parallel files: columns that are not a known language code (ids, titles, ...), never used. */
  ignoredColumns: string[];
  blankLines: number;
}

export interface LoadPairsOptions {
  /** Source languages to keep (canonical codes); default all. */
  langs?: string[];
  strict?: boolean;
  /** Keep only the first N pairs (after the language filter), in file order. */
  limit?: number;
}

/**
 * Parallel-file columns that are never a language even where the name is a code: "id" is the
 * ISO 639-1 code of Indonesian but, in practice, a row id (spell Indonesian "ind" there).
 */
const METADATA_COLUMNS = new Set(['id', 'image']);


// The image cell, as main reads it (text cells go through data/validate.ts instead).
const STR = (v: unknown): string | undefined => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));

/** Reads pairs from one or more JSONL files (each in either layout). */
export function loadPairs(files: string | string[], opts: LoadPairsOptions = {}): PairsData {
  const list = Array.isArray(files) ? files : [files];
  if (list.length === 0) throw new PlastError('ERR_INVALID', 'Expected at least one data file');
  const keep = opts.langs ? new Set(opts.langs) : undefined;
  const out: PairsData = { files: list, format: [], pairs: [], bad: [], filtered: {}, overLimit: 0, ignoredColumns: [], blankLines: 0 };
  const reject = (b: BadRow): void => rejectRow(b, opts.strict, out.bad);
  const add = (p: TranslationPair): void => {
    if (selectRow(out, p.lang, out.pairs.length, keep, opts.limit)) out.pairs.push(p);
  };
  for (const file of list) {
    const j = readJsonl(file);
    out.blankLines += j.blankLines;
    const first = j.rows[0]!.value;
    const isPairs = 'source' in first || 'target' in first || 'lang' in first;
    out.format.push(isPairs ? 'pairs' : 'parallel');
    if (isPairs) {
      for (const { line, value } of j.rows) {
        const missing = ['lang', 'source', 'target'].filter((k) => value[k] === undefined || value[k] === null);
        if (missing.length > 0) {
          reject(badRow(file, line, 'missing-field', `missing field(s) ${missing.join(', ')}`, { column: missing[0]! }));
          continue;
        }
        // The same cell checks as every other reader (data/validate.ts): text must be a string.
        const cells = (['lang', 'source', 'target'] as const).map((k) => checkCell(k, value[k], k === 'lang' ? 'text' : k));
        const badCell = cells.findIndex((c) => !c.ok);
        if (badCell >= 0) {
          const c = cells[badCell] as { reason: BadReason; message: string };
          reject(badRow(file, line, c.reason, c.message, { column: ['lang', 'source', 'target'][badCell]! }));
          continue;
        }
        const [langRaw, source, target] = cells.map((c) => (c as { text: string }).text) as [string, string, string];
        const l = findLanguage(langRaw);
        if (!l) {
          reject(badRow(file, line, 'unknown-language', `unknown language code "${langRaw}"`, { column: 'lang' }));
          continue;
        }
        if (l.code === 'en') {
          reject(badRow(file, line, 'english-source', 'the source language is English (pairs translate into English)', { lang: 'en', column: 'lang' }));
          continue;
        }
        const image = STR(value['image']);
        add({ lang: l.code, source, target, file, line, ...(image ? { image } : {}) });
      }
      continue;
    }
    // Parallel: the columns are the union of every row's keys; a row lacking one is reported.
    const keys: string[] = [];
    const seenKeys = new Set<string>();
    for (const { value } of j.rows) {
      for (const k of Object.keys(value)) {
        if (!seenKeys.has(k)) {
          seenKeys.add(k);
          keys.push(k);
        }
      }
    }
    const langCols: { col: string; code: string }[] = [];
    let enCol: string | undefined;
    for (const key of keys) {
      const l = METADATA_COLUMNS.has(key.toLowerCase()) ? undefined : findLanguage(key);
      if (!l) {
        if (!out.ignoredColumns.includes(key)) out.ignoredColumns.push(key);
        continue;
      }
      if (l.code === 'en') {
        if (enCol !== undefined) throw new PlastError('ERR_DATA', `${file}: two English columns ("${enCol}" and "${key}")`, { file, field: key });
        enCol = key;
        continue;
      }
      if (langCols.some((c) => c.code === l.code)) throw new PlastError('ERR_DATA', `${file}: two columns for language ${l.code} ("${key}")`, { file, field: key });
      langCols.push({ col: key, code: l.code });
    }
    if (enCol === undefined) {
      throw new PlastError(
        'ERR_DATA',
        `${file}: neither a pairs file ({"lang","source","target"} per line) nor a parallel file with an English column (en/eng); columns: ${keys.join(', ')}`,
        { file },
      );
    }
    for (const { line, value } of j.rows) {
      const t = checkCell(enCol, value[enCol] ?? undefined, 'target');
      if (!t.ok) {
        reject(badRow(file, line, t.reason, `${t.message} (the English column)`, { column: enCol }));
        continue;
      }
      const target = t.text;
      for (const { col, code } of langCols) {
        const s = checkCell(col, value[col] ?? undefined, 'source');
        if (!s.ok) {
          reject(badRow(file, line, s.reason, s.message, { lang: code, column: col }));
          continue;
        }
        const image = STR(value['image']);
        add({ lang: code, source: s.text, target, file, line, column: col, ...(image ? { image } : {}) });
      }
    }
  }
  return out;
}

/** A pair as a training/eval sequence: prompt ids then target ids + EOS. */
export interface EncodedPair {
  pair: TranslationPair;
  ids: number[];
  /** Index in `ids` of the first target token; ids[targetStart..] (EOS included) carry the loss. */
  targetStart: number;
}

/** The eos id a target is closed with: the tokenizer's, else the config's first. */
export function eosIdFor(tok: TextTokenizer, configEos: number[]): number {
  const id = tok.eosId ?? configEos[0];
  if (id === undefined) throw new PlastError('ERR_FORMAT', 'the tokenizer and config.json define no EOS token; targets must end with one');
  return id;
}

/**
 * The PLAST prompt for a pair (DESIGN.md: "Translate this from {Lang} to English:\n{Lang}:
 * {source}\nEnglish: {target}</s>") tokenized as HF would tokenize the whole string, with the
 * target's tokens and an appended EOS marked as the loss span.
 */
export function encodePair(tok: TextTokenizer, template: TemplateName, pair: TranslationPair, eosId: number, image?: ImageTokens): EncodedPair {
  const name = language(pair.lang).name;
  const segments = translationPrompt(template, name, pair.source, pair.target);
  if (pair.image !== undefined) {
    if (!image) {
      throw new PlastError('ERR_INVALID', `${pair.file}:${pair.line}: the pair has an image but the model was loaded without its vision tower`, {
        file: pair.file,
        line: pair.line,
        field: 'image',
      });
    }
    // LLaVA's "<image>\n" opens the user's message, before the instruction (in every format).
    const first = segments[0]!;
    const at = first.text.indexOf('Translate this from');
    const keep = first.bare ? { bare: true } : {};
    segments.splice(0, 1, { ...first, text: first.text.slice(0, at) }, { text: `${IMAGE_PLACEHOLDER}\n`, tag: 'image' as 'frame', ...keep }, { ...first, text: first.text.slice(at) });
  }
  const encoded = encodeSegments(tok, segments);
  const enc = pair.image !== undefined ? expandEncoded(encoded, image!, 'image' as 'frame', 'frame', 1) : encoded;
  let first = -1;
  let last = -1;
  enc.tags.forEach((t, i) => {
    if (t === 'target') {
      if (first < 0) first = i;
      last = i;
    }
  });
  if (first < 1) {
    throw new PlastError('ERR_DATA', `${pair.file}:${pair.line}: the target "${pair.target.slice(0, 40)}" gives no target tokens after the prompt`, { file: pair.file, line: pair.line });
  }
  // Anything the post-processor appended after the target (an EOS of its own) is replaced by ours.
  const ids = enc.ids.slice(0, last + 1);
  ids.push(eosId);
  return { pair, ids, targetStart: first };
}

export interface EncodePairsResult {
  examples: EncodedPair[];
  bad: BadRow[];
}

/** Encodes pairs; those longer than maxLen tokens are bad rows ('too-long'), or ERR_DATA if strict. */
export function encodePairs(
  tok: TextTokenizer,
  pairs: TranslationPair[],
  opts: { template: TemplateName; eosId: number; maxLen: number; maxPositions?: number; strict?: boolean; onProgress?: (done: number) => void; image?: ImageTokens },
): EncodePairsResult {
  const examples: EncodedPair[] = [];
  const bad: BadRow[] = [];
  pairs.forEach((p, i) => {
    const e = encodePair(tok, opts.template, p, opts.eosId, opts.image);
    // Never past the model's positions, whatever maxLen says: RoPE runs on, but the model never saw them.
    const limit = Math.min(opts.maxLen, opts.maxPositions ?? Infinity);
    if (e.ids.length > limit) {
      rejectRow(badRow(p.file, p.line, 'too-long', tooLongMessage(`${p.lang} pair`, e.ids.length, opts.maxLen, opts.maxPositions), { lang: p.lang, ...(p.column ? { column: p.column } : {}) }), opts.strict, bad);
    } else {
      examples.push(e);
    }
    if (opts.onProgress && (i + 1) % 256 === 0) opts.onProgress(i + 1);
  });
  return { examples, bad };
}

/** A short fingerprint of data files (their bytes), to refuse resuming on different data. */
export function fileFingerprint(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    const buf = readInput(f, 'data file');
    h.update(`${buf.length}:`);
    h.update(buf);
  }
  return h.digest('hex');
}
