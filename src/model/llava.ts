// Images in a LLaVA prompt, as HF's LlavaProcessor and LlavaForConditionalGeneration handle them:
// each <image> placeholder token is expanded to one placeholder per image feature, and the
// decoder's input embedding at those positions is the image's projected feature instead of the
// placeholder's own embedding (the features replace the tokens in order, image by image).
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
