// Loads the native addon and gives it a typed surface: the one place in src/ that names the addon
// (native/README.md describes the native side of this contract). Every call into it goes through
// `call`/`callSync`, which turn native errors into PlastErrors carrying the caller's JS stack.
import bindings from 'bindings';
import { PlastError, fromNative } from './errors';

export type BackendName = 'cpu' | 'cuda';
export type BackendChoice = BackendName | 'auto';

export interface BackendInfo {
  name: BackendName;
  available: boolean;
  reason?: string;
  device?: string;
}

/** Config of the "llama" architecture (the LLaMA-family decoder, native/src/model/llama.h). */
export interface NativeConfig {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  eps: number;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  tied: boolean;
  window: number;
  invFreq: Float32Array;
  ropeAttnScaling: number;
}

/**
 * Config of the "clip_llava" architecture: a LLaVA checkpoint's CLIP vision tower and projector
 * (native/src/model/clip.h), forward only. The strings are HF's own; the native side rejects
 * values it cannot run with ERR_UNSUPPORTED naming the field.
 */
export interface NativeClipConfig {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  imageSize: number;
  patchSize: number;
  channels: number;
  eps: number;
  /** vision_config.hidden_act: gelu, quick_gelu, gelu_new, gelu_pytorch_tanh. */
  hiddenAct: string;
  /** The projector's output width: text_config.hidden_size. */
  textHidden: number;
  /** vision_feature_layer: an index into the layers + 1 hidden states, negative from the end. */
  featureLayer: number;
  /** vision_feature_select_strategy: default (drop CLS) or full. */
  strategy: string;
  projectorAct: string;
  projectorBias: boolean;
}

/** Images in: HF pixel_values, [B, channels, imageSize, imageSize] row-major float32. */
export interface NativeImageBatch {
  B: number;
  pixels: Float32Array;
  /** Also return the hidden state the features are taken from ([B, patches + 1, hidden], CLS first). */
  wantHidden?: boolean;
}

export interface NativeImageResult {
  /** [B, features per image, textHidden]: the projected image features. */
  features: Float32Array;
  hidden: Float32Array | null;
}

export interface NativeTensorEntry {
  name: string;
  dtype: 'BF16' | 'F16' | 'F32';
  shape: number[];
  begin: number; // absolute byte offsets in the file
  end: number;
}

export interface NativeBatch {
  B: number;
  T: number;
  ids: Int32Array;
  positions: Int32Array;
  keyMask: Int32Array;
  countMask?: Int32Array;
  logitRows?: Int32Array;
  labels?: Int32Array;
  /** Forward only: also return every layer's gate_proj output (tests; layers x B*T x intermediate). */
  wantGates?: boolean;
  /** Flat rows (b*T + t) whose input embedding is given in `embeds` (image features); distinct. */
  embedRows?: Int32Array;
  /** embedRows.length x hidden values, row-major. */
  embeds?: Float32Array;
  /** Forward: flat rows (b*T + t) whose hidden states are captured (the logit lens). */
  hiddenRows?: Int32Array;
  /** Hidden-state indices captured: 0 = the embeddings, l + 1 = the output of layer l (default all layers + 1). */
  hiddenLayers?: Int32Array;
  /** Return the captured states: layers x rows x hidden. */
  wantHidden?: boolean;
  /** Apply the lens (final norm + LM head) to the captured states: entropy, and the outputs below as asked. */
  lens?: boolean;
  /** Return the lens logits (final norm + LM head on each state): layers x rows x vocab. */
  wantLensLogits?: boolean;
  /** rows x K token ids: each state's softmax probability and rank of its row's K ids. */
  lensTokens?: Int32Array;
  /** Each state's K most probable tokens. */
  lensTopK?: number;
}

export interface NativeForwardResult {
  counts: BigInt64Array | null;
  countedTokens: number;
  logits: Float32Array | null;
  /** With batch.wantGates: gate_proj outputs, layers x B*T x intermediate, as the backend computed them. */
  gates?: Float32Array;
  /** With batch.hiddenRows: the hidden-state indices captured (layers below). */
  hiddenLayerCount?: number;
  /** layers x rows x hidden, with batch.wantHidden. */
  hidden?: Float32Array;
  /** layers x rows x vocab, with batch.wantLensLogits. */
  lensLogits?: Float32Array;
  /** layers x rows x K probabilities and ranks (1 = most probable) of batch.lensTokens. */
  lensProbs?: Float32Array;
  lensRanks?: Int32Array;
  /** layers x rows x lensTopK: the top ids (ties: smaller id first) and their probabilities. */
  lensTopIds?: Int32Array;
  lensTopProbs?: Float32Array;
  /** layers x rows: entropy of each state's next-token distribution (nats). */
  lensEntropy?: Float32Array;
}

export interface NativeTrainResult {
  lossSum: number;
  labelTokens: number;
  losses: Float32Array;
}

export interface NativeAdamW {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  step: number;
  gradScale?: number;
}

export type ParamPart = 'weight' | 'master' | 'grad' | 'm' | 'v';

/** Model kinds of native/src/addon/model_registry.cc, with the config each one reads. */
export interface NativeModelConfigs {
  llama: NativeConfig;
  clip_llava: NativeClipConfig;
}
export type ModelArch = keyof NativeModelConfigs;

export interface MemoryInfo {
  /** Bytes allocated on the backend now (by every model on it, not one alone). */
  inUse: number;
  /** The most bytes allocated at once since the backend's peak was last reset. */
  peak: number;
}

/**
 * A model on one backend (native/src/addon/model_wrap.h). The Promise-returning methods run on a
 * worker thread, one at a time per model; the others run on the calling thread. After dispose()
 * every method except dispose() and disposed() throws ERR_INVALID.
 */
export interface NativeModel {
  /** checkFinite (default true): refuse a tensor holding NaN or Inf (ERR_FORMAT naming it). */
  loadTensors(file: string, entries: NativeTensorEntry[], checkFinite?: boolean): Promise<void>;
  finalize(): void;
  expectedWeights(): { name: string; shape: number[] }[];
  forward(batch: NativeBatch): Promise<NativeForwardResult>;
  /** Image pass of a vision model (clip_llava); other models reject with ERR_UNSUPPORTED. */
  encode(images: NativeImageBatch): Promise<NativeImageResult>;
  setTrainable(names: string[]): Promise<void>;
  trainable(): string[];
  forwardBackward(batch: NativeBatch, lossScale: number): Promise<NativeTrainResult>;
  zeroGrad(): Promise<void>;
  gradSumSquares(): Promise<number>;
  adamw(p: NativeAdamW): Promise<void>;
  read(name: string, part?: ParamPart): Promise<Float32Array>;
  write(name: string, part: ParamPart, values: Float32Array): Promise<void>;
  /** resetPeak: after reading, the backend's peak restarts from the bytes in use. */
  memory(resetPeak?: boolean): MemoryInfo;
  backendName(): BackendName;
  arch(): ModelArch;
  /** Frees the weights, training state and file mappings now (or when the call in flight ends). Idempotent. */
  dispose(): void;
  disposed(): boolean;
}

export interface KernelVariantInfo {
  op: 'gemm' | 'ffn_up' | 'attention' | 'attention_backward';
  name: string; // "auto" is the default heuristic
  dtypes: string;
  archs: string;
  note: string;
}

export interface NativeOpBenchOptions {
  op: 'ffn' | 'linear' | 'attn' | 'attn-bwd';
  /** Variant names, or ["all"] / absent for every registered variant of the op. */
  variants?: string[];
  quick?: boolean;
  iters?: number;
  seed?: number;
  /** When "auto" is benchmarked, also spot-check it at the full shape (default true). */
  fullCheck?: boolean;
}

export interface NativeBenchRow {
  bench: string;
  variant: string;
  shape: string;
  checked: boolean; // compared with the CPU reference
  ok: boolean; // ... and passed
  timed: boolean; // a variant that fails its check is not timed
  err: number;
  ms: number;
  tflops: number;
  peakMiB: number;
  note: string;
}

interface Addon {
  backends(): BackendInfo[];
  threads(): number;
  /** Memory of a backend, with or without a model on it; ERR_NO_DEVICE when it is unavailable. */
  memory(backend: BackendName): MemoryInfo;
  modelArchs(): ModelArch[];
  cudaCompiled: boolean;
  /** The CUDA kernel-variant registry; throws ERR_NO_DEVICE in a build without CUDA. */
  kernelVariants(): KernelVariantInfo[];
  /** Checks then times kernel variants (native/src/bench/bench.h); ERR_NO_DEVICE without a device. */
  opBench(o: NativeOpBenchOptions): Promise<NativeBenchRow[]>;
  /** flock(fd, LOCK_EX | LOCK_NB): true when taken, false when held elsewhere; ERR_UNSUPPORTED on a file system without flock; ERR_IO otherwise. */
  tryLockFd(fd: number): boolean;
  /** `arch` defaults to "llama"; an architecture this build lacks is ERR_UNSUPPORTED. */
  NativeModel: {
    new (backend: BackendName, config: NativeConfig): NativeModel;
    new <A extends ModelArch>(backend: BackendName, config: NativeModelConfigs[A], arch: A): NativeModel;
  };
}

let cached: Addon | undefined;

export function addon(): Addon {
  if (!cached) {
    try {
      cached = bindings('plast') as Addon;
    } catch (err) {
      throw new PlastError(
        'ERR_NO_DEVICE',
        `the native addon could not be loaded (${(err as Error).message.split('\n')[0]}); run \`npm install\` to build it`,
        { cause: err },
      );
    }
  }
  return cached;
}

/** Runs a native call, converting its errors (sync or async) into PlastErrors. */
export async function call<T>(fn: () => Promise<T> | T): Promise<T> {
  const stack = new Error().stack;
  try {
    return await fn();
  } catch (err) {
    throw fromNative(err, stack);
  }
}

export function callSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err, new Error().stack);
  }
}

export function listBackends(): BackendInfo[] {
  return addon().backends();
}

/**
 * An exclusive kernel lock (flock) on `fd`, a descriptor from fs.openSync, without waiting: true
 * when taken, false when another open of the file holds it (another process, or another open in
 * this one). The kernel releases it when the descriptor is closed or the process ends. A file
 * system without flock is ERR_UNSUPPORTED.
 */
export function tryLockFd(fd: number): boolean {
  return callSync(() => addon().tryLockFd(fd));
}

/** Bytes in use on a backend (every model on it together). */
export function backendMemory(backend: BackendName): MemoryInfo {
  return callSync(() => addon().memory(backend));
}

/**
 * Resolves a backend choice (argument, else PLAST_BACKEND, else auto) to an available backend.
 * "auto" takes CUDA when it is available and the CPU otherwise; asking for an unavailable backend
 * is an ERR_NO_DEVICE that lists every backend and why it cannot be used.
 */
export function resolveBackend(choice?: string): BackendName {
  const want = (choice ?? process.env.PLAST_BACKEND ?? 'auto').toLowerCase();
  if (want !== 'auto' && want !== 'cpu' && want !== 'cuda') {
    throw new PlastError('ERR_INVALID', `Expected a backend of auto, cpu or cuda but received "${want}"`, {
      field: 'backend',
    });
  }
  const infos = listBackends();
  if (want === 'auto') return infos.find((b) => b.name === 'cuda')?.available ? 'cuda' : 'cpu';
  const info = infos.find((b) => b.name === want);
  if (info?.available) return want;
  const tried = infos.map((b) => `${b.name}: ${b.available ? 'available' : b.reason ?? 'unavailable'}`).join('; ');
  throw new PlastError('ERR_NO_DEVICE', `the ${want} backend is not available (${tried})`);
}
