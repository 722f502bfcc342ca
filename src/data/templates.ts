// Prompt templates. `plain` is the text as is; `vicuna` is the LLaVA-1.5 / Vicuna v1 chat format
// "{system} USER: {user} ASSISTANT:" that LLaVA models were instruction-tuned with.
import { PlastError } from '../errors';
import { Segment } from './segments';

export type TemplateName = 'plain' | 'vicuna';
export const TEMPLATES: TemplateName[] = ['plain', 'vicuna'];
/** The prompt wrapper when none is given (run's training and evaluation use vicuna instead). */
export const DEFAULT_TEMPLATE: TemplateName = 'plain';

export const VICUNA_SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

export function templateName(s: string): TemplateName {
  if (s === 'plain' || s === 'vicuna') return s;
  throw new PlastError('ERR_INVALID', `Expected a template of plain or vicuna but received "${s}"`, { field: 'template' });
}

/** A user turn around `body` segments (e.g. the question), ending where the model would answer. */
export function userTurn<Tag extends string>(template: TemplateName, body: Segment<Tag>[], frame: Tag): Segment<Tag>[] {
  if (template === 'plain') return body;
  return [{ text: `${VICUNA_SYSTEM} USER: `, tag: frame }, ...body, { text: ' ASSISTANT:', tag: frame }];
}

/** The PLAST training prompt (DESIGN.md, paper Table 5): loss only on the `target` segment. */
export function translationPrompt(
  template: TemplateName,
  langName: string,
  source: string,
  target: string,
): Segment<'frame' | 'source' | 'target'>[] {
  if (template === 'plain') {
    return [
      { text: `Translate this from ${langName} to English:\n${langName}: `, tag: 'frame' },
      { text: source, tag: 'source' },
      { text: '\nEnglish:', tag: 'frame' },
      { text: ` ${target}`, tag: 'target' },
    ];
  }
  return [
    { text: `${VICUNA_SYSTEM} USER: Translate this from ${langName} to English:\n${langName}: `, tag: 'frame' },
    { text: source, tag: 'source' },
    { text: ' ASSISTANT:', tag: 'frame' },
    { text: ` ${target}`, tag: 'target' },
  ];
}
