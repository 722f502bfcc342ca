// tokenizer.json through @huggingface/tokenizers, which reproduces HF's ids (BOS added by the
// post-processor exactly where HF adds it). EOS is appended by id where a format needs it.
// add_bos_token / add_eos_token in tokenizer_config.json are not applied: transformers 5.18 drops
// both when tokenizer.json exists (tokenization_utils_base.py), so its post-processor alone decides
// (transformers 4's LlamaTokenizerFast rebuilt the post-processor from them instead); the
// tokenizers library ignores them too (test/unit/chat-template.test.ts, the mistral fixture).
import { existsSync, readFileSync } from 'node:fs';
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
    const tj = parseJson(tjPath);
    const tcPath = join(dir, 'tokenizer_config.json');
    const tc = existsSync(tcPath) ? parseJson(tcPath) : {};
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
    return new TextTokenizer(tok, bos, eos, tok.get_vocab(true).size, ChatTemplate.load(dir, tc as Record<string, unknown>));
  }

  /** HF `tokenizer(text).input_ids` (special tokens as the tokenizer's post-processor adds them). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.tok.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokens(ids: number[]): string[] {
    return ids.map((i) => this.tok.id_to_token(i) ?? `<${i}>`);
  }
}

function parseJson(path: string): object {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${path}: not valid JSON (${(err as Error).message})`, { file: path, cause: err });
  }
}
