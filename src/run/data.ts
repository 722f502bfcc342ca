// The data side of `plast run`: which file of a data directory the profile reads, and the
// translation pairs split into a training part and a held-out part, with the split written to
// the run directory so the training and both evaluations read exactly the same files.
//
// The split is by parallel item (file + line), never by pair, so no question is seen in training
// in one language and evaluated in another; it is a seeded hash, so a run is reproducible and
// does not depend on the order of files.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { PlastError } from '../errors';
import { findLanguage, language } from '../data/languages';
import { readJsonl } from '../data/jsonl';
import { parallelItems } from '../data/parallel';
import { TranslationPair, loadPairs } from '../data/pairs';
import { resolveImageSource } from '../model/llava';
import { writeFileAtomic } from '../util/atomic';
import { io } from '../util/paths';
import { DEFAULT_HELDOUT } from './defaults';

export interface DataChoice {
  profileFile: string;
  /** Why this file (printed and stored in the report). */
  profileReason: string;
  pairFiles: string[];
}

/** The *.jsonl files of a directory (sorted), or the file itself. */
export function dataFiles(path: string): string[] {
  const p = resolve(path);
  if (!existsSync(p)) throw new PlastError('ERR_IO', `${p}: no such data file or directory`, { file: p });
  if (statSync(p).isFile()) return [p];
  const files = io(p, 'list the data directory', () => readdirSync(p))
    .filter((f) => f.toLowerCase().endsWith('.jsonl'))
    .sort()
    .map((f) => join(p, f));
  if (files.length === 0) throw new PlastError('ERR_DATA', `${p}: no .jsonl files (expected parallel JSONL, see README "Data")`, { file: p });
  return files;
}

/** The languages a JSONL file carries: its language columns (wide) or its "lang" values (long). */
export function fileLanguages(file: string): Set<string> {
  const j = readJsonl(file);
  const out = new Set<string>();
  const first = j.rows[0]?.value;
  if (!first) return out;
  const long = typeof first['lang'] === 'string';
  if (long) {
    for (const { value } of j.rows) {
      const l = typeof value['lang'] === 'string' ? findLanguage(value['lang']) : undefined;
      if (l) out.add(l.code);
    }
  } else {
    for (const key of Object.keys(first)) {
      if (key === 'id') continue;
      const l = findLanguage(key);
      if (l) out.add(l.code);
    }
  }
  return out;
}

/**
 * The profile reads one file with every language asked for. Among those, a file whose name says
 * "question" wins (the paper profiles questions), then the first by name; the reason says which
 * was taken and, when it is not a questions file, what the questions files lack.
 */
export function chooseData(files: string[], langs: string[], profileData?: string): DataChoice {
  const codes = langs.map((l) => language(l, '--langs').code);
  const covered = new Map(files.map((f) => [f, fileLanguages(f)]));
  if (profileData) {
    const file = resolve(profileData);
    return { profileFile: file, profileReason: 'given with --profile-data', pairFiles: files };
  }
  const full = files.filter((f) => codes.every((c) => covered.get(f)!.has(c)));
  if (full.length === 0) {
    const lines = files.map((f) => `  ${basename(f)}: lacks ${codes.filter((c) => !covered.get(f)!.has(c)).join(', ')}`);
    throw new PlastError('ERR_LANG', `no data file has every language of --langs (${codes.join(',')}); the profile needs one:\n${lines.join('\n')}\nDrop a language from --langs or name a file with --profile-data`, { field: 'langs' });
  }
  const lacks = (f: string): string[] => codes.filter((c) => !covered.get(f)!.has(c));
  const q = full.find((f) => parallelItems(f) === 'questions');
  const file = q ?? full[0]!;
  const others = files.filter((f) => f !== file && !full.includes(f)).map((f) => `${basename(f)} lacks ${lacks(f).join(', ')}`);
  const questionFiles = files.filter((f) => parallelItems(f) === 'questions');
  const missing = [...new Set(questionFiles.flatMap(lacks))];
  const reason = q
    ? 'the questions file with every language of --langs' + (others.length ? ` (${others.join('; ')})` : '')
    : `the first file (by name) with every language of --langs; ${parallelItems(file)}, not questions` +
      (questionFiles.length
        ? `: ${questionFiles.map((f) => `${basename(f)} lacks ${lacks(f).join(', ')}`).join('; ')} (the paper profiles questions; without ${missing.join(', ')} in --langs the run does too)`
        : ': no file of --data is named as questions');
  return { profileFile: file, profileReason: reason, pairFiles: files };
}

export interface SplitOptions {
  langs: string[];
  seed: number;
  /** Share of parallel items held out for evaluation (default 0.1). */
  heldoutFraction?: number;
  /** At most this many training pairs (a seeded sample over all languages); default all. */
  trainLimit?: number;
  /** At most this many held-out pairs per language; default all. */
  evalPerLang?: number;
}

export interface Split {
  train: TranslationPair[];
  heldout: TranslationPair[];
  /** Pairs read, before the split and limits. */
  pairs: number;
  perLang: Record<string, { train: number; heldout: number }>;
  /** Rows the pair reader could not use (counted, never silently dropped). */
  badRows: number;
  /** Pairs of languages outside --langs. */
  filtered: Record<string, number>;
}

function unit(seed: number, key: string): number {
  return createHash('sha256').update(`${seed}\0${key}`).digest().readUInt32BE(0) / 2 ** 32;
}

export function splitPairs(files: string[], o: SplitOptions): Split {
  const sources = o.langs.filter((l) => l !== 'en');
  if (sources.length === 0) throw new PlastError('ERR_LANG', '--langs has no language besides English; there is nothing to translate from', { field: 'langs' });
  const d = loadPairs(files, { langs: sources });
  if (d.pairs.length === 0) throw new PlastError('ERR_DATA', `no translation pairs into English for ${sources.join(',')} in ${files.join(', ')}`, { field: 'data' });
  const frac = o.heldoutFraction ?? DEFAULT_HELDOUT;
  const item = (p: TranslationPair): string => `${basename(p.file)}:${p.line}`;
  let train: TranslationPair[] = [];
  const held: TranslationPair[] = [];
  for (const p of d.pairs) (unit(o.seed, item(p)) < frac ? held : train).push(p);
  // Seeded orders: the samples below are spread over files and languages, not their first rows.
  const order = (p: TranslationPair): number => unit(o.seed + 1, `${item(p)}\0${p.lang}`);
  train.sort((a, b) => order(a) - order(b));
  if (o.trainLimit !== undefined) train = train.slice(0, o.trainLimit);
  held.sort((a, b) => order(a) - order(b));
  const heldout: TranslationPair[] = [];
  const n = new Map<string, number>();
  for (const p of held) {
    const k = n.get(p.lang) ?? 0;
    if (o.evalPerLang !== undefined && k >= o.evalPerLang) continue;
    n.set(p.lang, k + 1);
    heldout.push(p);
  }
  if (train.length === 0 || heldout.length === 0) {
    throw new PlastError('ERR_DATA', `too few pairs to split (${d.pairs.length}: ${train.length} for training, ${heldout.length} held out); give more data or a larger --heldout`, { field: 'data' });
  }
  const perLang: Record<string, { train: number; heldout: number }> = {};
  for (const l of sources) perLang[l] = { train: 0, heldout: 0 };
  for (const p of train) perLang[p.lang]!.train++;
  for (const p of heldout) perLang[p.lang]!.heldout++;
  return { train, heldout, pairs: d.pairs.length, perLang, badRows: d.bad.length, filtered: d.filtered };
}

/** Pairs as {"lang","source","target"} JSONL (the format `plast train` and `plast eval` read). */
export function writePairs(file: string, pairs: TranslationPair[]): void {
  // An image path is made absolute: the pairs file lives elsewhere than the data it came from.
  const lines = pairs.map((p) =>
    JSON.stringify({ lang: p.lang, source: p.source, target: p.target, ...(p.image !== undefined ? { image: resolve(resolveImageSource(p.image, p.file)) } : {}), origin: `${basename(p.file)}:${p.line}` }),
  );
  writeFileAtomic(file, lines.join('\n') + '\n');
}
