// `evaluate(model, opts)`: multiple-choice accuracy per language (option-letter logits and/or
// continuation likelihood) on MMBench/MMMB-style files, or English-target NLL per language on
// translation pairs. Which one comes from the file (TSV or rows with a `question` are MCQ; pairs
// or parallel JSONL are translation) unless `kind` says. Bad rows and image rows are counted and
// reported, never dropped silently. MCQ files are scored one of two ways (`protocol`): logits (the
// default here: letter logits and continuation likelihood) or vlmeval (generated answers scored as
// VLMEvalKit scores LLaVA, ./vlmeval.ts; `plast eval` makes it the default for TSV files).
import { closeSync, openSync, readSync } from 'node:fs';
import { PlastError, expectPositiveInt } from '../errors';
import { checkRowImages } from '../data/images';
import { encodePairs, eosIdFor, loadPairs } from '../data/pairs';
import { languagesBeside } from '../data/languages';
import { BadRow, RowSelection, badCounts, badRow, langCounts, rejectRow } from '../data/rows';
import { McqItem, loadMcq } from '../data/mcq';
import { DEFAULT_TEMPLATE, EnglishCue, FormatName, PromptFormat, TemplateChoice, resolveFormat, templateArg } from '../data/templates';
import { Model } from '../model/model';
import { encodeSegments } from '../data/segments';
import { McqResult, mcqSegments, scoreLetters, scoreLikelihood } from './mcq';
import { NllReport, translationNll } from './nll';
import { ScoreOptions } from './score';
import { DEFAULT_MAX_NEW_TOKENS, Generator, Prompting, VlmevalResult, formatVlmeval, runVlmeval, textGenerator } from './vlmeval';
import { VlmBadRow } from './vlmeval/data';

export type EvalKind = 'mcq' | 'pairs';
export type McqMode = 'letter' | 'likelihood' | 'both';
export type McqProtocol = 'logits' | 'vlmeval';
export const PROTOCOLS: McqProtocol[] = ['logits', 'vlmeval'];

export interface EvalOptions {
  data: string | string[];
  kind?: EvalKind | 'auto';
  mode?: McqMode; // MCQ: default both
  template?: TemplateChoice | PromptFormat; // default DEFAULT_TEMPLATE (auto: the model's own format)
  /** Translation pairs: where the "\nEnglish:" cue goes in a conversation format. */
  englishCue?: EnglishCue;
  langs?: string[];
  /** MCQ: language of rows without a language column. */
  lang?: string;
  limit?: number;
  strict?: boolean;
  /** MCQ: score rows that have an image on their text alone (reported as such). */
  textOnly?: boolean;
  /** Longest sequence scored (default the model's max positions); longer rows are bad rows. */
  maxLen?: number;
  microTokens?: number;
  onProgress?: ScoreOptions['onProgress'];
  /** MCQ: logits (default) or vlmeval (generated answers, VLMEvalKit's scoring). */
  protocol?: McqProtocol;
  /** vlmeval: the paper's prompting baselines (default none). */
  prompting?: Prompting;
  /** vlmeval: greedy generation length (default 256, as the paper). */
  maxNewTokens?: number;
  /** vlmeval: circular scoring forced on or off (default: by file name, as VLMEvalKit). */
  circular?: boolean;
  /** vlmeval: what generates the answers (default the model's text generator; a vision-language
   * generator takes the rows' images). */
  generator?: Generator;
}

export interface EvalReport {
  model: string;
  data: string[];
  kind: EvalKind;
  /** The conversation format used (auto resolved). */
  template: FormatName;
  items: number;
  perLangItems: Record<string, number>;
  bad: Record<string, number>;
  badRows: VlmBadRow[];
  filtered: Record<string, number>;
  overLimit: number;
  /** MCQ rows with an image: not scored (or scored on text alone with textOnly), per language. */
  imageRows: Record<string, number>;
  imageRowsScored: boolean;
  letter?: Omit<McqResult, 'method'>;
  likelihood?: Omit<McqResult, 'method'>;
  nll?: NllReport;
  /** Set for the vlmeval protocol (absent: logits). */
  protocol?: 'vlmeval';
  vlmeval?: VlmevalResult;
  seconds: number;
}

/** The row accounting of a report: what was scored per language, what was bad or left out. */
function rowsReport(items: { lang: string }[], bad: BadRow[], sel: RowSelection): Pick<EvalReport, 'items' | 'perLangItems' | 'bad' | 'badRows' | 'filtered' | 'overLimit'> {
  return { items: items.length, perLangItems: langCounts(items), bad: badCounts(bad), badRows: bad.slice(0, 100), filtered: sel.filtered, overLimit: sel.overLimit };
}

/** 'mcq' for TSV files and JSONL whose first row has a question; 'pairs' otherwise. */
export function detectKind(file: string): EvalKind {
  if (/\.tsv$/i.test(file)) return 'mcq';
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(64 * 1024);
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  const first = buf.subarray(0, n).toString('utf8').split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  try {
    const row = JSON.parse(first) as Record<string, unknown>;
    return 'question' in row ? 'mcq' : 'pairs';
  } catch {
    return 'pairs'; // the pairs reader reports the bad JSON with its line
  }
}

export async function evaluate(model: Model, o: EvalOptions): Promise<EvalReport> {
  const t0 = Date.now();
  const files = Array.isArray(o.data) ? o.data : [o.data];
  if (files.length === 0) throw new PlastError('ERR_INVALID', 'Expected a data file (--data) for eval', { field: 'data' });
  const kinds = files.map((f) => (o.kind && o.kind !== 'auto' ? o.kind : detectKind(f)));
  if (new Set(kinds).size > 1) throw new PlastError('ERR_INVALID', `--data mixes multiple-choice and translation files (${files.map((f, i) => `${f}: ${kinds[i]}`).join(', ')}); evaluate them separately`, { field: 'data' });
  const kind = kinds[0]!;
  languagesBeside(files); // names of languages no table knows
  const format = resolveFormat(o.template ?? DEFAULT_TEMPLATE, model, o.englishCue);
  const template = templateArg(format);
  const maxLen = o.maxLen ?? model.config.maxPositions;
  if (o.limit !== undefined) expectPositiveInt('limit', o.limit);
  const score: ScoreOptions = { ...(o.microTokens ? { microTokens: o.microTokens } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  const base = { model: model.dir, data: files, kind, template: format.name };
  const protocol = o.protocol ?? 'logits';
  if (protocol === 'vlmeval' && kind !== 'mcq') throw new PlastError('ERR_INVALID', `--protocol vlmeval scores multiple-choice files; ${files.join(', ')} hold translation pairs`, { field: 'protocol' });
  if (protocol !== 'vlmeval') {
    for (const [k, flag] of [['prompting', '--prompting'], ['maxNewTokens', '--max-new-tokens'], ['circular', '--circular'], ['generator', 'generator']] as const) {
      if (o[k] !== undefined && !(k === 'prompting' && o.prompting === 'none')) throw new PlastError('ERR_INVALID', `${flag} applies to --protocol vlmeval, not ${protocol}`, { field: k });
    }
  }
  if (protocol === 'vlmeval') {
    // VLMEvalKit's LLaVA protocol: LLaVA's conversation, or the bare prompt with --template plain.
    const vt = o.template === 'plain' ? 'plain' : 'vicuna';
    const run = await runVlmeval(o.generator ?? textGenerator(model), {
      data: files,
      template: vt,
      maxLen,
      ...(o.prompting ? { prompting: o.prompting } : {}),
      maxNewTokens: o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
      ...(o.lang ? { lang: o.lang } : {}),
      ...(o.langs ? { langs: o.langs } : {}),
      ...(o.limit ? { limit: o.limit } : {}),
      ...(o.strict ? { strict: true } : {}),
      ...(o.textOnly ? { textOnly: true } : {}),
      ...(o.circular !== undefined ? { circular: o.circular } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const bad: Record<string, number> = {};
    for (const b of run.bad) bad[b.reason] = (bad[b.reason] ?? 0) + 1;
    return {
      ...base,
      template: vt,
      items: run.items.length,
      perLangItems: langCounts(run.items),
      bad,
      badRows: run.bad.slice(0, 100),
      filtered: run.data.filtered,
      overLimit: run.data.overLimit,
      imageRows: run.imageRows,
      imageRowsScored: o.textOnly === true,
      protocol: 'vlmeval',
      ...(run.result ? { vlmeval: run.result } : {}),
      seconds: (Date.now() - t0) / 1000,
    };
  }

  if (kind === 'pairs') {
    const d = loadPairs(files, { ...(o.langs ? { langs: o.langs } : {}), ...(o.limit ? { limit: o.limit } : {}), ...(o.strict ? { strict: true } : {}) });
    const image = model.imageTokens ? { image: model.imageTokens } : {};
    const enc = encodePairs(model.tokenizer, d.pairs, { template: format, eosId: eosIdFor(model.tokenizer, model.config.eosTokenIds), maxLen, ...(o.strict ? { strict: true } : {}), ...image });
    const images = await checkRowImages(enc.examples, (e) => (e.pair.image !== undefined && model.vision ? { source: e.pair.image, file: e.pair.file, line: e.pair.line } : undefined), (src, where) =>
      model.imagePixels(src, where),
    );
    if (o.strict && images.bad.length > 0) rejectRow(images.bad[0]!, true, []);
    enc.examples = images.ok;
    const bad = [...d.bad, ...enc.bad, ...images.bad];
    const nll = enc.examples.length ? await translationNll(model, enc.examples, score) : undefined;
    return {
      ...base,
      ...rowsReport(enc.examples.map((e) => e.pair), bad, d),
      imageRows: {},
      imageRowsScored: false,
      ...(nll ? { nll } : {}),
      seconds: (Date.now() - t0) / 1000,
    };
  }

  const d = loadMcq(files, { ...(o.lang ? { lang: o.lang } : {}), ...(o.langs ? { langs: o.langs } : {}), ...(o.limit ? { limit: o.limit } : {}), ...(o.strict ? { strict: true } : {}) });
  const bad = [...d.bad];
  const imageRows: Record<string, number> = {};
  const items: McqItem[] = [];
  const mode = o.mode ?? 'both';
  for (const it of d.items) {
    if (it.hasImage) imageRows[it.lang] = (imageRows[it.lang] ?? 0) + 1;
    if (it.hasImage && !o.textOnly) continue;
    // The longest sequence this item produces must fit.
    const longest = Math.max(
      ...it.options.map((opt) => encodeSegments(model.tokenizer, mcqSegments(template, it, mode !== 'likelihood', mode !== 'likelihood' ? opt.letter : opt.text)).ids.length),
      ...(mode === 'both' ? it.options.map((opt) => encodeSegments(model.tokenizer, mcqSegments(template, it, false, opt.text)).ids.length) : []),
    );
    if (longest > maxLen) {
      rejectRow(badRow(it.file, it.line, 'too-long', `${longest} tokens, over the maximum length ${maxLen}`, { lang: it.lang }), o.strict, bad);
      continue;
    }
    items.push(it);
  }
  const strip = (r: McqResult): Omit<McqResult, 'method'> => ({ perLang: r.perLang, overall: r.overall, predictions: r.predictions });
  const letter = items.length && mode !== 'likelihood' ? strip(await scoreLetters(model, items, template, score)) : undefined;
  const likelihood = items.length && mode !== 'letter' ? strip(await scoreLikelihood(model, items, template, score)) : undefined;
  return {
    ...base,
    ...rowsReport(items, bad, d),
    imageRows,
    imageRowsScored: o.textOnly === true,
    ...(letter ? { letter } : {}),
    ...(likelihood ? { likelihood } : {}),
    seconds: (Date.now() - t0) / 1000,
  };
}

/** A plain-text table of a report (what `plast eval` prints). */
export function formatReport(r: EvalReport): string {
  const lines: string[] = [];
  const pct = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(1) : '-');
  lines.push(`${r.kind === 'mcq' ? 'multiple choice' : 'translation NLL'}: ${r.data.join(', ')} (template ${r.template}, ${r.items} scored)`);
  if (r.kind === 'pairs' && r.nll) {
    lines.push(`${'lang'.padEnd(6)}${'pairs'.padStart(7)}${'tokens'.padStart(9)}${'NLL/token'.padStart(11)}${'ppl'.padStart(10)}`);
    for (const [l, s] of Object.entries(r.nll.perLang)) lines.push(`${l.padEnd(6)}${String(s.pairs).padStart(7)}${String(s.tokens).padStart(9)}${s.nll.toFixed(4).padStart(11)}${s.ppl.toFixed(2).padStart(10)}`);
    const a = r.nll.overall;
    lines.push(`${'all'.padEnd(6)}${String(a.pairs).padStart(7)}${String(a.tokens).padStart(9)}${a.nll.toFixed(4).padStart(11)}${a.ppl.toFixed(2).padStart(10)}   (macro over languages ${r.nll.macro.toFixed(4)})`);
  }
  if (r.kind === 'mcq' && r.protocol === 'vlmeval') lines.push(...formatVlmeval(r.vlmeval, r.imageRows, r.imageRowsScored, r.perLangItems));
  if (r.kind === 'mcq' && r.protocol !== 'vlmeval') {
    const langs = [...new Set([...Object.keys(r.perLangItems), ...Object.keys(r.imageRows)])].sort();
    lines.push(`${'lang'.padEnd(6)}${'items'.padStart(7)}${'letter %'.padStart(10)}${'likelihood %'.padStart(14)}${'chance %'.padStart(10)}${'image rows'.padStart(12)}`);
    const row = (name: string, items: number, le?: { accuracy: number; chance: number }, li?: { accuracy: number; chance: number }, img?: number): string =>
      `${name.padEnd(6)}${String(items).padStart(7)}${(le ? pct(le.accuracy) : '-').padStart(10)}${(li ? pct(li.accuracy) : '-').padStart(14)}${pct((le ?? li)?.chance ?? NaN).padStart(10)}${String(img ?? 0).padStart(12)}`;
    for (const l of langs) lines.push(row(l, r.perLangItems[l] ?? 0, r.letter?.perLang[l], r.likelihood?.perLang[l], r.imageRows[l]));
    const img = Object.values(r.imageRows).reduce((a, b) => a + b, 0);
    lines.push(row('all', r.items, r.letter?.overall, r.likelihood?.overall, img));
    if (img > 0) {
      lines.push(
        r.imageRowsScored
          ? `${img} row(s) have an image; scored on their text alone (--text-only)`
          : `${img} row(s) have an image: not scored by the logits protocol (--protocol vlmeval answers them with a LLaVA checkpoint's tower; --text-only scores their text alone)`,
      );
    }
  }
  const nBad = Object.values(r.bad).reduce((a, b) => a + b, 0);
  if (nBad > 0) lines.push(`${nBad} bad row(s) not scored: ${Object.entries(r.bad).map(([k, v]) => `${k} ${v}`).join(', ')}${r.badRows[0] ? ` (first: ${r.badRows[0].message})` : ''}`);
  const filtered = Object.entries(r.filtered);
  if (filtered.length) lines.push(`left out by --langs: ${filtered.map(([l, n]) => `${l} ${n}`).join(', ')}`);
  if (r.overLimit) lines.push(`${r.overLimit} more ${r.kind === 'mcq' ? 'item(s)' : 'pair(s)'} beyond --limit not scored`);
  lines.push(`${r.seconds.toFixed(1)} s`);
  return lines.join('\n') + '\n';
}
