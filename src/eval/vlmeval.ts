// The vlmeval protocol of `plast eval`: multiple-choice rows answered by greedy generation and
// scored as VLMEvalKit scores LLaVA on MMBench / MMMB (open-compass/VLMEvalKit): the LLaVA prompt
// (vlmeval/vlm/llava/llava.py), exact-matching answer extraction (vlmeval/utils/matching_util.py
// can_infer), vanilla or circular scoring (vlmeval/dataset/utils/multiple_choice.py). Pieces in
// ./vlmeval/: data (the TSV), prompt, infer, score, generator (the seam for the vision model).
import { PlastError, expectPositiveInt } from '../errors';
import { TemplateName } from '../data/templates';
import { ImageRef, LoadVlmOptions, VlmBadRow, VlmData, VlmDataset, VlmItem, loadVlmeval } from './vlmeval/data';
import { Generator } from './vlmeval/generator';
import { canInfer } from './vlmeval/infer';
import { Prompting, conversation, userPrompt } from './vlmeval/prompt';
import { CircularScores, VlmPrediction, VlmScores, circularScores, vanillaScores } from './vlmeval/score';

export { loadVlmeval } from './vlmeval/data';
export type { ImageRef, ImageSource, VlmItem, VlmData } from './vlmeval/data';
export { canInfer, canInferOption, canInferText } from './vlmeval/infer';
export { Generator, textGenerator, visionGenerator } from './vlmeval/generator';
export { Prompting, PROMPTINGS, PromptSegment, cnString, llavaPrompt, conversation, promptString, userPrompt } from './vlmeval/prompt';
export type { VlmPrediction, VlmScores, CircularScores } from './vlmeval/score';
export { circularScores, vanillaScores } from './vlmeval/score';

/** The paper's generation length (Appendix B.1: greedy, at most 256 new tokens). */
export const DEFAULT_MAX_NEW_TOKENS = 256;

export interface VlmevalOptions extends LoadVlmOptions {
  data: string[];
  /** vicuna: LLaVA's conversation (default); plain: the bare prompt, for base models. */
  template?: TemplateName;
  prompting?: Prompting;
  maxNewTokens?: number;
  /** Score rows that have an image on their text alone when the generator has no vision. */
  textOnly?: boolean;
  /** Longest prompt in tokens (image tokens aside); longer rows are bad rows. */
  maxLen: number;
  onProgress?: (done: number, total: number) => void;
}

export interface VlmevalResult {
  template: TemplateName;
  prompting: Prompting;
  maxNewTokens: number;
  /** Whether the generator took the images; if not, rows with one were skipped or text-only. */
  vision: boolean;
  datasets: VlmDataset[];
  /** Every generated row on its own (MMMB's score; for MMBench the rows of every rotation). */
  vanilla: VlmScores;
  /** MMBench's score: one result per question over its rotations (circular datasets only). */
  circular?: CircularScores;
  /** Rows whose answer matched no option letter or text: misses, never guessed. */
  unmatched: number;
  orphanRotations: number;
  /** Rows not generated for because another row of their circular question could not be (an
   * image without vision, too long): a question is scored whole or not at all. */
  leftWithQuestion: number;
  predictions: VlmPrediction[];
}

export interface VlmevalRun {
  data: VlmData;
  /** The rows generated for (after image and length checks). */
  items: VlmItem[];
  bad: VlmBadRow[];
  imageRows: Record<string, number>;
  result?: VlmevalResult;
}

/** Generates an answer for every usable row and scores them. */
export async function runVlmeval(gen: Generator, o: VlmevalOptions): Promise<VlmevalRun> {
  const template = o.template ?? 'vicuna';
  const prompting = o.prompting ?? 'none';
  const maxNewTokens = o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  expectPositiveInt('maxNewTokens', maxNewTokens);
  if (o.limit !== undefined) expectPositiveInt('limit', o.limit);
  const d = loadVlmeval(o.data, o);
  const bad: VlmBadRow[] = [...d.bad];
  const imageRows: Record<string, number> = {};
  const work: { item: VlmItem; image?: ImageRef }[] = [];
  const skipped = new Set<string>(); // circular groups with a row left out: the question goes too
  const key = (it: VlmItem): string => `${it.file}\u0000${it.group}`;
  for (const item of d.items) {
    let image = item.image;
    if (image && !gen.vision) {
      imageRows[item.lang] = (imageRows[item.lang] ?? 0) + 1;
      if (!o.textOnly) {
        skipped.add(key(item));
        continue;
      }
      image = undefined;
    }
    const p = userPrompt(item, prompting);
    const n = gen.promptTokens(conversation(template, p.stage1 ?? p.answer(), image).filter((s) => 'text' in s));
    if (n > o.maxLen) {
      const b: VlmBadRow = { file: item.file, line: item.line, reason: 'too-long', message: `${item.file}:${item.line}: ${n} prompt tokens, over the maximum length ${o.maxLen}`, lang: item.lang };
      if (o.strict) throw new PlastError('ERR_DATA', `${b.message} (--strict rejects the file)`, { file: item.file, line: item.line });
      bad.push(b);
      skipped.add(key(item));
      continue;
    }
    work.push({ item, ...(image ? { image } : {}) });
  }
  // A circular question is scored over all its rotations or not at all.
  const todo = work.filter((w) => !skipped.has(key(w.item)));
  const items = todo.map((w) => w.item);
  if (todo.length === 0) return { data: d, items, bad, imageRows };

  const predictions: VlmPrediction[] = [];
  let done = 0;
  for (const { item, image } of todo) {
    const p = userPrompt(item, prompting);
    let translation: string | undefined;
    if (p.stage1 !== undefined) translation = await gen.generate(conversation(template, p.stage1, image), image, maxNewTokens);
    const prediction = await gen.generate(conversation(template, p.answer(translation), image), image, maxNewTokens);
    const choices: Record<string, string> = {};
    for (const opt of item.options) choices[opt.letter] = opt.text;
    const ex = canInfer(prediction, choices);
    predictions.push({
      file: item.file,
      line: item.line,
      index: item.index,
      group: item.group,
      lang: item.lang,
      ...(item.category !== undefined ? { category: item.category } : {}),
      answer: item.answer,
      ...(translation !== undefined ? { translation } : {}),
      prediction,
      ...(ex !== false ? { extracted: ex } : {}),
      hit: ex === item.answer,
      ...(item.image && !image ? { textOnly: true } : {}),
    });
    o.onProgress?.(++done, todo.length);
  }
  const circularFiles = new Set(d.datasets.filter((s) => s.circular).map((s) => s.file));
  const ci = items.map((it, i) => i).filter((i) => circularFiles.has(items[i]!.file));
  return {
    data: d,
    items,
    bad,
    imageRows,
    result: {
      template,
      prompting,
      maxNewTokens,
      vision: gen.vision,
      datasets: d.datasets,
      vanilla: vanillaScores(items, predictions),
      ...(ci.length ? { circular: circularScores(ci.map((i) => items[i]!), ci.map((i) => predictions[i]!)) } : {}),
      unmatched: predictions.filter((p) => p.extracted === undefined).length,
      orphanRotations: d.orphanRotations,
      leftWithQuestion: work.length - todo.length,
      predictions,
    },
  };
}

/** The lines `plast eval` prints for the vlmeval protocol (table per language, then the notes). */
export function formatVlmeval(r: VlmevalResult | undefined, imageRows: Record<string, number>, imageRowsScored: boolean, perLangItems: Record<string, number>): string[] {
  const lines: string[] = [];
  const pct = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? (100 * x).toFixed(1) : '-');
  if (r) {
    lines.push(`protocol vlmeval: ${r.template === 'vicuna' ? "LLaVA's prompt" : 'plain prompt'}, prompting ${r.prompting}, greedy, at most ${r.maxNewTokens} new tokens, exact matching`);
    for (const s of r.datasets) lines.push(`  ${s.file}: ${s.circular ? 'circular' : 'vanilla'} (${s.circularWhy})`);
  }
  const langs = [...new Set([...Object.keys(perLangItems), ...Object.keys(imageRows)])].sort();
  lines.push(`${'lang'.padEnd(6)}${'rows'.padStart(7)}${'vanilla %'.padStart(11)}${'questions'.padStart(11)}${'circular %'.padStart(12)}${'unmatched'.padStart(11)}${'image rows'.padStart(12)}`);
  const row = (name: string, rows: number, v?: { accuracy: number; unmatched: number }, c?: { items: number; accuracy: number }, img?: number): string =>
    `${name.padEnd(6)}${String(rows).padStart(7)}${pct(v?.accuracy).padStart(11)}${(c ? String(c.items) : '-').padStart(11)}${pct(c?.accuracy).padStart(12)}${String(v?.unmatched ?? 0).padStart(11)}${String(img ?? 0).padStart(12)}`;
  for (const l of langs) lines.push(row(l, perLangItems[l] ?? 0, r?.vanilla.perLang[l], r?.circular?.perLang[l], imageRows[l]));
  const img = Object.values(imageRows).reduce((a, b) => a + b, 0);
  lines.push(row('all', Object.values(perLangItems).reduce((a, b) => a + b, 0), r?.vanilla.overall, r?.circular?.overall, img));
  if (r) {
    const cats = Object.entries(r.circular?.perCategory ?? r.vanilla.perCategory);
    if (cats.length) lines.push(`per category (${r.circular ? 'circular' : 'vanilla'}): ${cats.map(([k, s]) => `${k} ${pct(s.accuracy)}% of ${s.items}`).join(', ')}`);
    lines.push(`${r.unmatched} of ${r.predictions.length} answer(s) matched no option letter or text: counted wrong, not guessed`);
    if (r.circular && r.circular.incomplete) lines.push(`${r.circular.incomplete} circular question(s) wrong only because a rotation's answer was unmatched`);
    if (r.leftWithQuestion) lines.push(`${r.leftWithQuestion} row(s) not scored because another row of their circular question could not be`);
    if (r.orphanRotations) lines.push(`${r.orphanRotations} rotation row(s) without their question (index % 1e6) in the file: not scored, as in VLMEvalKit`);
  }
  if (img > 0) {
    lines.push(
      imageRowsScored
        ? `${img} row(s) have an image and the model has no vision path here: scored on their text alone (--text-only)`
        : `${img} row(s) have an image and the model has no vision path here: not scored (--text-only scores their text alone; a circular question goes with its rotations)`,
    );
  }
  return lines;
}
