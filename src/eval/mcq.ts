// Multiple-choice scoring, two ways:
//  letter:     the LLaVA MMBench prompt (hint, question, "A. ..." lines, "Answer with the option's
//              letter from the given choices directly.") and the next-token logits of the option
//              letters (the token each letter starts with when it follows the prompt) — how
//              instruction-tuned models are evaluated;
//  likelihood: hint + question, then each option's text as the answer; the option with the highest
//              mean log-prob per token wins — how base models that do not follow the letter format
//              are evaluated.
import { PlastError } from '../errors';
import { McqItem } from '../data/mcq';
import { encodeSegments } from '../data/segments';
import { TemplateName, userTurn } from '../data/templates';
import { Model } from '../model/model';
import { ScoreOptions, nextTokenLogits, tokenLogProbs } from './score';

export const LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly.";

/** An item's identity and answer, with the letter scored best. */
export interface McqPrediction extends Pick<McqItem, 'file' | 'line' | 'index' | 'lang' | 'answer'> {
  predicted: string;
  correct: boolean;
  scores: Record<string, number>;
}

export interface AccuracyStats {
  items: number;
  correct: number;
  accuracy: number;
  /** Expected accuracy of a uniform guess over each item's options. */
  chance: number;
}

export interface McqResult {
  method: 'letter' | 'likelihood';
  perLang: Record<string, AccuracyStats>;
  overall: AccuracyStats;
  predictions: McqPrediction[];
}

function body(item: McqItem, withOptions: boolean): string {
  let s = item.hint ? `${item.hint}\n${item.question}` : item.question;
  if (withOptions) {
    for (const o of item.options) s += `\n${o.letter}. ${o.text}`;
    s += `\n${LETTER_INSTRUCTION}`;
  }
  return s;
}

/** Prompt + answer segments: the answer follows "ASSISTANT:" (vicuna) or "\nAnswer:" (plain). */
export function mcqSegments(template: TemplateName, item: McqItem, withOptions: boolean, answer: string): { text: string; tag: 'prompt' | 'answer' }[] {
  const b = body(item, withOptions);
  const prompt = template === 'plain' ? [{ text: `${b}\nAnswer:`, tag: 'prompt' as const }] : userTurn(template, [{ text: b, tag: 'prompt' as const }], 'prompt');
  return [...prompt, { text: ` ${answer}`, tag: 'answer' as const }];
}

function encodeWithAnswer(model: Model, template: TemplateName, item: McqItem, withOptions: boolean, answer: string): { ids: number[]; from: number } {
  const enc = encodeSegments(model.tokenizer, mcqSegments(template, item, withOptions, answer));
  const from = enc.tags.indexOf('answer');
  let end = enc.tags.lastIndexOf('answer');
  if (from < 1) throw new PlastError('ERR_DATA', `${item.file}:${item.line}: the answer "${answer}" produced no tokens`, { file: item.file, line: item.line });
  end = Math.max(end, from);
  return { ids: enc.ids.slice(0, end + 1), from };
}

/** Predictions (the best-scoring letter of each item) and accuracy per language and overall. */
function summarise(method: McqResult['method'], items: McqItem[], scoresOf: (i: number) => Record<string, number>): McqResult {
  const nOptions = new Map<McqPrediction, number>();
  const preds = items.map((item, i) => {
    const scores = scoresOf(i);
    const predicted = argmax(scores);
    const pred: McqPrediction = { file: item.file, line: item.line, ...(item.index ? { index: item.index } : {}), lang: item.lang, answer: item.answer, predicted, correct: predicted === item.answer, scores };
    nOptions.set(pred, item.options.length);
    return pred;
  });
  const acc = (ps: McqPrediction[]): AccuracyStats => {
    const correct = ps.filter((p) => p.correct).length;
    const chance = ps.reduce((a, p) => a + 1 / (nOptions.get(p) ?? 4), 0) / Math.max(1, ps.length);
    return { items: ps.length, correct, accuracy: ps.length ? correct / ps.length : NaN, chance };
  };
  const langs = [...new Set(preds.map((p) => p.lang))].sort();
  const perLang: Record<string, AccuracyStats> = {};
  for (const l of langs) perLang[l] = acc(preds.filter((p) => p.lang === l));
  return { method, perLang, overall: acc(preds), predictions: preds };
}

function argmax(scores: Record<string, number>): string {
  let best = '';
  let bv = -Infinity;
  for (const [k, v] of Object.entries(scores)) {
    if (v > bv) {
      bv = v;
      best = k;
    }
  }
  return best;
}

/** Option-letter logits after the letter prompt. */
export async function scoreLetters(model: Model, items: McqItem[], template: TemplateName, o: ScoreOptions = {}): Promise<McqResult> {
  // Each letter's first token after the prompt (usually the prefix is the same for all letters).
  const prefixes: number[][] = [];
  const key = new Map<string, number>();
  const plan = items.map((item) =>
    item.options.map((opt) => {
      const e = encodeWithAnswer(model, template, item, true, opt.letter);
      const prefix = e.ids.slice(0, e.from);
      const k = prefix.join(',');
      let at = key.get(k);
      if (at === undefined) {
        at = prefixes.length;
        prefixes.push(prefix);
        key.set(k, at);
      }
      return { letter: opt.letter, prefix: at, token: e.ids[e.from]! };
    }),
  );
  const logits = await nextTokenLogits(model, prefixes, o);
  return summarise('letter', items, (i) => {
    const scores: Record<string, number> = {};
    for (const p of plan[i]!) scores[p.letter] = logits[p.prefix]![p.token]!;
    return scores;
  });
}

/** Mean log-prob per token of each option's text as the answer to the question. */
export async function scoreLikelihood(model: Model, items: McqItem[], template: TemplateName, o: ScoreOptions = {}): Promise<McqResult> {
  const seqs: { ids: number[]; from: number }[] = [];
  const plan = items.map((item) =>
    item.options.map((opt) => {
      seqs.push(encodeWithAnswer(model, template, item, false, opt.text));
      return { letter: opt.letter, at: seqs.length - 1 };
    }),
  );
  const lps = await tokenLogProbs(model, seqs, o);
  return summarise('likelihood', items, (i) => {
    const scores: Record<string, number> = {};
    for (const p of plan[i]!) {
      const lp = lps[p.at]!;
      scores[p.letter] = lp.reduce((a, x) => a + x, 0) / lp.length;
    }
    return scores;
  });
}
