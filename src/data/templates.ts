// Conversation formats: how a question or a translation pair becomes a prompt. One format per
// model, used alike by profile, train, eval and generate:
//   chat    the tokenizer's own chat_template (data/chat-template.ts), rendered as HF's
//           apply_chat_template renders it, and tokenized as it tokenizes it (the template's text
//           as is, no special tokens added by the tokenizer)
//   vicuna  the LLaVA-1.5 / Vicuna v1 format "{system} USER: {user} ASSISTANT:", for checkpoints
//           of that family that ship no template
//   plain   the text as is (the paper's Table 5 prompt verbatim); only when asked for
//   auto    (the default) chat when the tokenizer has a template, else vicuna for a LLaVA / Vicuna
//           checkpoint, else plain (a base model with no conversation format)
//
// Every prompt is a list of tagged segments (data/segments.ts) so that the question and the
// English target keep exact token spans (the profile's scope, the training loss). A chat template
// is rendered once with sentinels in place of the variable texts and split there; the real
// rendering must equal the pieces joined, or the format is refused for that text.
import { basename } from 'node:path';
import { PlastError } from '../errors';
import type { TextTokenizer } from '../model/tokenizer';
import { ChatMessage, ChatTemplate } from './chat-template';
import { Segment, encodeSegments } from './segments';

export type FormatName = 'plain' | 'vicuna' | 'chat';
export type TemplateChoice = 'auto' | FormatName;
export const TEMPLATES: TemplateChoice[] = ['auto', 'chat', 'vicuna', 'plain'];
/** The format when none is given: resolved per model (resolveFormat). */
export const DEFAULT_TEMPLATE: TemplateChoice = 'auto';

/** Where the translation prompt's "\nEnglish:" cue goes in a conversation: `assistant` (default):
 * the user turn ends with the source sentence and the assistant's reply is the English sentence,
 * as LLaVA's trainer lays out a question and its answer; `user`: the user turn keeps the paper's
 * "\nEnglish:" line at its end. The plain format always has the cue (it is the paper's text). */
export type EnglishCue = 'user' | 'assistant';
export const ENGLISH_CUES: EnglishCue[] = ['assistant', 'user'];
export const DEFAULT_ENGLISH_CUE: EnglishCue = 'assistant';

/** A resolved format: its name and what rendering it needs. */
export interface PromptFormat {
  name: FormatName;
  englishCue: EnglishCue;
  /** The chat template (name 'chat' only). */
  chat?: ChatTemplate;
}

/** What the prompt functions take: plain or vicuna by name, or a resolved format (any, chat
 * included). */
export type TemplateName = 'plain' | 'vicuna' | PromptFormat;

export const VICUNA_SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

export function templateName(s: string): TemplateChoice {
  if ((TEMPLATES as string[]).includes(s)) return s as TemplateChoice;
  throw new PlastError('ERR_INVALID', `Expected a template of ${TEMPLATES.join(', ')} but received "${s}"`, { field: 'template' });
}

export function englishCue(s: string): EnglishCue {
  if (s === 'user' || s === 'assistant') return s;
  throw new PlastError('ERR_INVALID', `Expected an English cue of user or assistant but received "${s}"`, { field: 'englishCue' });
}

/** What format resolution reads of a model. */
export interface FormatModel {
  dir: string;
  tokenizer: Pick<TextTokenizer, 'chatTemplate'>;
  config: { modelType: string };
}

/** LLaVA checkpoints and Vicuna ones (by directory name: their config says llama). */
export function isVicunaFamily(m: FormatModel): boolean {
  return m.config.modelType.startsWith('llava') || /vicuna/i.test(basename(m.dir));
}

/** The format `choice` means for model `m` ('auto' resolved; 'chat' needs a template). */
export function resolveFormat(choice: TemplateChoice | PromptFormat, m: FormatModel, cue?: EnglishCue): PromptFormat {
  if (typeof choice === 'object') return cue ? { ...choice, englishCue: cue } : choice;
  const englishCue = cue ?? DEFAULT_ENGLISH_CUE;
  const chat = m.tokenizer.chatTemplate;
  const name: FormatName = choice === 'auto' ? (chat ? 'chat' : isVicunaFamily(m) ? 'vicuna' : 'plain') : templateName(choice) as FormatName;
  if (name === 'chat') {
    if (!chat) {
      throw new PlastError('ERR_UNSUPPORTED', `${m.dir}: the tokenizer has no chat_template (tokenizer_config.json, chat_template.jinja or chat_template.json); use --template vicuna or plain`, {
        file: m.dir,
        field: 'template',
      });
    }
    return { name, englishCue, chat };
  }
  return { name, englishCue };
}

/** The name a format is recorded under (profile.json, train.jsonl, eval reports). */
export function formatName(t: TemplateName): FormatName {
  return typeof t === 'string' ? t : t.name;
}

/** The argument for code that takes plain and vicuna by name (eval's MCQ prompt has its own plain
 * form): the name for those two, the format itself for chat. */
export function templateArg(f: PromptFormat): TemplateName {
  return f.name === 'chat' ? f : f.name;
}

const asFormat = (t: TemplateName): PromptFormat => (typeof t === 'string' ? { name: t, englishCue: DEFAULT_ENGLISH_CUE } : t);

// Private-use sentinels: no tokenizer text or template contains them.
const SENT = ['\uE000PLAST0\uE001', '\uE000PLAST1\uE001'] as const;

/** A conversation rendered with sentinels as the contents, split at them: the pieces between. */
function splitRendering(chat: ChatTemplate, messages: ChatMessage[], gen: boolean, sentinels: number): string[] {
  const probe = SENT[0];
  const text = chat.renderContaining(messages, gen, probe);
  const pieces: string[] = [];
  let rest = text;
  for (let k = 0; k < sentinels; k++) {
    const at = rest.indexOf(SENT[k]!);
    if (at < 0 || rest.indexOf(SENT[k]!, at + 1) >= 0) {
      throw new PlastError('ERR_UNSUPPORTED', `${chat.file}: the chat template does not print each message's content exactly once; PLAST cannot mark the question's tokens in it`, {
        file: chat.file,
        field: 'chat_template',
      });
    }
    pieces.push(rest.slice(0, at));
    rest = rest.slice(at + SENT[k]!.length);
  }
  pieces.push(rest);
  return pieces;
}

/** Checks that the real conversation renders as the pieces with the texts put back. */
function checkRendering(chat: ChatTemplate, messages: ChatMessage[], gen: boolean, expected: string): void {
  const real = chat.renderContaining(messages, gen, messages.find((m) => m.content !== '')?.content ?? '');
  if (real !== expected) {
    throw new PlastError('ERR_UNSUPPORTED', `${chat.file}: the chat template changes the text of a message (e.g. trims it), so its tokens cannot be marked exactly: ${JSON.stringify(messages.map((m) => m.content.slice(0, 40)))}`, {
      file: chat.file,
      field: 'chat_template',
    });
  }
}

/** A rendered chat text is complete: it is tokenized without the tokenizer's own BOS/EOS, as
 * apply_chat_template(tokenize=True) does (the template prints BOS itself where it wants one). */
const bare = <Tag extends string>(s: Segment<Tag>): Segment<Tag> => ({ ...s, bare: true });

/** A user turn around `body` segments (e.g. the question), ending where the model would answer. */
export function userTurn<Tag extends string>(template: TemplateName, body: Segment<Tag>[], frame: Tag): Segment<Tag>[] {
  const f = asFormat(template);
  if (f.name === 'plain') return body;
  if (f.name === 'vicuna') return [{ text: `${VICUNA_SYSTEM} USER: `, tag: frame }, ...body, { text: ' ASSISTANT:', tag: frame }];
  const chat = f.chat!;
  const content = body.map((s) => s.text).join('');
  const [pre, post] = splitRendering(chat, [{ role: 'user', content: SENT[0] }], true, 1) as [string, string];
  checkRendering(chat, [{ role: 'user', content }], true, pre + content + post);
  return [bare({ text: pre, tag: frame }), ...body.map(bare), bare({ text: post, tag: frame })];
}

/** The PLAST training prompt (paper Table 5: "Translate this from {Lang} to English:\n{Lang}:
 * {source}\nEnglish: {target}") in a format: loss only on the `target` segment. The format's
 * end of turn after the target is not a segment: the caller closes the target with EOS. */
export function translationPrompt(
  template: TemplateName,
  langName: string,
  source: string,
  target: string,
): Segment<'frame' | 'source' | 'target'>[] {
  const f = asFormat(template);
  const ask = `Translate this from ${langName} to English:\n${langName}: `;
  const cue = f.englishCue === 'user' ? '\nEnglish:' : '';
  if (f.name === 'plain') {
    return [
      { text: ask, tag: 'frame' },
      { text: source, tag: 'source' },
      { text: '\nEnglish:', tag: 'frame' },
      { text: ` ${target}`, tag: 'target' },
    ];
  }
  if (f.name === 'vicuna') {
    return [
      { text: `${VICUNA_SYSTEM} USER: ${ask}`, tag: 'frame' },
      { text: source, tag: 'source' },
      { text: `${cue} ASSISTANT:`, tag: 'frame' },
      { text: ` ${target}`, tag: 'target' },
    ];
  }
  const chat = f.chat!;
  const conv = (s: string, t: string): ChatMessage[] => [
    { role: 'user', content: `${ask}${s}${cue}` },
    { role: 'assistant', content: t },
  ];
  const [pre, mid, post] = splitRendering(chat, conv(SENT[0], SENT[1]), false, 2) as [string, string, string];
  checkRendering(chat, conv(source, target), false, pre + source + mid + target + post);
  return [bare({ text: pre, tag: 'frame' }), bare({ text: source, tag: 'source' }), bare({ text: mid, tag: 'frame' }), bare({ text: target, tag: 'target' })];
}

/** The ids of `text` as a user turn that ends where the model answers, in `format` (what a
 * generation prompt is: plast generate's --prompt in the model's own format). */
export function userPromptIds(tok: TextTokenizer, format: TemplateName, text: string): number[] {
  return encodeSegments(tok, userTurn(format, [{ text, tag: 'user' as const }], 'frame')).ids;
}
