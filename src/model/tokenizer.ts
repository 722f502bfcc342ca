// tokenizer.json through @huggingface/tokenizers, which reproduces HF's ids (BOS added by the
// post-processor exactly where HF adds it). EOS is appended by id where a format needs it.
// add_bos_token / add_eos_token in tokenizer_config.json are not applied: transformers 5.18 drops
// both when tokenizer.json exists (tokenization_utils_base.py), so its post-processor alone decides
// (transformers 4's LlamaTokenizerFast rebuilt the post-processor from them instead); the
// tokenizers library ignores them too (test/unit/chat-template.test.ts, the mistral fixture).
import { existsSync } from 'node:fs';
import { readInputText } from '../util/input';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { PlastError } from '../errors';
import { ChatTemplate } from '../data/chat-template';

export class TextTokenizer {
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly vocabSize: number;
  /** The checkpoint's own conversation format, when it has one (data/chat-template.ts). */
  readonly chatTemplate: ChatTemplate | undefined;

  private constructor(private readonly tok: Tokenizer, bos: number | undefined, eos: number | undefined, vocab: number, chat: ChatTemplate | undefined) {
    this.bosId = bos;
    this.eosId = eos;
    this.vocabSize = vocab;
    this.chatTemplate = chat;
  }

  static load(dir: string): TextTokenizer {
    const tjPath = join(dir, 'tokenizer.json');
    if (!existsSync(tjPath)) {
      throw new PlastError('ERR_FORMAT', `${dir}: tokenizer.json is missing (only fast-tokenizer checkpoints are supported)`, { file: tjPath });
    }
    let tj = parseJson(tjPath);
    const tcPath = join(dir, 'tokenizer_config.json');
    const tc = existsSync(tcPath) ? parseJson(tcPath) : {};
    tj = asTransformers5(tj as Record<string, unknown>, tc as Record<string, unknown>);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, tc);
    } catch (err) {
      throw new PlastError('ERR_FORMAT', `${tjPath}: cannot build the tokenizer (${(err as Error).message})`, { file: tjPath, cause: err });
    }
    const special = (key: string): number | undefined => {
      const v = (tc as Record<string, unknown>)[key];
      const s = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as { content?: string }).content : undefined;
      return s !== undefined ? tok.token_to_id(s) : undefined;
    };
    const bos = special('bos_token') ?? tok.token_to_id('<s>');
    const eos = special('eos_token') ?? tok.token_to_id('</s>');
    const added = new Set(((tj as { added_tokens?: { content?: unknown }[] }).added_tokens ?? []).map((t) => t?.content));
    const own = [...tok.get_vocab(true).keys()].filter((t) => !added.has(t)).length;
    if (own === 0) {
      // An empty vocab encodes every text as unknowns (or nothing): a profile of such ids shows
      // every language overlapping fully, which reads like a result.
      throw new PlastError('ERR_FORMAT', `${tjPath}: the tokenizer has an empty vocabulary (model.vocab holds no tokens beyond the added special tokens)`, {
        file: tjPath,
        field: 'model.vocab',
      });
    }
    return new TextTokenizer(tok, bos, eos, tok.get_vocab(true).size, ChatTemplate.load(dir, tc as Record<string, unknown>));
  }

  /** HF `tokenizer(text).input_ids` (special tokens as the tokenizer's post-processor adds them). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const add = opts.addSpecialTokens ?? true;
    if (this.placeholder && text.includes(this.placeholder.text)) {
      // The original LLaVA's tokenizer_image_token: each piece on its own, special tokens (BOS)
      // on the first only, the placeholder id between pieces.
      const ids: number[] = [];
      text.split(this.placeholder.text).forEach((piece, i) => {
        if (i > 0) ids.push(this.placeholder!.id);
        ids.push(...this.tok.encode(piece, { add_special_tokens: add && i === 0 }).ids);
      });
      return ids;
    }
    return this.tok.encode(text, { add_special_tokens: add }).ids;
  }

  private placeholder: { text: string; id: number } | undefined;

  /**
   * Makes `text` (the original LLaVA's "<image>", which its tokenizer does not hold) encode as the
   * id `id` (-200) wherever it appears, as LLaVA's tokenizer_image_token does. A tokenizer that has
   * `text` as a token keeps its own.
   */
  usePlaceholder(text: string, id: number): void {
    if (this.tok.token_to_id(text) !== undefined) return;
    this.placeholder = { text, id };
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (this.placeholder) ids = ids.filter((i) => i !== this.placeholder!.id);
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokens(ids: number[]): string[] {
    return ids.map((i) => this.tok.id_to_token(i) ?? `<${i}>`);
  }
}

function parseJson(path: string): object {
  const text = readInputText(path, 'tokenizer file');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${path}: not valid JSON (${(err as Error).message})`, { file: path, cause: err });
  }
  // The readers below index into it: null or a list is refused here, not as a TypeError there.
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PlastError('ERR_FORMAT', `${path}: expected a JSON object`, { file: path });
  return v;
}

/**
 * tokenizer.json as transformers 5.18 uses it. Its LlamaTokenizer (LlamaTokenizerFast is an alias)
 * keeps the vocabulary, merges, added tokens and post-processor but replaces the normalizer and
 * pre-tokenizer with a Metaspace pre-tokenizer, prepend_scheme "first" (legacy: false, its
 * default), "always" (legacy: true) or "never" (add_prefix_space: false), and the decoder to
 * match. It differs from a Prepend normalizer after a special token written in the text: "<s>[INST]"
 * gets no "▁" before "[" (a chat template that prints BOS, as Mistral's does). Other classes use
 * tokenizer.json as it is.
 */
export function asTransformers5(tj: Record<string, unknown>, tc: Record<string, unknown>): Record<string, unknown> {
  const cls = tc['tokenizer_class'];
  const model = tj['model'] as { type?: string } | undefined;
  if ((cls !== 'LlamaTokenizer' && cls !== 'LlamaTokenizerFast') || model?.type !== 'BPE') return tj;
  const addPrefix = tc['add_prefix_space'] !== false;
  const scheme = !addPrefix ? 'never' : tc['legacy'] === true ? 'always' : 'first';
  return {
    ...tj,
    model: { ...model, fuse_unk: true, byte_fallback: true },
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split: false },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
  };
}
