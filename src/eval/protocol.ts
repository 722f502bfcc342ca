// How `plast eval` and `plast sweep` decide what an evaluation is, in one place so that a sweep's
// score is the score `plast eval` gives: the MCQ protocol (vlmeval for VLMEvalKit's TSV files
// unless asked otherwise; the library keeps logits as its default), whether the model loads with
// its vision tower (a LLaVA checkpoint answers image rows with it, and trains on image pairs with
// it), and the template the vlmeval protocol is given.
import { PlastError } from '../errors';
import { jsonlHasImages } from '../data/images';
import { TemplateChoice } from '../data/templates';
import { hasVisionTower } from '../model/vision';
import { EvalKind, McqMode, McqProtocol } from './evaluate';
import { Prompting } from './vlmeval';

export interface EvalPlanInput {
  /** The checkpoint evaluated (or trained, then evaluated). */
  model: string;
  /** The evaluation files. */
  data: string[];
  kind?: EvalKind | 'auto';
  /** As asked (undefined: the default rule). */
  protocol?: McqProtocol;
  /** The logits scoring mode, only when asked for: vlmeval generates the answer instead. */
  mode?: McqMode;
  /** vlmeval-only settings, only when asked for. */
  prompting?: Prompting;
  maxNewTokens?: number;
  textOnly?: boolean;
  /** Training data that runs on the same load (a sweep): its images need the tower too. */
  trainData?: string[];
  /** The flags as the command names them in errors. */
  flags?: { mode?: string; prompting?: string; maxNewTokens?: string };
}

export interface EvalPlan {
  protocol: McqProtocol;
  /** Load the checkpoint with { vision: true }. */
  vision: boolean;
}

const isTsv = (f: string): boolean => /\.tsv$/i.test(f);

/** The protocol and the vision load; refuses options that the protocol would not use. */
export function evalPlan(o: EvalPlanInput): EvalPlan {
  const protocol: McqProtocol = o.protocol ?? (o.kind !== 'pairs' && o.data.length > 0 && o.data.every(isTsv) ? 'vlmeval' : 'logits');
  const flag = { mode: '--mode', prompting: '--prompting', maxNewTokens: '--max-new-tokens', ...o.flags };
  if (protocol === 'vlmeval' && o.mode !== undefined) throw new PlastError('ERR_INVALID', `${flag.mode} applies to --protocol logits; vlmeval generates the answer`, { field: 'mode' });
  if (protocol !== 'vlmeval') {
    // Checked before any model loads (a sweep would otherwise train a variant first).
    if (o.prompting !== undefined && o.prompting !== 'none') throw new PlastError('ERR_INVALID', `${flag.prompting} applies to --protocol vlmeval, not ${protocol}`, { field: 'prompting' });
    if (o.maxNewTokens !== undefined) throw new PlastError('ERR_INVALID', `${flag.maxNewTokens} applies to --protocol vlmeval, not ${protocol}`, { field: 'maxNewTokens' });
  }
  const jsonl = o.data.filter((f) => /\.jsonl$/i.test(f));
  const evalImages = !o.textOnly && (protocol === 'vlmeval' || (jsonl.length > 0 && jsonlHasImages(jsonl)));
  const trainImages = o.trainData !== undefined && o.trainData.length > 0 && jsonlHasImages(o.trainData);
  return { protocol, vision: (evalImages || trainImages) && hasVisionTower(o.model) };
}

/** The template given to evaluate(): under vlmeval only the one asked for (plain: the bare
 * prompt; otherwise evaluate() uses LLaVA's vicuna prompt, as VLMEvalKit does), else what
 * `fallback` makes of it (called only then: a sweep resolves it against the base checkpoint). */
export function evalTemplate<T>(protocol: McqProtocol, asked: TemplateChoice | undefined, fallback: () => T): TemplateChoice | T | undefined {
  return protocol === 'vlmeval' ? asked : fallback();
}
