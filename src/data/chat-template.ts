// A tokenizer's own chat template (Jinja), rendered with @huggingface/jinja, the renderer
// transformers.js uses, with the variables HF's apply_chat_template passes (messages,
// add_generation_prompt, the special tokens as text; raise_exception is the renderer's). Where transformers 5 reads
// it from, in its order of precedence: chat_template.jinja, then tokenizer_config.json's
// chat_template (a string, or a list of named templates whose "default" is taken), then
// chat_template.json ({"chat_template": ...}, the processor file of LLaVA-style checkpoints).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { PlastError } from '../errors';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export class ChatTemplate {
  private readonly compiled: Template;

  private constructor(
    /** The file the template was read from. */
    readonly file: string,
    readonly source: string,
    /** bos_token, eos_token, unk_token, pad_token as text (what the template may print). */
    readonly specialTokens: Record<string, string>,
  ) {
    try {
      this.compiled = new Template(source);
    } catch (err) {
      throw new PlastError('ERR_FORMAT', `${file}: cannot parse the chat template (${(err as Error).message})`, { file, field: 'chat_template', cause: err });
    }
  }

  /** The template of a checkpoint directory, or undefined when it has none. */
  static load(dir: string, tokenizerConfig: Record<string, unknown>): ChatTemplate | undefined {
    const special: Record<string, string> = {};
    for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
      const v = tokenizerConfig[k];
      const s = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as { content?: unknown }).content : undefined;
      if (typeof s === 'string') special[k] = s;
    }
    const jinja = join(dir, 'chat_template.jinja');
    if (existsSync(jinja)) return new ChatTemplate(jinja, readFileSync(jinja, 'utf8'), special);
    const fromConfig = pickTemplate(tokenizerConfig['chat_template']);
    if (fromConfig !== undefined) return new ChatTemplate(join(dir, 'tokenizer_config.json'), fromConfig, special);
    const json = join(dir, 'chat_template.json');
    if (existsSync(json)) {
      let t: unknown;
      try {
        t = (JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>)['chat_template'];
      } catch (err) {
        throw new PlastError('ERR_FORMAT', `${json}: not valid JSON (${(err as Error).message})`, { file: json, cause: err });
      }
      const s = pickTemplate(t);
      if (s !== undefined) return new ChatTemplate(json, s, special);
    }
    return undefined;
  }

  /** HF apply_chat_template(messages, tokenize=False, add_generation_prompt=...). */
  render(messages: ChatMessage[], opts: { addGenerationPrompt: boolean }): string {
    return this.renderWith(messages, opts.addGenerationPrompt, false);
  }

  /** As render(), with each content also offered as [{type: 'text', text}] when the template
   * reads message['content'] as a list of parts (LLaVA processor templates) and so drops a plain
   * string: `probe` is a text that must appear in the output. */
  renderContaining(messages: ChatMessage[], addGenerationPrompt: boolean, probe: string): string {
    let first: unknown;
    try {
      const s = this.renderWith(messages, addGenerationPrompt, false);
      if (s.includes(probe)) return s;
    } catch (err) {
      first = err;
    }
    try {
      const s = this.renderWith(messages, addGenerationPrompt, true);
      if (s.includes(probe)) return s;
    } catch {
      // the string form's error, if it had one, says more
    }
    if (first) throw first;
    return this.renderWith(messages, addGenerationPrompt, false);
  }

  private renderWith(messages: ChatMessage[], addGenerationPrompt: boolean, parts: boolean): string {
    const msgs = parts ? messages.map((m) => ({ role: m.role, content: [{ type: 'text', text: m.content }] })) : messages;
    try {
      return this.compiled.render({
        messages: msgs,
        add_generation_prompt: addGenerationPrompt,
        ...this.specialTokens,
        // raise_exception is the renderer's own: it throws with the template's message
      });
    } catch (err) {
      const why = (err as Error).message;
      throw new PlastError('ERR_UNSUPPORTED', `${this.file}: the chat template cannot render this conversation (${why})`, { file: this.file, field: 'chat_template', cause: err });
    }
  }
}

function pickTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const d = v.find((t) => typeof t === 'object' && t !== null && (t as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    return typeof d?.template === 'string' ? d.template : undefined;
  }
  return undefined;
}
