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

/**
 * A LLaVA checkpoint loaded with its vision tower: LLaVA's tokenizer_image_token (each text piece
 * tokenized on its own, BOS on the first only; each image segment the <image> token expanded to
 * one placeholder per feature), the row's images preprocessed by the checkpoint's processor config
 * and spliced in, greedy decoding.
 */
export function visionGenerator(model: Model): Generator {
  if (!model.vision) throw new PlastError('ERR_INVALID', `${model.dir}: load the model with { vision: true } for a vision generator`, { field: 'vision' });
  const tok = model.tokenizer;
  const stopIds = [...new Set([...(tok.eosId !== undefined ? [tok.eosId] : []), ...model.config.eosTokenIds])];
  const encode = (segments: PromptSegment[], withImages: boolean): { ids: number[]; images: number[] } => {
    const ids: number[] = [];
    const images: number[] = [];
    segments.forEach((s, i) => {
      if ('image' in s) {
        if (withImages) ids.push(...model.expandImages([model.imageTokenId]));
        images.push(s.image);
      } else {
        ids.push(...tok.encode(s.text, { addSpecialTokens: i === 0 }));
      }
    });
    return { ids, images };
  };
  return {
    vision: true,
    promptTokens: (segments) => encode(segments, false).ids.length,
    async generate(segments, image, maxNewTokens) {
      const { ids, images } = encode(segments, true);
      const inputs = images.map((k) => {
        const src = image?.sources[k];
        if (!src) throw new PlastError('ERR_DATA', `${image?.file ?? 'the data'}: the prompt asks for image ${k} of row ${image?.index ?? '?'}, which has none`, { field: 'image' });
        const where = image ? { file: image.file } : {};
        return src.kind === 'base64' ? { source: src.data, encoding: 'base64' as const, ...where } : { source: src.resolved, encoding: 'path' as const, ...where };
      });
      const out = await generateGreedy(model, ids, { maxNewTokens, stopIds, images: inputs });
      return tok.decode(out, { skipSpecialTokens: true }).trim();
    },
  };
}
