// The vision side of a LLaVA checkpoint: the CLIP vision tower and the multimodal projector, on a
// native backend as the "clip_llava" model (native/src/model/clip.h), forward only (PLAST keeps
// them frozen). config.json -> VisionConfig; checkpoint tensor names -> the names transformers 5
// writes (the one place that maps layouts); pixel_values in, projected image features out.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { PlastError, expectPositiveInt } from '../errors';
import { BackendChoice, BackendName, NativeClipConfig, NativeModel, addon, call, callSync, resolveBackend } from '../native';
import { CheckpointTensor, shardFiles } from './checkpoint';
import { WeightLoadOptions, loadWeights } from './weights';
import { readSafetensorsHeader } from './safetensors';

type Json = Record<string, unknown>;

export interface VisionConfig {
  /** config.json's model_type (llava). */
  modelType: string;
  /** vision_config.model_type (clip_vision_model). */
  visionModelType: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  /** vision_config.hidden_act, as HF names it (quick_gelu for OpenAI CLIP). */
  hiddenAct: string;
  /** text_config.hidden_size: the width of the projected features. */
  textHiddenSize: number;
  /** vision_feature_layer: an index into the tower's numLayers + 1 hidden states (-2 for LLaVA-1.5). */
  featureLayer: number;
  /** vision_feature_select_strategy: default drops CLS, full keeps it. */
  strategy: string;
  projectorAct: string;
  projectorBias: boolean;
  /** image_token_index / image_token_id: the placeholder token the features replace (-200 in the original layout, a token no tokenizer has). */
  imageTokenId: number;
  /** hf: LlavaForConditionalGeneration; original: the LLaVA repository's llava_llama with mm_projector and a separate CLIP tower. */
  layout: 'hf' | 'original';
  /** The original layout's CLIP checkpoint (its tensors and image processor). */
  towerDir?: string;
  /** The checkpoint's own image fitting (the original layout's image_aspect_ratio: pad for LLaVA-1.5). */
  imageAspect?: 'crop' | 'pad';
}

/** The original LLaVA code's image placeholder id (llava/constants.py IMAGE_TOKEN_INDEX). */
export const IMAGE_TOKEN_INDEX = -200;

export interface VisionConfigOptions {
  /** The original layout's CLIP tower directory (else config.json's mm_vision_tower, if it is a local directory). */
  visionTower?: string;
  /** The checkpoint directory (mm_vision_tower may be relative to it). */
  dir?: string;
}

/** CLIPVisionConfig's defaults (transformers), for fields a vision_config leaves out. */
const CLIP_DEFAULTS: Json = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  num_channels: 3,
  image_size: 224,
  patch_size: 32,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

/** LlavaConfig's vision tower when config.json has no vision_config (CLIP ViT-L/14 at 336). */
const LLAVA_DEFAULT_VISION: Json = {
  ...CLIP_DEFAULTS,
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
};

export function readVisionConfig(path: string, opts: VisionConfigOptions = {}): VisionConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ? 'ERR_IO' : 'ERR_FORMAT';
    throw new PlastError(code, `${path}: cannot read config.json (${(err as Error).message})`, { file: path, cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PlastError('ERR_FORMAT', `${path}: expected a JSON object`, { file: path });
  }
  return parseVisionConfig(json as Json, path, { dir: dirname(path), ...opts });
}

/** The vision tower and projector of an HF LLaVA config (LlavaForConditionalGeneration). */
export function parseVisionConfig(top: Json, file = 'config.json', opts: VisionConfigOptions = {}): VisionConfig {
  const modelType = top['model_type'];
  if (modelType === 'llava_llama' || modelType === 'llava_mistral' || modelType === 'llava_qwen') return parseOriginalLlava(top, file, opts);
  if (modelType !== 'llava') {
    throw new PlastError(
      'ERR_UNSUPPORTED',
      `${file}: model_type ${JSON.stringify(modelType)} has no vision tower this engine can run (supported: llava)`,
      { file, field: 'model_type' },
    );
  }
  const vc = top['vision_config'];
  if (vc !== undefined && vc !== null && (typeof vc !== 'object' || Array.isArray(vc))) {
    throw new PlastError('ERR_FORMAT', `${file}: "vision_config" must be an object`, { file, field: 'vision_config' });
  }
  const visionModelType = vc ? String((vc as Json)['model_type'] ?? 'clip_vision_model') : 'clip_vision_model';
  if (visionModelType !== 'clip_vision_model') {
    throw new PlastError(
      'ERR_UNSUPPORTED',
      `${file}: vision_config.model_type "${visionModelType}" is not supported (supported: clip_vision_model)`,
      { file, field: 'vision_config.model_type' },
    );
  }
  const v: Json = vc ? { ...CLIP_DEFAULTS, ...(vc as Json) } : { ...LLAVA_DEFAULT_VISION };
  const tc = (top['text_config'] ?? {}) as Json;
  const textType = tc['model_type'] ?? 'llama';
  const textHidden = tc['hidden_size'] ?? (textType === 'llama' ? 4096 : undefined);
  const layer = top['vision_feature_layer'] ?? -2;
  if (Array.isArray(layer)) {
    throw new PlastError(
      'ERR_UNSUPPORTED',
      `${file}: vision_feature_layer ${JSON.stringify(layer)} (several layers concatenated) is not supported yet; a single layer is`,
      { file, field: 'vision_feature_layer' },
    );
  }
  if (typeof layer !== 'number' || !Number.isInteger(layer)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected an integer for "vision_feature_layer" but found ${JSON.stringify(layer)}`, {
      file,
      field: 'vision_feature_layer',
    });
  }
  const imageToken = top['image_token_index'] ?? top['image_token_id'] ?? 32000;
  return {
    modelType,
    visionModelType,
    hiddenSize: posInt(v, 'hidden_size', file, 'vision_config.'),
    intermediateSize: posInt(v, 'intermediate_size', file, 'vision_config.'),
    numLayers: posInt(v, 'num_hidden_layers', file, 'vision_config.'),
    numHeads: posInt(v, 'num_attention_heads', file, 'vision_config.'),
    numChannels: posInt(v, 'num_channels', file, 'vision_config.'),
    imageSize: squareSize(v, 'image_size', file),
    patchSize: squareSize(v, 'patch_size', file),
    layerNormEps: number(v, 'layer_norm_eps', file, 'vision_config.'),
    hiddenAct: string(v, 'hidden_act', file, 'vision_config.'),
    textHiddenSize: posInt({ hidden_size: textHidden }, 'hidden_size', file, 'text_config.'),
    featureLayer: layer,
    strategy: string(top, 'vision_feature_select_strategy', file, '', 'default'),
    projectorAct: string(top, 'projector_hidden_act', file, '', 'gelu'),
    projectorBias: top['multimodal_projector_bias'] !== false,
    imageTokenId: posInt({ image_token_index: imageToken }, 'image_token_index', file, ''),
    layout: 'hf',
  };
}

/**
 * The original LLaVA repository's layout (liuhaotian/llava-v1.5-*): mm_* fields in a llava_llama
 * config, the projector as model.mm_projector.0/2 (mlp2x_gelu), and the CLIP tower in its own
 * checkpoint named by mm_vision_tower (a hub name in published configs: give its local copy).
 */
function parseOriginalLlava(top: Json, file: string, opts: VisionConfigOptions): VisionConfig {
  const modelType = top['model_type'] as string;
  const named = top['mm_vision_tower'] ?? top['vision_tower'];
  const local = (p: string): string | undefined => {
    for (const c of isAbsolute(p) || opts.dir === undefined ? [p] : [p, join(opts.dir, p)]) if (existsSync(join(c, 'config.json'))) return c;
    return undefined;
  };
  let towerDir: string | undefined;
  if (opts.visionTower !== undefined) {
    towerDir = local(opts.visionTower);
    if (!towerDir) throw new PlastError('ERR_IO', `${opts.visionTower}: not a CLIP checkpoint directory (no config.json)`, { file: opts.visionTower, field: 'visionTower' });
  } else if (typeof named === 'string') {
    towerDir = local(named);
  }
  if (!towerDir) {
    throw new PlastError(
      'ERR_INVALID',
      `${file}: the vision tower is a separate checkpoint (mm_vision_tower ${JSON.stringify(named ?? null)}), not a directory here; give a local copy of it with --vision-tower DIR`,
      { file, field: 'mm_vision_tower' },
    );
  }
  if (top['mm_use_im_start_end'] === true) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: mm_use_im_start_end (image start/end tokens around the features) is not supported`, { file, field: 'mm_use_im_start_end' });
  }
  const projector = top['mm_projector_type'] ?? 'linear';
  if (projector !== 'mlp2x_gelu') {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: mm_projector_type ${JSON.stringify(projector)} is not supported (supported: mlp2x_gelu, LLaVA-1.5's)`, {
      file,
      field: 'mm_projector_type',
    });
  }
  const select = top['mm_vision_select_feature'] ?? 'patch';
  if (select !== 'patch' && select !== 'cls_patch') {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: mm_vision_select_feature ${JSON.stringify(select)} is not supported (supported: patch, cls_patch)`, {
      file,
      field: 'mm_vision_select_feature',
    });
  }
  const layer = top['mm_vision_select_layer'] ?? -2;
  if (typeof layer !== 'number' || !Number.isInteger(layer)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected an integer for "mm_vision_select_layer" but found ${JSON.stringify(layer)}`, { file, field: 'mm_vision_select_layer' });
  }
  const towerFile = join(towerDir, 'config.json');
  let tc: Json;
  try {
    tc = JSON.parse(readFileSync(towerFile, 'utf8')) as Json;
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${towerFile}: cannot read the vision tower's config (${(err as Error).message})`, { file: towerFile, cause: err });
  }
  const tt = tc['model_type'];
  if (tt !== 'clip' && tt !== 'clip_vision_model') {
    throw new PlastError('ERR_UNSUPPORTED', `${towerFile}: model_type ${JSON.stringify(tt)} is not a CLIP vision tower (supported: clip, clip_vision_model)`, {
      file: towerFile,
      field: 'model_type',
    });
  }
  const vc = tt === 'clip' ? (tc['vision_config'] ?? {}) : tc;
  if (typeof vc !== 'object' || vc === null || Array.isArray(vc)) {
    throw new PlastError('ERR_FORMAT', `${towerFile}: "vision_config" must be an object`, { file: towerFile, field: 'vision_config' });
  }
  const v: Json = { ...CLIP_DEFAULTS, ...(vc as Json) };
  const hidden = posInt(v, 'hidden_size', towerFile, tt === 'clip' ? 'vision_config.' : '');
  if (top['mm_hidden_size'] !== undefined && top['mm_hidden_size'] !== hidden) {
    throw new PlastError('ERR_MISMATCH', `${file}: mm_hidden_size is ${JSON.stringify(top['mm_hidden_size'])} but the vision tower in ${towerDir} is ${hidden} wide`, {
      file,
      field: 'mm_hidden_size',
    });
  }
  const prefix = tt === 'clip' ? 'vision_config.' : '';
  return {
    modelType,
    visionModelType: 'clip_vision_model',
    hiddenSize: hidden,
    intermediateSize: posInt(v, 'intermediate_size', towerFile, prefix),
    numLayers: posInt(v, 'num_hidden_layers', towerFile, prefix),
    numHeads: posInt(v, 'num_attention_heads', towerFile, prefix),
    numChannels: posInt(v, 'num_channels', towerFile, prefix),
    imageSize: squareSize(v, 'image_size', towerFile),
    patchSize: squareSize(v, 'patch_size', towerFile),
    layerNormEps: number(v, 'layer_norm_eps', towerFile, prefix),
    hiddenAct: string(v, 'hidden_act', towerFile, prefix),
    textHiddenSize: posInt(top, 'hidden_size', file, ''),
    featureLayer: layer,
    strategy: select === 'patch' ? 'default' : 'full',
    projectorAct: 'gelu',
    projectorBias: true,
    imageTokenId: IMAGE_TOKEN_INDEX,
    layout: 'original',
    towerDir,
    imageAspect: top['image_aspect_ratio'] === 'pad' ? 'pad' : 'crop',
  };
}

/**
 * The name a vision-tower or projector tensor of a LLaVA checkpoint has in the native model (the
 * names transformers 5 writes: vision_tower.embeddings.*, multi_modal_projector.*), or null for
 * every other tensor. Layouts: the hub's (vision_tower.vision_model.*), transformers 5's as saved
 * (vision_tower.*) and as held in memory (model.vision_tower.*, model.multi_modal_projector.*).
 */
export function visionTensorName(name: string): string | null {
  let n = name;
  // The original layout's projector: model.mm_projector.0 / .2 (nn.Sequential(Linear, GELU, Linear)).
  const mm = /^model\.mm_projector\.([02])\.(weight|bias)$/.exec(n);
  if (mm) return `multi_modal_projector.linear_${mm[1] === '0' ? 1 : 2}.${mm[2]}`;
  if (n.startsWith('model.vision_tower.') || n.startsWith('model.multi_modal_projector.')) n = n.slice('model.'.length);
  if (n.startsWith('vision_tower.vision_model.')) n = 'vision_tower.' + n.slice('vision_tower.vision_model.'.length);
  return n.startsWith('vision_tower.') || n.startsWith('multi_modal_projector.') ? n : null;
}

/** The native model's config from a VisionConfig. */
export function nativeClipConfig(c: VisionConfig): NativeClipConfig {
  return {
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    layers: c.numLayers,
    heads: c.numHeads,
    imageSize: c.imageSize,
    patchSize: c.patchSize,
    channels: c.numChannels,
    eps: c.layerNormEps,
    hiddenAct: c.hiddenAct,
    textHidden: c.textHiddenSize,
    featureLayer: c.featureLayer,
    strategy: c.strategy,
    projectorAct: c.projectorAct,
    projectorBias: c.projectorBias,
  };
}

export interface VisionLoadOptions extends WeightLoadOptions {
  backend?: BackendChoice;
  /** The original LLaVA layout's CLIP tower directory (--vision-tower). */
  visionTower?: string;
  /** Overrides config.json's vision_feature_layer (tests, experiments). */
  featureLayer?: number;
  /** Overrides config.json's vision_feature_select_strategy. */
  strategy?: string;
}

export interface EncodeOutput {
  /** [batch, featuresPerImage, featureDim]: the projected image features, row-major. */
  features: Float32Array;
  /** With { hidden: true }: the tower's hidden state at the feature layer, [batch, tokensPerImage, hiddenSize] (CLS first). */
  hidden?: Float32Array;
}

/** The vision tower and projector of a LLaVA checkpoint on one backend. Frozen: forward only. */
export class VisionTower implements Disposable {
  private constructor(
    readonly dir: string,
    readonly config: VisionConfig,
    readonly backend: BackendName,
    readonly native: NativeModel,
  ) {}

  static async load(dir: string, opts: VisionLoadOptions = {}): Promise<VisionTower> {
    const configPath = join(dir, 'config.json');
    const config = { ...readVisionConfig(configPath, opts.visionTower !== undefined ? { visionTower: opts.visionTower } : {}) };
    if (opts.featureLayer !== undefined) {
      if (!Number.isInteger(opts.featureLayer)) {
        throw new PlastError('ERR_INVALID', `Expected an integer for featureLayer but received ${JSON.stringify(opts.featureLayer)}`, {
          field: 'featureLayer',
        });
      }
      config.featureLayer = opts.featureLayer;
    }
    if (opts.strategy !== undefined) config.strategy = opts.strategy;
    const tensors = visionTensors(dir, config.towerDir);
    const backend = resolveBackend(opts.backend);
    let native: NativeModel;
    try {
      native = callSync(() => new (addon().NativeModel)(backend, nativeClipConfig(config), 'clip_llava'));
    } catch (err) {
      // The native side checks the config's values (activations, strategy, feature layer): name the file.
      const e = err as PlastError;
      if (e.code === 'ERR_UNSUPPORTED' || e.code === 'ERR_INVALID' || e.code === 'ERR_FORMAT') {
        throw new PlastError(e.code, `${configPath}: ${e.message}`, { file: configPath, cause: err });
      }
      throw err;
    }
    try {
      await loadWeights(native, { dir, tensors }, opts);
    } catch (err) {
      native.dispose();
      throw err;
    }
    return new VisionTower(dir, config, backend, native);
  }

  /** Patches per image ((imageSize / patchSize)^2). */
  get patches(): number {
    const g = Math.floor(this.config.imageSize / this.config.patchSize);
    return g * g;
  }

  /** Tokens the tower sees per image: CLS + patches. */
  get tokensPerImage(): number {
    return this.patches + 1;
  }

  /** Image features per image: the patches (default strategy) or CLS + patches (full). */
  get featuresPerImage(): number {
    return this.config.strategy === 'default' ? this.patches : this.tokensPerImage;
  }

  /** Width of a feature: the language model's hidden size. */
  get featureDim(): number {
    return this.config.textHiddenSize;
  }

  /** Values of one image's pixel_values: channels x imageSize x imageSize. */
  get pixelsPerImage(): number {
    return this.config.numChannels * this.config.imageSize * this.config.imageSize;
  }

  /**
   * Projected features of `batch` images: `pixels` is HF pixel_values, [batch, channels,
   * imageSize, imageSize] row-major (already resized, cropped and normalized).
   */
  async encode(pixels: Float32Array, batch: number, opts: { hidden?: boolean } = {}): Promise<EncodeOutput> {
    expectPositiveInt('batch', batch);
    if (!(pixels instanceof Float32Array)) {
      throw new PlastError('ERR_INVALID', `Expected a Float32Array for pixels but received ${describe(pixels)}`, { field: 'pixels' });
    }
    const c = this.config;
    if (pixels.length !== batch * this.pixelsPerImage) {
      throw new PlastError(
        'ERR_SHAPE',
        `Expected pixels of shape [${batch}, ${c.numChannels}, ${c.imageSize}, ${c.imageSize}] (${batch * this.pixelsPerImage} values) but received ${pixels.length} values`,
        { field: 'pixels' },
      );
    }
    const r = await call(() => this.native.encode({ B: batch, pixels, wantHidden: opts.hidden === true }));
    return r.hidden ? { features: r.features, hidden: r.hidden } : { features: r.features };
  }

  memory(): { inUse: number; peak: number } {
    return callSync(() => this.native.memory());
  }

  dispose(): void {
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get disposed(): boolean {
    return this.native.disposed();
  }
}

/** Whether `dir` is a LLaVA checkpoint that holds its vision tower (config.json and tensors). */
export function hasVisionTower(dir: string): boolean {
  let top: unknown;
  try {
    top = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    return false; // loading the model reports the config itself
  }
  const type = (top as Json | null)?.['model_type'];
  // The original layout holds only the projector here; its tower is found (or asked for) at load.
  if (type === 'llava_llama' || type === 'llava_mistral' || type === 'llava_qwen') return [...visionTensors(dir).keys()].some((n) => n.startsWith('multi_modal_projector.'));
  if (type !== 'llava') return false;
  return visionTensors(dir).size > 0;
}

/**
 * The vision tower's and projector's tensors of a checkpoint directory, by native name; with
 * `towerDir` (the original layout), the tower's from that CLIP checkpoint (vision_model.*; a
 * CLIPModel's text side is ignored).
 */
export function visionTensors(dir: string, towerDir?: string): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  const sources: [string, (n: string) => string | null][] = [[dir, visionTensorName]];
  if (towerDir !== undefined) sources.push([towerDir, (n) => (n.startsWith('vision_model.') ? 'vision_tower.' + n.slice('vision_model.'.length) : null)]);
  const files = sources.flatMap(([d, nameOf]) => shardFiles(d).map((file) => [file, nameOf] as const));
  for (const [file, nameOf] of files) {
    const h = readSafetensorsHeader(file);
    for (const t of h.tensors.values()) {
      const name = nameOf(t.name);
      if (name === null) continue;
      const prev = out.get(name);
      if (prev) {
        throw new PlastError('ERR_FORMAT', `${file}: tensor '${t.name}' duplicates '${prev.sourceName}' in ${prev.file}`, { file, field: t.name });
      }
      out.set(name, { ...t, name, file, sourceName: t.name });
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

function posInt(o: Json, k: string, file: string, prefix: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new PlastError('ERR_FORMAT', `${file}: expected a positive integer for "${prefix}${k}" but found ${JSON.stringify(v)}`, {
      file,
      field: prefix + k,
    });
  }
  return v;
}

function number(o: Json, k: string, file: string, prefix: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected a number for "${prefix}${k}" but found ${JSON.stringify(v)}`, { file, field: prefix + k });
  }
  return v;
}

function string(o: Json, k: string, file: string, prefix: string, dflt?: string): string {
  const v = o[k] ?? dflt;
  if (typeof v !== 'string') {
    throw new PlastError('ERR_FORMAT', `${file}: expected a string for "${prefix}${k}" but found ${JSON.stringify(v)}`, { file, field: prefix + k });
  }
  return v;
}

/** image_size / patch_size: a number, or a [height, width] pair that must be square. */
function squareSize(v: Json, k: string, file: string): number {
  const x = v[k];
  if (Array.isArray(x)) {
    if (x.length === 2 && x[0] === x[1]) return posInt({ [k]: x[0] }, k, file, 'vision_config.');
    throw new PlastError('ERR_UNSUPPORTED', `${file}: vision_config.${k} ${JSON.stringify(x)} is not square; only square images are supported`, {
      file,
      field: `vision_config.${k}`,
    });
  }
  return posInt(v, k, file, 'vision_config.');
}
