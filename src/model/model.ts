// A loaded model: an HF checkpoint on a native backend, with its tokenizer. The methods are thin
// async wrappers over the native LlamaModel (forward with counts, backward, AdamW). dispose() (or
// a `using` declaration) frees its weights without waiting for the garbage collector.
import { PlastError } from '../errors';
import {
  BackendChoice, BackendName, NativeAdamW, NativeModel, ParamPart, addon, call, callSync, resolveBackend,
} from '../native';
import { Sequence, SequenceEmbeds, packBatch } from './batch';
import { ImageProcessorConfig, loadImage, readImageProcessorConfig } from './image';
import { ImageAspect, ImageTokens, expandImageTokens, imageEmbeds, resolveImageSource } from './llava';
import { Checkpoint, openCheckpoint } from './checkpoint';
import { FeatureCache } from './feature-cache';
import { ModelConfig, invFreqFor } from './config';
import { TextTokenizer } from './tokenizer';
import { VisionTower } from './vision';
import { WeightLoadOptions, loadWeights } from './weights';

export { checkFiniteOption, loadWeights } from './weights';

export interface LoadOptions extends WeightLoadOptions {
  backend?: BackendChoice;
  /**
   * Also load the vision tower and projector of a LLaVA checkpoint (model.vision), so that
   * sequences can carry images. On a backend without the tower's ops (CUDA today) the tower runs
   * on the CPU and its features are copied to the decoder's backend.
   */
  vision?: boolean;
  /** Images before the processor: crop (its resize and center crop) or pad (LLaVA-1.5's expand-to-square with the mean colour); default the checkpoint's (the original layout's image_aspect_ratio), else crop. */
  imageAspect?: ImageAspect;
  /** The original LLaVA layout's CLIP tower directory (config.json's mm_vision_tower is a hub name). */
  visionTower?: string;
  /** Bytes of image features kept for images met again (each language, each epoch); default 1 GiB, 0 for none. */
  imageCacheBytes?: number;
}

export interface ForwardOutput {
  /** layers x intermediate positive-gate counts over the counted tokens (null when none counted). */
  counts: BigInt64Array | null;
  countedTokens: number;
  /** Per sequence, its logits (logitAt.length x vocab) or null when none were asked for. */
  logits: (Float32Array | null)[];
}

export interface StepOutput {
  lossSum: number;
  labelTokens: number;
}

/** A sequence for the logit lens: its hidden states at `at` (positions t), and for each such
 * position the ids whose probability and rank are wanted (the same number at every position). */
export interface LensSequence extends Sequence {
  at: number[];
  tokens?: number[][];
}

export interface LensOptions {
  /** Hidden-state indices: 0 = the embeddings, l + 1 = the output of decoder layer l (default all, 0..layers). */
  layers?: number[];
  /** The K most probable tokens of each state (default 0). */
  topK?: number;
  /** Also return the raw states (layers x rows x hidden). */
  hidden?: boolean;
  /** Also return the lens logits (layers x rows x vocab; small vocabularies). */
  logits?: boolean;
}

/** The lens of every requested position: rows in sequence order (sequence 0's `at`, then 1's, ...). */
export interface LensOutput {
  layers: number[];
  rows: number;
  /** Per sequence, its range of rows. */
  spans: [number, number][];
  /** Ids per row (lensTokens), and topK. */
  k: number;
  topK: number;
  /** layers x rows x k. */
  probs: Float32Array;
  ranks: Int32Array;
  /** layers x rows x topK. */
  topIds: Int32Array;
  topProbs: Float32Array;
  /** layers x rows, nats. */
  entropy: Float32Array;
  hidden?: Float32Array;
  logits?: Float32Array;
}

export type ModuleSet = 'all' | 'attn' | 'mlp';

const DEFAULT_IMAGE_CACHE_BYTES = 1 << 30;

const ATTN_LEAVES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'];
const MLP_LEAVES = ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

export class Model implements Disposable {
  private constructor(
    readonly dir: string,
    readonly checkpoint: Checkpoint,
    readonly tokenizer: TextTokenizer,
    readonly backend: BackendName,
    readonly native: NativeModel,
    /** The vision tower and projector, when loaded with { vision: true } (LLaVA checkpoints). */
    readonly vision?: VisionTower,
  ) {}

  get config(): ModelConfig {
    return this.checkpoint.config;
  }

  static async load(dir: string, opts: LoadOptions = {}): Promise<Model> {
    const ckpt = openCheckpoint(dir);
    const tokenizer = TextTokenizer.load(dir);
    const backend = resolveBackend(opts.backend);
    const c = ckpt.config;
    const native = callSync(
      () =>
        new (addon().NativeModel)(backend, {
          vocab: c.vocabSize,
          hidden: c.hiddenSize,
          intermediate: c.intermediateSize,
          layers: c.numLayers,
          heads: c.numHeads,
          kvHeads: c.numKvHeads,
          headDim: c.headDim,
          eps: c.rmsNormEps,
          qkvBias: c.qkvBias,
          oBias: c.oBias,
          mlpBias: c.mlpBias,
          tied: c.tieWordEmbeddings,
          window: c.slidingWindow,
          invFreq: invFreqFor(c),
          ropeAttnScaling: 1,
        }),
    );
    let vision: VisionTower | undefined;
    try {
      await loadWeights(native, ckpt, opts);
      if (opts.vision) vision = await loadVision(dir, backend, opts);
    } catch (err) {
      native.dispose(); // a half-loaded model frees its weights now, not at garbage collection
      throw err;
    }
    const model = new Model(dir, ckpt, tokenizer, backend, native, vision);
    model.imageAspect = opts.imageAspect ?? vision?.config.imageAspect ?? 'crop';
    if (opts.imageCacheBytes !== undefined) model.featureCache = new FeatureCache(opts.imageCacheBytes);
    // The original layout's "<image>" is no token of its tokenizer: LLaVA's code inserts -200.
    if (vision?.config.layout === 'original') tokenizer.usePlaceholder('<image>', vision.config.imageTokenId);
    return model;
  }

  private imageAspect: ImageAspect = 'crop';
  private processor: ImageProcessorConfig | undefined;

  /**
   * pixel_values of one image for the vision tower, made as the checkpoint's image processor
   * makes them (preprocessor_config.json / processor_config.json). A string is a path (relative to
   * `where.file`'s directory when it names a data file), a data: URI or base64.
   */
  async imagePixels(source: string | Buffer, where: { file?: string; line?: number; encoding?: 'path' | 'base64' } = {}): Promise<Float32Array> {
    const v = this.requireVision();
    this.processor ??= readImageProcessorConfig(v.config.towerDir ?? this.dir, v.config.imageSize);
    const src = typeof source === 'string' && where.encoding !== 'base64' ? resolveImageSource(source, where.file) : source;
    const img = await loadImage(src, this.processor, {
      aspect: this.imageAspect,
      ...(where.encoding !== undefined ? { encoding: where.encoding } : {}),
      ...(where.file !== undefined ? { file: where.file } : {}),
      ...(where.line !== undefined ? { line: where.line } : {}),
    });
    const c = v.config;
    if (img.channels !== c.numChannels || img.height !== c.imageSize || img.width !== c.imageSize) {
      const at = where.file !== undefined ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}: ` : '';
      throw new PlastError(
        'ERR_SHAPE',
        `${at}the image processor makes ${img.channels} x ${img.height} x ${img.width} pixel values but the vision tower takes ${c.numChannels} x ${c.imageSize} x ${c.imageSize} (check ${this.dir}'s processor config)`,
        { ...(where.file !== undefined ? { file: where.file } : {}), ...(where.line !== undefined ? { line: where.line } : {}), field: 'image' },
      );
    }
    return img.pixels;
  }

  private requireVision(): VisionTower {
    if (!this.vision) {
      throw new PlastError('ERR_INVALID', `${this.dir}: the model was loaded without its vision tower (load it with { vision: true })`, {
        field: 'vision',
      });
    }
    return this.vision;
  }

  /** The placeholder token image features replace (config.json's image_token_index). */
  get imageTokenId(): number {
    return this.requireVision().config.imageTokenId;
  }

  /** The image placeholder and its count per image, or undefined without a vision tower loaded. */
  get imageTokens(): ImageTokens | undefined {
    return this.vision ? { id: this.vision.config.imageTokenId, perImage: this.vision.featuresPerImage } : undefined;
  }

  /** Prompt ids with each <image> token expanded to one placeholder per image feature. */
  expandImages(ids: readonly number[]): number[] {
    const v = this.requireVision();
    return expandImageTokens(ids, v.config.imageTokenId, v.featuresPerImage);
  }

  /** Projected features of each image (HF pixel_values of one image each: channels x size x size). */
  async encodeImages(pixels: readonly Float32Array[]): Promise<Float32Array[]> {
    const v = this.requireVision();
    if (pixels.length === 0) return [];
    const n = v.pixelsPerImage;
    const all = new Float32Array(pixels.length * n);
    pixels.forEach((p, i) => {
      if (p.length !== n) {
        const c = v.config;
        throw new PlastError('ERR_SHAPE', `image ${i}: expected pixel values of shape [${c.numChannels}, ${c.imageSize}, ${c.imageSize}] (${n} values) but received ${p.length}`, { field: 'images' });
      }
      all.set(p, i * n);
    });
    const { features } = await v.encode(all, pixels.length);
    const per = v.featuresPerImage * v.featureDim;
    return pixels.map((_, i) => features.subarray(i * per, (i + 1) * per));
  }

  /**
   * The sequences with their images' features as embeds (one tower pass for the whole batch, the
   * images met before from the cache). forward and forwardBackward do this themselves; a caller
   * that runs the same prompt many times (greedy decoding) resolves it once.
   */
  async withImages(seqs: Sequence[]): Promise<Sequence[]> {
    const inputs = seqs.flatMap((s) => s.images ?? []);
    // Features by image: from the cache, else one tower pass over the images not in it.
    const keys = inputs.map((im) => ('pixels' in im ? undefined : FeatureCache.key(typeof im.source === 'string' && im.encoding !== 'base64' ? resolveImageSource(im.source, im.file) : im.source, this.imageAspect)));
    const feats: (Float32Array | undefined)[] = keys.map((k) => (k !== undefined ? this.featureCache.get(k) : undefined));
    const missing = inputs.map((_, i) => i).filter((i) => !feats[i]);
    if (missing.length > 0) {
      const pixels = await Promise.all(missing.map((i) => {
        const im = inputs[i]!;
        return 'pixels' in im ? im.pixels : this.imagePixels(im.source, im);
      }));
      const computed = await this.encodeImages(pixels);
      missing.forEach((i, j) => {
        feats[i] = computed[j]!;
        if (keys[i] !== undefined) this.featureCache.set(keys[i]!, computed[j]!);
      });
    }
    let k = 0;
    return seqs.map((s) => {
      const n = s.images?.length ?? 0;
      if (n === 0) return s;
      if (s.embeds) throw new PlastError('ERR_INVALID', 'a sequence gives both images and embeds; give one of them', { field: 'images' });
      const embeds = this.imageEmbeds(s.ids, feats.slice(k, k + n) as Float32Array[]);
      k += n;
      return { ...s, embeds };
    });
  }

  /** Features of images met before, by source (LoadOptions.imageCacheBytes; 0 turns it off). */
  private featureCache = new FeatureCache(DEFAULT_IMAGE_CACHE_BYTES);

  /** A sequence's image embeddings: its (expanded) placeholders take the images' features in order. */
  imageEmbeds(ids: readonly number[], features: readonly Float32Array[]): SequenceEmbeds {
    const v = this.requireVision();
    return imageEmbeds(ids, v.config.imageTokenId, features, v.featuresPerImage, v.featureDim);
  }

  /** Forward without gradients: counts over the tokens marked in `count`, logits at `logitAt`. */
  async forward(seqs: Sequence[]): Promise<ForwardOutput> {
    // No await before the native call without images: the call is queued before anything else runs.
    const b = packBatch(hasImages(seqs) ? await this.withImages(seqs) : seqs, this.padId());
    const r = await call(() => this.native.forward(b));
    const V = this.config.vocabSize;
    const logits = b.logitSpans.map(([s, e]) => (e > s && r.logits ? r.logits.slice(s * V, e * V) : null));
    return { counts: r.counts, countedTokens: r.countedTokens, logits };
  }

  /**
   * The logit lens: the final norm and the LM head applied to the residual stream after every
   * layer (or `o.layers`) at the positions `at` of each sequence, computed natively one layer at a
   * time (only the gathered rows are kept). The last layer's lens is the model's own next-token
   * distribution (the same ops as forward's logits).
   */
  async lens(seqs: LensSequence[], o: LensOptions = {}): Promise<LensOutput> {
    const L = this.config.numLayers;
    const layers = o.layers ?? Array.from({ length: L + 1 }, (_, i) => i);
    for (const h of layers) {
      if (!Number.isInteger(h) || h < 0 || h > L) throw new PlastError('ERR_INVALID', `Expected hidden-state indices in [0, ${L}] (0 = the embeddings, l + 1 = the output of layer l) but received ${h}`, { field: 'layers' });
    }
    const topK = o.topK ?? 0;
    if (!Number.isInteger(topK) || topK < 0 || topK > this.config.vocabSize) throw new PlastError('ERR_INVALID', `Expected topK in [0, ${this.config.vocabSize}] but received ${topK}`, { field: 'topK' });
    const b = packBatch(await this.withImages(seqs.map(({ at: _a, tokens: _t, ...s }) => s)), this.padId());
    const rows: number[] = [];
    const ids: number[] = [];
    const spans: [number, number][] = [];
    const k = seqs[0]?.tokens?.[0]?.length ?? 0;
    seqs.forEach((s, i) => {
      const start = rows.length;
      s.at.forEach((t, j) => {
        if (!Number.isInteger(t) || t < 0 || t >= s.ids.length) throw new PlastError('ERR_INVALID', `sequence ${i}: lens position ${t} is outside [0, ${s.ids.length})`, { field: 'at' });
        rows.push(i * b.T + t);
        const want = s.tokens?.[j] ?? [];
        if (want.length !== k) throw new PlastError('ERR_SHAPE', `sequence ${i}, position ${t}: ${want.length} lens token(s), expected ${k} as at every position`, { field: 'tokens' });
        ids.push(...want);
      });
      spans.push([start, rows.length]);
    });
    if (rows.length === 0) throw new PlastError('ERR_INVALID', 'Expected at least one lens position', { field: 'at' });
    const r = await call(() =>
      this.native.forward({
        ...b,
        hiddenRows: Int32Array.from(rows),
        hiddenLayers: Int32Array.from(layers),
        wantHidden: o.hidden === true,
        lens: true,
        wantLensLogits: o.logits === true,
        lensTokens: Int32Array.from(ids),
        lensTopK: topK,
      }),
    );
    return {
      layers: [...layers],
      rows: rows.length,
      spans,
      k,
      topK,
      probs: r.lensProbs ?? new Float32Array(0),
      ranks: r.lensRanks ?? new Int32Array(0),
      topIds: r.lensTopIds ?? new Int32Array(0),
      topProbs: r.lensTopProbs ?? new Float32Array(0),
      entropy: r.lensEntropy ?? new Float32Array(0),
      ...(r.hidden ? { hidden: r.hidden } : {}),
      ...(r.lensLogits ? { logits: r.lensLogits } : {}),
    };
  }

  /** Forward + backward: trainable grads += dLoss/dW * lossScale, loss summed over labels. */
  async forwardBackward(seqs: Sequence[], lossScale: number): Promise<StepOutput> {
    const b = packBatch(hasImages(seqs) ? await this.withImages(seqs) : seqs, this.padId());
    const r = await call(() => this.native.forwardBackward(b, lossScale));
    return { lossSum: r.lossSum, labelTokens: r.labelTokens };
  }

  /** Tensor names of decoder layer `layer`, optionally only the attention or MLP block. */
  layerTensorNames(layer: number, modules: ModuleSet = 'all'): string[] {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.config.numLayers) {
      throw new PlastError('ERR_INVALID', `Expected a layer index in [0, ${this.config.numLayers - 1}] but received ${layer}`, { field: 'layers' });
    }
    const p = `model.layers.${layer}.`;
    const names: string[] = [];
    const c = this.config;
    if (modules !== 'mlp') {
      names.push(p + 'input_layernorm.weight');
      for (const l of ATTN_LEAVES) names.push(p + l + '.weight');
      if (c.qkvBias) names.push(p + 'self_attn.q_proj.bias', p + 'self_attn.k_proj.bias', p + 'self_attn.v_proj.bias');
      if (c.oBias) names.push(p + 'self_attn.o_proj.bias');
    }
    if (modules !== 'attn') {
      names.push(p + 'post_attention_layernorm.weight');
      for (const l of MLP_LEAVES) names.push(p + l + '.weight');
      if (c.mlpBias) for (const l of MLP_LEAVES) names.push(p + l + '.bias');
    }
    return names;
  }

  async setTrainable(names: string[]): Promise<void> {
    await call(() => this.native.setTrainable(names));
  }

  trainable(): string[] {
    return callSync(() => this.native.trainable());
  }

  async zeroGrad(): Promise<void> {
    await call(() => this.native.zeroGrad());
  }

  async gradNorm(): Promise<number> {
    return Math.sqrt(await call(() => this.native.gradSumSquares()));
  }

  async adamw(p: NativeAdamW): Promise<void> {
    await call(() => this.native.adamw(p));
  }

  async read(name: string, part: ParamPart = 'weight'): Promise<Float32Array> {
    return call(() => this.native.read(name, part));
  }

  async write(name: string, part: ParamPart, values: Float32Array): Promise<void> {
    await call(() => this.native.write(name, part, values));
  }

  memory(): { inUse: number; peak: number } {
    return callSync(() => this.native.memory());
  }

  /**
   * Frees the weights, gradients, optimizer state and mapped checkpoint files now (a call still in
   * flight finishes first). Later calls throw ERR_INVALID; disposing twice does nothing.
   */
  dispose(): void {
    this.native.dispose();
    this.vision?.dispose();
    this.featureCache.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.native.disposed();
  }

  padId(): number {
    return this.config.padTokenId ?? this.tokenizer.eosId ?? 0;
  }

  /** Number of parameters of the language model (embeddings and LM head included once each). */
  parameterCount(names?: string[]): number {
    let n = 0;
    const pick = names ? new Set(names) : undefined;
    for (const [name, t] of this.checkpoint.tensors) {
      if (pick && !pick.has(name)) continue;
      n += t.shape.reduce((a, d) => a * d, 1);
    }
    return n;
  }
}

function hasImages(seqs: Sequence[]): boolean {
  return seqs.some((s) => s.images !== undefined && s.images.length > 0);
}

/**
 * The tower on the decoder's backend, or on the CPU where that backend lacks the tower's ops (its
 * features are then copied to the decoder): a GPU run with images works before the tower has
 * device kernels.
 */
async function loadVision(dir: string, backend: BackendName, opts: LoadOptions): Promise<VisionTower> {
  const load = (b: BackendName) =>
    VisionTower.load(dir, {
      backend: b,
      ...(opts.checkFinite !== undefined ? { checkFinite: opts.checkFinite } : {}),
      ...(opts.visionTower !== undefined ? { visionTower: opts.visionTower } : {}),
    });
  if (backend === 'cpu') return load('cpu');
  try {
    return await load(backend);
  } catch (err) {
    if ((err as PlastError).code !== 'ERR_UNSUPPORTED' || !/cannot run the CLIP vision tower/.test((err as Error).message)) throw err;
    return load('cpu');
  }
}
