// What the vlmeval protocol needs from a model: greedy text from prompt segments, with the row's
// image where the segments say. The text-only generator here is the language model through
// generateGreedy; a vision-language model plugs in by implementing Generator with vision = true:
// it receives the image segments ({ image: k } = the k-th source of `image`, where LLaVA puts its
// <image> token), tokenizes each text segment on its own as LLaVA's tokenizer_image_token does
// (BOS on the first piece only), puts the projected image features in place of each image
// segment, and decodes greedily.
import { PlastError } from '../../errors';
import { generateGreedy } from '../../model/generate';
import { Model } from '../../model/model';
import { ImageRef } from './data';
import { PromptSegment, promptString } from './prompt';

export interface Generator {
  /** Whether image segments can be given; rows with an image are otherwise skipped or text-only. */
  readonly vision: boolean;
  /** Greedy decoding up to maxNewTokens (or EOS), the text decoded without special tokens and
   * stripped, as LLaVA's generate_inner returns it. */
  generate(segments: PromptSegment[], image: ImageRef | undefined, maxNewTokens: number): Promise<string>;
  /** Prompt length in tokens, image tokens excluded (to refuse rows that cannot fit). */
  promptTokens(segments: PromptSegment[]): number;
}

/** The language model alone: text segments only. */
export function textGenerator(model: Model): Generator {
  const tok = model.tokenizer;
  const stopIds = [...new Set([...(tok.eosId !== undefined ? [tok.eosId] : []), ...model.config.eosTokenIds])];
  const textOf = (segments: PromptSegment[]): string => {
    if (segments.some((s) => 'image' in s)) {
      throw new PlastError('ERR_UNSUPPORTED', `the model ${model.dir} has no vision path here; image segments need a vision generator`, { field: 'image' });
    }
    return promptString(segments);
  };
  return {
    vision: false,
    promptTokens: (segments) => tok.encode(textOf(segments)).length,
    async generate(segments, image, maxNewTokens) {
      if (image) throw new PlastError('ERR_UNSUPPORTED', `the model ${model.dir} has no vision path here; rows with an image are skipped or scored on their text (--text-only)`, { field: 'image' });
      const ids = await generateGreedy(model, tok.encode(textOf(segments)), { maxNewTokens, stopIds });
      return tok.decode(ids, { skipSpecialTokens: true }).trim();
    },
  };
}
