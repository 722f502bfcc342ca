// Images in a LLaVA prompt, as HF's LlavaProcessor and LlavaForConditionalGeneration handle them:
// each <image> placeholder token is expanded to one placeholder per image feature, and the
// decoder's input embedding at those positions is the image's projected feature instead of the
// placeholder's own embedding (the features replace the tokens in order, image by image).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { PlastError } from '../errors';
import { SequenceEmbeds } from './batch';

/** `ids` with every `tokenId` repeated `perImage` times (what the processor does to "<image>"). */
export function expandImageTokens(ids: readonly number[], tokenId: number, perImage: number): number[] {
  const out: number[] = [];
  for (const id of ids) {
    if (id === tokenId) for (let k = 0; k < perImage; k++) out.push(id);
    else out.push(id);
  }
  return out;
}

/** How many images the expanded placeholders in `ids` stand for (ERR_INVALID when not whole). */
export function countImages(ids: readonly number[], tokenId: number, perImage: number): number {
  let n = 0;
  for (const id of ids) if (id === tokenId) n++;
  if (n % perImage !== 0) {
    throw new PlastError(
      'ERR_INVALID',
      `the sequence holds ${n} image placeholder tokens, not a multiple of the ${perImage} features an image gives (expand each <image> once)`,
      { field: 'images' },
    );
  }
  return n / perImage;
}

/**
 * The embeddings of a sequence's image positions: the placeholders of `ids` (already expanded) take
 * the rows of `features` in order, one block of perImage x dim values per image.
 */
export function imageEmbeds(
  ids: readonly number[],
  tokenId: number,
  features: readonly Float32Array[],
  perImage: number,
  dim: number,
): SequenceEmbeds {
  const images = countImages(ids, tokenId, perImage);
  if (images !== features.length) {
    throw new PlastError(
      'ERR_INVALID',
      `the prompt has ${images} <image> placeholder${images === 1 ? '' : 's'} but ${features.length} image${features.length === 1 ? ' was' : 's were'} given`,
      { field: 'images' },
    );
  }
  const at: number[] = [];
  ids.forEach((id, t) => {
    if (id === tokenId) at.push(t);
  });
  const values = new Float32Array(at.length * dim);
  features.forEach((f, i) => {
    if (f.length !== perImage * dim) {
      throw new PlastError('ERR_SHAPE', `image ${i}: expected ${perImage} x ${dim} feature values but received ${f.length}`, { field: 'images' });
    }
    values.set(f, i * perImage * dim);
  });
  return { at, values };
}

/** How a model with a vision tower marks an image in a prompt. */
export interface ImageTokens {
  /** The <image> placeholder's token id. */
  id: number;
  /** Placeholders one image expands to (its feature count). */
  perImage: number;
}

/** The text that stands for one image in a prompt (LLaVA puts it before the question, then a newline). */
export const IMAGE_PLACEHOLDER = '<image>';

/**
 * Encoded segments with each <image> token expanded to `perImage` placeholders tagged 'image'
 * (the placeholders only: other tokens of the segment that held "<image>" get `rest`). Throws
 * ERR_UNSUPPORTED when `expect` images were written but the tokenizer made fewer image tokens
 * (a tokenizer without LLaVA's <image> token).
 */
export function expandEncoded<Tag extends string>(
  enc: { ids: number[]; tags: Tag[] },
  image: ImageTokens,
  imageTag: Tag,
  rest: Tag,
  expect: number,
): { ids: number[]; tags: Tag[] } {
  const ids: number[] = [];
  const tags: Tag[] = [];
  let found = 0;
  enc.ids.forEach((id, k) => {
    const isImage = id === image.id;
    if (isImage) found++;
    const tag = isImage ? imageTag : enc.tags[k] === imageTag ? rest : enc.tags[k]!;
    for (let r = 0; r < (isImage ? image.perImage : 1); r++) {
      ids.push(id);
      tags.push(tag);
    }
  });
  if (found !== expect) {
    throw new PlastError(
      'ERR_UNSUPPORTED',
      `the prompt has ${expect} "${IMAGE_PLACEHOLDER}" but the tokenizer made ${found} image token(s) (id ${image.id}) of it; the checkpoint's tokenizer lacks LLaVA's ${IMAGE_PLACEHOLDER} token or the text already holds one`,
      { field: 'image' },
    );
  }
  return { ids, tags };
}

/**
 * What a data row's "image" names: a data: URI or base64 as it is, else a path — absolute, or
 * relative to the data file's directory. A string that is no existing file and looks like base64
 * (long, base64 characters only) is taken as base64; anything else stays a path, so a missing
 * file is reported as one.
 */
export function resolveImageSource(value: string, dataFile?: string): string {
  if (value.startsWith('data:')) return value;
  const path = isAbsolute(value) || dataFile === undefined ? value : join(dirname(dataFile), value);
  if (existsSync(path)) return path;
  if (value.length >= 64 && /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/.test(value)) return value;
  return path;
}

/** How an image is fitted to the tower's square input: the processor's crop, or LLaVA-1.5's pad to square. */
export type ImageAspect = 'crop' | 'pad';
