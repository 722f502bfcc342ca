// tokenizer.json through @huggingface/tokenizers, which reproduces HF's ids (BOS added by the
// post-processor exactly where HF adds it). EOS is appended by id where a format needs it.
import { existsSync } from 'node:fs';
import { readInputText } from '../util/input';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { PlastError } from '../errors';

export class TextTokenizer {
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly vocabSize: number;

  private constructor(private readonly tok: Tokenizer, bos: number | undefined, eos: number | undefined, vocab: number) {
    this.bosId = bos;
    this.eosId = eos;
    this.vocabSize = vocab;
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
    return new TextTokenizer(tok, bos, eos, tok.get_vocab(true).size);
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
  const text = readInputText(path, 'tokenizer file');
  try {
    return JSON.parse(text) as object;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${path}: not valid JSON (${(err as Error).message})`, { file: path, cause: err });
  }
}
