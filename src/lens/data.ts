// The prompts of `plast lens` and the two next tokens each is scored on. Two inputs:
//
//   parallel  the profile's parallel JSONL (wide or long layout, data/parallel.ts). For every
//             question and every language X of --langs but English, a translation prompt
//               to-en   (default)  "<X name>: <X text>\nEnglish:"
//               from-en            "English: <English text>\n<X name>:"
//             The English next token is the first token of " <English text>", the source-language
//             next token the first token of " <X text>": in to-en the English token is the answer
//             and the X token what a model that stays in its input language would say; in from-en
//             (the paper's Fig. 1 direction: the answer is in X) the X token is the answer and the
//             English one what a model "thinking in English" shows in its middle layers.
//   prompts   JSONL rows {"lang": "zh", "prompt": "...", "en": "...", "src": "...", "id"?}: your
//             own prompts; `en` and `src` are continuations whose first tokens are the two next
//             tokens. Chosen when the first row has a "prompt" key.
//
// "First token of a continuation": the token after the prompt's tokens when prompt + continuation
// is tokenized whole (as the model would read its own answer), or, where the tokenizer merges
// across the boundary, the first token of the continuation alone.
import { PlastError } from '../errors';
import { readJsonl } from '../data/jsonl';
import { language } from '../data/languages';
import { loadParallel } from '../data/parallel';
import { TextTokenizer } from '../model/tokenizer';

export type LensTask = 'to-en' | 'from-en';
export const LENS_TASKS: LensTask[] = ['to-en', 'from-en'];

export interface LensItem {
  id: string;
  lang: string;
  line: number;
  prompt: string;
  /** Continuations whose first tokens are the English and the source-language next tokens. */
  en: string;
  src: string;
}

export interface LensInput {
  file: string;
  kind: 'parallel' | 'prompts';
  task: LensTask | null;
  items: LensItem[];
}

export interface LensDataOptions {
  /** Languages: parallel input, the columns read (English is added); prompts, a filter. */
  langs?: string[];
  task?: LensTask;
  /** The first N questions (parallel) or prompts. */
  limit?: number;
}

export function lensPrompt(task: LensTask, lang: string, text: string, en: string): string {
  const name = language(lang).name;
  return task === 'to-en' ? `${name}: ${text}\nEnglish:` : `English: ${en}\n${name}:`;
}

export function loadLensData(file: string, o: LensDataOptions = {}): LensInput {
  const jl = readJsonl(file);
  const first = jl.rows[0]?.value;
  if (!first) throw new PlastError('ERR_DATA', `${file}: no rows`, { file });
  if ('prompt' in first) return { file, kind: 'prompts', task: null, items: readPrompts(file, jl.rows, o) };
  const task = o.task ?? 'to-en';
  const langs = (o.langs ?? []).map((l) => language(l, '--langs').code);
  const others = langs.filter((l) => l !== 'en');
  if (others.length === 0) throw new PlastError('ERR_LANG', 'Expected at least one language besides English (--langs)', { field: 'langs' });
  const d = loadParallel(file, ['en', ...others], o.limit !== undefined ? { limit: o.limit } : {});
  const items: LensItem[] = [];
  for (const lang of others) {
    for (const q of d.questions) {
      const en = q.texts['en']!;
      const text = q.texts[lang]!;
      items.push({ id: q.id, lang, line: q.line, prompt: lensPrompt(task, lang, text, en), en: ` ${en}`, src: ` ${text}` });
    }
  }
  return { file, kind: 'parallel', task, items };
}

function readPrompts(file: string, rows: { line: number; value: Record<string, unknown> }[], o: LensDataOptions): LensItem[] {
  const want = o.langs && o.langs.length > 0 ? new Set(o.langs.map((l) => language(l, '--langs').code)) : undefined;
  const items: LensItem[] = [];
  for (const { line, value: v } of rows) {
    const str = (k: string): string => {
      const x = v[k];
      if (typeof x !== 'string' || x === '') throw new PlastError('ERR_DATA', `${file}:${line}: expected "${k}" to be a non-empty string but found ${JSON.stringify(x)}`, { file, line, field: k });
      return x;
    };
    const lang = language(str('lang'), `${file}:${line}`).code;
    if (want && !want.has(lang)) continue;
    const id = typeof v['id'] === 'string' || typeof v['id'] === 'number' ? String(v['id']) : `line-${line}`;
    items.push({ id, lang, line, prompt: str('prompt'), en: str('en'), src: str('src') });
    if (o.limit !== undefined && items.length >= o.limit) break;
  }
  if (items.length === 0) throw new PlastError('ERR_DATA', `${file}: no prompts${want ? ` in ${[...want].join(',')}` : ''}`, { file });
  return items;
}

/** The id of the first token of `continuation` after `promptIds` (see the header). */
export function nextToken(tok: TextTokenizer, prompt: string, promptIds: number[], continuation: string): number {
  const whole = tok.encode(prompt + continuation);
  if (whole.length > promptIds.length && promptIds.every((id, i) => whole[i] === id)) return whole[promptIds.length]!;
  const alone = tok.encode(continuation, { addSpecialTokens: false });
  if (alone.length === 0) throw new PlastError('ERR_DATA', `the continuation ${JSON.stringify(continuation)} has no tokens`, { field: 'continuation' });
  return alone[0]!;
}
