// What a sweep records per variant (result.json) and how an evaluation becomes its scores: under
// the vlmeval protocol VLMEvalKit's accuracy (circular when every file is circular, as it reports
// MMBench; else per row), under logits the letter accuracy of a multiple-choice file (else the
// likelihood accuracy), or the English-target NLL per token of translation pairs; the average is
// the macro mean over the languages.
import { PlastError } from '../errors';
import { EvalKind, EvalReport, McqMode } from '../eval/evaluate';
import { Prompting } from '../eval/vlmeval';
import { ModuleSet } from '../model/model';
import { VariantKind } from './variants';

export interface EvalSettings {
  data: string[];
  kind?: EvalKind;
  mode?: McqMode;
  langs?: string[];
  limit?: number;
  /** Set only under vlmeval, with its generation settings resolved: a sweep.json without them
   * (logits, or written before vlmeval) stays resumable by a command that gives none. */
  protocol?: 'vlmeval';
  prompting?: Prompting;
  maxNewTokens?: number;
}

export type Metric = 'letter accuracy' | 'likelihood accuracy' | 'NLL' | 'vlmeval accuracy' | 'vlmeval circular accuracy';

export interface VariantResult {
  name: string;
  kind: VariantKind;
  layers: number[];
  modules: ModuleSet;
  seed?: number;
  trainableParams: number;
  totalParams: number;
  trainablePercent: number;
  metric: Metric;
  /** Per language: accuracy in [0, 1] or NLL per target token. */
  scores: Record<string, number>;
  average: number;
  firstLoss: number | null;
  finalLoss: number | null;
  steps: number;
  trainSeconds: number;
  evalSeconds: number;
  /** Wall time of the call that finished the variant (training + evaluation). */
  seconds: number;
  /** The backend's peak bytes allocated while training and evaluating (on the CPU the mapped weights are not counted). */
  peakBytes: number;
  backend: string;
}

export function scoresOf(r: EvalReport): { metric: Metric; scores: Record<string, number>; average: number } {
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  if (r.nll) {
    const scores = Object.fromEntries(Object.entries(r.nll.perLang).map(([l, s]) => [l, s.nll]));
    return { metric: 'NLL', scores, average: r.nll.macro };
  }
  if (r.protocol === 'vlmeval') {
    const v = r.vlmeval;
    if (!v) throw new PlastError('ERR_DATA', `the vlmeval evaluation of ${r.model} on ${r.data.join(', ')} scored nothing (${r.items} items)`, { field: 'evalData' });
    // MMBench is reported by its circular score; a mix with vanilla files by the per-row score,
    // which covers every file.
    const circular = v.circular && v.datasets.every((d) => d.circular) ? v.circular : undefined;
    const res = circular ?? v.vanilla;
    const scores = Object.fromEntries(Object.entries(res.perLang).map(([l, s]) => [l, s.accuracy]));
    return { metric: circular ? 'vlmeval circular accuracy' : 'vlmeval accuracy', scores, average: mean(Object.values(scores)) };
  }
  const m = r.letter ? { metric: 'letter accuracy' as const, res: r.letter } : r.likelihood ? { metric: 'likelihood accuracy' as const, res: r.likelihood } : undefined;
  if (!m) throw new PlastError('ERR_DATA', `the evaluation of ${r.model} on ${r.data.join(', ')} scored nothing (${r.items} items)`, { field: 'evalData' });
  const scores = Object.fromEntries(Object.entries(m.res.perLang).map(([l, s]) => [l, s.accuracy]));
  return { metric: m.metric, scores, average: mean(Object.values(scores)) };
}
