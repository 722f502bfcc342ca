// tokenizer.json through @huggingface/tokenizers, which reproduces HF's ids (BOS added by the
// post-processor exactly where HF adds it). EOS is appended by id where a format needs it.
import { existsSync, readFileSync } from 'node:fs';
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
    return new TextTokenizer(tok, bos, eos, tok.get_vocab(true).size);
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
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${path}: not valid JSON (${(err as Error).message})`, { file: path, cause: err });
  }
}
