// Scoring as VLMEvalKit does under its exact_matching judge (open-compass/VLMEvalKit,
// vlmeval/dataset/utils/multiple_choice.py):
//  vanilla (mcq_vanilla_eval / eval_vanilla): a row is a hit when can_infer gives its answer;
//  circular (mcq_circular_eval / prefetch_circular_group): the question (index < 1e6) and its
//    rotations (index % 1e6 == question) form a group; the question is a hit only when every row of
//    the group is matched and right — one wrong or unmatched rotation makes it a miss (with no
//    judge model the unmatched groups are hits 0, "Failed in Prefetch").
// Accuracy per language, category and l2-category as report_acc groups them, over the questions.
import { VlmItem } from './data';

/** One generated answer: the raw text, and the letter can_infer found (undefined: unmatched). */
export interface VlmPrediction {
  file: string;
  line: number;
  index: string;
  group: string;
  lang: string;
  category?: string;
  answer: string;
  /** ETP: the stage-1 output (the translation). */
  translation?: string;
  prediction: string;
  extracted?: string;
  hit: boolean;
  /** Scored on its text although it has an image (--text-only). */
  textOnly?: boolean;
}

export interface VlmStats {
  items: number;
  correct: number;
  accuracy: number;
  /** Rows whose answer matched no letter or option text (counted as misses). */
  unmatched: number;
}

export interface VlmScores {
  overall: VlmStats;
  perLang: Record<string, VlmStats>;
  perCategory: Record<string, VlmStats>;
  perL2Category: Record<string, VlmStats>;
}

export interface CircularScores extends VlmScores {
  /** Groups with at least one unmatched row and no wrong one (misses under exact matching). */
  incomplete: number;
  /** Groups that are only the question (no rotation in the file). */
  singleRow: number;
}

function stats(rows: { hit: boolean; unmatched: boolean }[]): VlmStats {
  const correct = rows.filter((r) => r.hit).length;
  return { items: rows.length, correct, accuracy: rows.length ? correct / rows.length : NaN, unmatched: rows.filter((r) => r.unmatched).length };
}

function grouped<T extends { hit: boolean; unmatched: boolean }>(rows: T[], key: (r: T) => string | undefined): Record<string, VlmStats> {
  const by = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    if (k === undefined) continue;
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  const out: Record<string, VlmStats> = {};
  for (const k of [...by.keys()].sort()) out[k] = stats(by.get(k)!);
  return out;
}

function scores<T extends { hit: boolean; unmatched: boolean; lang: string; category?: string | undefined; l2category?: string | undefined }>(rows: T[]): VlmScores {
  return {
    overall: stats(rows),
    perLang: grouped(rows, (r) => r.lang),
    perCategory: grouped(rows, (r) => r.category),
    perL2Category: grouped(rows, (r) => r.l2category),
  };
}

/** Every row on its own (eval_vanilla). */
export function vanillaScores(items: VlmItem[], preds: VlmPrediction[]): VlmScores {
  return scores(items.map((it, i) => ({ ...it, hit: preds[i]!.hit, unmatched: preds[i]!.extracted === undefined })));
}

/** One result per question with its rotations (mcq_circular_eval); rows are items[i] / preds[i]. */
export function circularScores(items: VlmItem[], preds: VlmPrediction[]): CircularScores {
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => groups.set(`${it.file}\u0000${it.group}`, [...(groups.get(`${it.file}\u0000${it.group}`) ?? []), i]));
  const rows: { hit: boolean; unmatched: boolean; lang: string; category?: string; l2category?: string }[] = [];
  let incomplete = 0;
  let singleRow = 0;
  for (const members of groups.values()) {
    const main = members.map((i) => items[i]!).find((it) => !it.rotation);
    if (!main) continue; // rotations without their question: not scored (data_main only)
    const wrong = members.some((i) => preds[i]!.extracted !== undefined && preds[i]!.extracted !== items[i]!.answer);
    const unmatched = members.some((i) => preds[i]!.extracted === undefined);
    if (!wrong && unmatched) incomplete++;
    if (members.length === 1) singleRow++;
    rows.push({ hit: !wrong && !unmatched, unmatched: !wrong && unmatched, lang: main.lang, ...(main.category !== undefined ? { category: main.category } : {}), ...(main.l2category !== undefined ? { l2category: main.l2category } : {}) });
  }
  return { ...scores(rows), incomplete, singleRow };
}
