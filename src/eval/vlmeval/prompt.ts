// The prompts of the vlmeval protocol.
//
// The question text is VLMEvalKit's LLaVA.build_prompt (open-compass/VLMEvalKit,
// vlmeval/vlm/llava/llava.py; LLaVA uses its own prompt for every MCQ dataset, use_custom_prompt):
//   question = hint + '\n' + question   (when the hint is not NaN)
//   question += f'\n{key}. {item}'      for each option A, B, ... that is not NaN
//   prompt += '\n请直接回答选项字母。' if cn_string(prompt) else
//             "\nAnswer with the option's letter from the given choices directly."
// with cn_string = any character in U+4E00..U+9FFF anywhere in the prompt (vlmeval/smp/misc.py),
// so a Chinese hint, question or option selects the Chinese instruction whatever the language.
//
// The conversation is LLaVA.generate_inner / concat_tilist: each image becomes ' <image> ' before
// the text, and prompt = system_prompt + 'USER: ' + content + ' ASSISTANT: ' (the trailing space
// included), tokenized by tokenizer_image_token, i.e. each text piece between <image>s on its own.
//
// The paper's prompting baselines (PLAST, Table 6, "MMBench & MMMB"), for non-English rows (its
// English column is the baseline's):
//   ITP Prompt: "Translate this question from [{source_lang}] to English and then answer with the
//               option's letter from the given choices directly."
//   ETP Prompt: "Stage 1: Translate this question from [{source_lang}] to English.
//                Stage 2: {Translation result}\nAnswer with the option's letter from the given
//                choices directly."
// The brackets mark the placeholder, as in the paper's training prompt (Table 5), which
// templates.ts writes without them; the instruction takes the place of LLaVA's.
import { language } from '../../data/languages';
import { TemplateName, VICUNA_SYSTEM } from '../../data/templates';
import { ImageRef, VlmItem } from './data';

export const LETTER_INSTRUCTION_EN = "Answer with the option's letter from the given choices directly.";
export const LETTER_INSTRUCTION_CN = '请直接回答选项字母。';

export type Prompting = 'none' | 'itp' | 'etp';
export const PROMPTINGS: Prompting[] = ['none', 'itp', 'etp'];

/** A piece of a prompt: text, or the place of image `image` of the row (LLaVA's <image>). */
export type PromptSegment = { text: string } | { image: number };

/** vlmeval/smp/misc.py cn_string. */
export function cnString(s: string): boolean {
  return /[\u4e00-\u9fff]/.test(s);
}

/** Hint, question and the "A. ..." lines, as LLaVA.build_prompt joins them. */
export function questionBody(item: Pick<VlmItem, 'hint' | 'question' | 'options'>): string {
  let q = item.hint !== undefined ? `${item.hint}\n${item.question}` : item.question;
  for (const o of item.options) q += `\n${o.letter}. ${o.text}`;
  return q;
}

/** LLaVA.build_prompt's text: the body and the letter instruction (Chinese where cn_string). */
export function llavaPrompt(item: Pick<VlmItem, 'hint' | 'question' | 'options'>): string {
  const body = questionBody(item);
  return `${body}\n${cnString(body) ? LETTER_INSTRUCTION_CN : LETTER_INSTRUCTION_EN}`;
}

export function itpInstruction(lang: string): string {
  return `Translate this question from ${language(lang).name} to English and then answer with the option's letter from the given choices directly.`;
}

export function etpStage1Instruction(lang: string): string {
  return `Translate this question from ${language(lang).name} to English.`;
}

/** The user text of each stage for a row: one stage, or two for ETP (the second from the first's output). */
export function userPrompt(item: VlmItem, prompting: Prompting): { stage1?: string; answer: (translation?: string) => string } {
  if (prompting === 'none' || item.lang === 'en') return { answer: () => llavaPrompt(item) };
  if (prompting === 'itp') return { answer: () => `${questionBody(item)}\n${itpInstruction(item.lang)}` };
  return { stage1: `${questionBody(item)}\n${etpStage1Instruction(item.lang)}`, answer: (t = '') => `${t}\n${LETTER_INSTRUCTION_EN}` };
}

/**
 * The conversation around a user text. vicuna: LLaVA's (system prompt, USER:, ' <image> ' per
 * image, ASSISTANT: ); plain: the text and "\nAnswer:" as the logits protocol's plain template, for
 * base models. Image segments only for `image` (left out when the row is scored on its text).
 */
export function conversation(template: TemplateName, text: string, image?: ImageRef): PromptSegment[] {
  const n = image?.sources.length ?? 0;
  if (template === 'plain') {
    const segs: PromptSegment[] = [];
    for (let k = 0; k < n; k++) segs.push({ image: k }, { text: '\n' });
    return [...segs, { text: `${text}\nAnswer:` }];
  }
  // system_prompt ends with a space: "...human's questions. USER: "
  let pending = `${VICUNA_SYSTEM} USER: `;
  const segs: PromptSegment[] = [];
  for (let k = 0; k < n; k++) {
    segs.push({ text: `${pending} ` }, { image: k });
    pending = ' ';
  }
  segs.push({ text: `${pending}${text} ASSISTANT: ` });
  return segs;
}

/** The prompt as one string, each image as LLaVA's '<image>' (what VLMEvalKit tokenizes). */
export function promptString(segs: PromptSegment[]): string {
  return segs.map((s) => ('text' in s ? s.text : '<image>')).join('');
}
