// A loaded model: an HF checkpoint on a native backend, with its tokenizer. The methods are thin
// async wrappers over the native LlamaModel (forward with counts, backward, AdamW). dispose() (or
// a `using` declaration) frees its weights without waiting for the garbage collector.
import { PlastError } from '../errors';
import {
  BackendChoice, BackendName, NativeAdamW, NativeModel, NativeTensorEntry, ParamPart, addon, call, callSync, resolveBackend,
} from '../native';
import { Sequence, packBatch } from './batch';
import { Checkpoint, openCheckpoint } from './checkpoint';
import { ModelConfig, invFreqFor } from './config';
import { TextTokenizer } from './tokenizer';

export interface LoadOptions {
  backend?: BackendChoice;
  /** Called after each safetensors file is loaded. */
  onProgress?: (filesDone: number, filesTotal: number) => void;
  /**
   * Refuse a weight holding NaN or Inf (ERR_FORMAT naming the tensor and the first bad index).
   * Default true, unless PLAST_SKIP_FINITE_CHECK=1; false skips the scan for trusted checkpoints.
   */
  checkFinite?: boolean;
}

/** Whether loading scans the weights for NaN/Inf: the option, else PLAST_SKIP_FINITE_CHECK. */
export function checkFiniteOption(opts: Pick<LoadOptions, 'checkFinite'>): boolean {
  return opts.checkFinite ?? process.env['PLAST_SKIP_FINITE_CHECK'] !== '1';
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

export type ModuleSet = 'all' | 'attn' | 'mlp';

const ATTN_LEAVES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'];
const MLP_LEAVES = ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

export class Model implements Disposable {
  private constructor(
    readonly dir: string,
    readonly checkpoint: Checkpoint,
    readonly tokenizer: TextTokenizer,
    readonly backend: BackendName,
    readonly native: NativeModel,
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
    try {
      await loadWeights(native, ckpt, opts);
    } catch (err) {
      native.dispose(); // a half-loaded model frees its weights now, not at garbage collection
      throw err;
    }
    return new Model(dir, ckpt, tokenizer, backend, native);
  }

  /** Forward without gradients: counts over the tokens marked in `count`, logits at `logitAt`. */
  async forward(seqs: Sequence[]): Promise<ForwardOutput> {
    const b = packBatch(seqs, this.padId());
    const r = await call(() => this.native.forward(b));
    const V = this.config.vocabSize;
    const logits = b.logitSpans.map(([s, e]) => (e > s && r.logits ? r.logits.slice(s * V, e * V) : null));
    return { counts: r.counts, countedTokens: r.countedTokens, logits };
  }

  /** Forward + backward: trainable grads += dLoss/dW * lossScale, loss summed over labels. */
  async forwardBackward(seqs: Sequence[], lossScale: number): Promise<StepOutput> {
    const b = packBatch(seqs, this.padId());
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

/**
 * Every tensor the native model declares must be in the checkpoint (by canonical name), with the
 * shape config.json implies; tensors it does not declare are not loaded. Shared by the decoder and
 * the vision tower (src/model/vision.ts).
 */
export async function loadWeights(
  native: NativeModel,
  ckpt: Pick<Checkpoint, 'dir' | 'tensors'>,
  opts: Pick<LoadOptions, 'onProgress' | 'checkFinite'>,
): Promise<void> {
  const dir = ckpt.dir;
  const perFile = new Map<string, NativeTensorEntry[]>();
  const missing: string[] = [];
  for (const want of native.expectedWeights()) {
    const t = ckpt.tensors.get(want.name);
    if (!t) {
      missing.push(want.name);
      continue;
    }
    if (t.dtype !== 'BF16' && t.dtype !== 'F16' && t.dtype !== 'F32') {
      throw new PlastError('ERR_DTYPE', `${t.file}: tensor '${t.sourceName}' is ${t.dtype}; expected BF16, F16 or F32`, { file: t.file, field: t.sourceName });
    }
    if (t.shape.join(',') !== want.shape.join(',')) {
      throw new PlastError(
        'ERR_SHAPE',
        `${t.file}: tensor '${t.sourceName}' has shape [${t.shape.join(', ')}] but config.json implies [${want.shape.join(', ')}]`,
        { file: t.file, field: t.sourceName },
      );
    }
    const list = perFile.get(t.file) ?? [];
    list.push({ name: want.name, dtype: t.dtype, shape: t.shape, begin: t.begin, end: t.end });
    perFile.set(t.file, list);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 6).join(', ') + (missing.length > 6 ? `, ... (${missing.length} in all)` : '');
    throw new PlastError('ERR_FORMAT', `${dir}: tensor(s) missing from the checkpoint: ${shown}`, { file: dir, field: missing[0]! });
  }
  let done = 0;
  for (const [file, entries] of perFile) {
    await call(() => native.loadTensors(file, entries, checkFiniteOption(opts)));
    opts.onProgress?.(++done, perFile.size);
  }
  callSync(() => native.finalize());
}
