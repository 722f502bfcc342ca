// The training data of a run: the pairs loaded, checked and encoded with the prompt template
// (bad rows counted and listed, or rejected when strict), turned into sequences whose labels are
// the English target + EOS, and the report train.jsonl and summary.json carry.
import { PlastError } from '../errors';
import { Sequence } from '../model/batch';
import { Model } from '../model/model';
import { EncodedPair, encodePairs, eosIdFor, fileFingerprint, loadPairs } from '../data/pairs';
import { checkRowImages } from '../data/images';
import { BadRow, badCounts, langCounts, rejectRow } from '../data/rows';
import { resolveFormat } from '../data/templates';
import { languagesBeside } from '../data/languages';
import { RunConfig } from './state';

export interface DataReport {
  files: string[];
  formats: string[];
  pairs: number;
  examples: number;
  perLang: Record<string, number>;
  bad: Record<string, number>;
  badRows: BadRow[]; // the first 100 (train.jsonl lists every one)
  filtered: Record<string, number>;
  overLimit: number;
  ignoredColumns: string[];
  tokens: number;
  labelTokens: number;
  fingerprint: string;
}

/** A training sequence: the loss is on the tokens after the prompt (the target and EOS). */
export type TrainSequence = Sequence & { labelCount: number };

export interface TrainData {
  examples: EncodedPair[];
  /** One per example, in the same order. */
  seqs: TrainSequence[];
  report: DataReport;
  bad: BadRow[]; // all of them (the report lists the first 100)
}

function toSequence(e: EncodedPair): TrainSequence {
  const logitAt: number[] = [];
  const labels: number[] = [];
  for (let t = e.targetStart - 1; t < e.ids.length - 1; t++) {
    logitAt.push(t);
    labels.push(e.ids[t + 1]!);
  }
  const p = e.pair;
  const images = p.image !== undefined ? { images: [{ source: p.image, file: p.file, line: p.line }] } : {};
  return { ids: e.ids, logitAt, labels, labelCount: labels.length, ...images };
}

/** Loads, checks and encodes the training pairs (bad rows counted, or rejected when strict). */
export async function prepareData(model: Model, c: RunConfig, strict: boolean, log: (m: string) => void): Promise<TrainData> {
  languagesBeside(c.data); // names of languages no table knows
  const d = loadPairs(c.data, { ...(c.langs ? { langs: c.langs } : {}), strict, ...(c.limit !== null ? { limit: c.limit } : {}) });
  const eos = eosIdFor(model.tokenizer, model.config.eosTokenIds);
  const t0 = Date.now();
  const format = resolveFormat(c.template, model, c.englishCue);
  const image = model.imageTokens ? { image: model.imageTokens } : {};
  const enc = encodePairs(model.tokenizer, d.pairs, { template: format, eosId: eos, maxLen: c.maxLen, maxPositions: model.config.maxPositions, strict, ...image });
  const images = await checkRowImages(enc.examples, (e) => (e.pair.image !== undefined ? { source: e.pair.image, file: e.pair.file, line: e.pair.line } : undefined), (src, where) =>
    model.imagePixels(src, where),
  );
  if (strict && images.bad.length > 0) rejectRow(images.bad[0]!, true, []);
  enc.examples = images.ok;
  const bad = [...d.bad, ...enc.bad, ...images.bad];
  const report: DataReport = {
    files: c.data,
    formats: d.format,
    pairs: d.pairs.length,
    examples: enc.examples.length,
    perLang: langCounts(enc.examples.map((e) => e.pair)),
    bad: badCounts(bad),
    badRows: bad.slice(0, 100),
    filtered: d.filtered,
    overLimit: d.overLimit,
    ignoredColumns: d.ignoredColumns,
    tokens: enc.examples.reduce((a, e) => a + e.ids.length, 0),
    labelTokens: enc.examples.reduce((a, e) => a + e.ids.length - e.targetStart, 0),
    fingerprint: fileFingerprint(c.data),
  };
  log(
    `data: ${report.examples} pairs (${Object.entries(report.perLang).map(([l, n]) => `${l} ${n}`).join(', ')}), ` +
      `${report.tokens} tokens, ${report.labelTokens} target tokens; encoded in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  if (bad.length > 0) log(`data: ${bad.length} bad row(s) skipped: ${Object.entries(report.bad).map(([r, n]) => `${r} ${n}`).join(', ')} (listed in train.jsonl; --strict rejects them)`);
  const filtered = Object.entries(d.filtered);
  if (filtered.length > 0) log(`data: left out by --langs: ${filtered.map(([l, n]) => `${l} ${n}`).join(', ')}`);
  if (d.overLimit > 0) log(`data: ${d.overLimit} pair(s) beyond --limit ${c.limit} not used`);
  if (d.ignoredColumns.length > 0) log(`data: columns that are not a language, not used: ${d.ignoredColumns.join(', ')}`);
  if (enc.examples.length === 0) throw new PlastError('ERR_DATA', `${c.data.join(', ')}: no usable pairs (${bad.length} bad rows)`, { file: c.data[0]! });
  return { examples: enc.examples, seqs: enc.examples.map(toSequence), report, bad };
}
