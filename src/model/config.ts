// config.json of an HF checkpoint -> the engine's model description. Supported: llama (incl.
// Vicuna), mistral, qwen2, and LLaVA checkpoints (llava with a text_config, or the original
// llava_llama layout), whose language model is one of these.
import { readInputText } from '../util/input';
import { PlastError } from '../errors';
import { RopeSpec, ropeInvFreq } from './rope';

export type Architecture = 'llama' | 'mistral' | 'qwen2';

export interface ModelConfig {
  architecture: Architecture;
  modelType: string; // as written in config.json (llama, mistral, qwen2, llava, llava_llama, ...)
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  slidingWindow: number; // 0 = none
  rope: RopeSpec;
  maxPositions: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  padTokenId?: number;
  dtype?: string;
  isMultimodal: boolean;
}

type Json = Record<string, unknown>;

/** Defaults HF's LlamaConfig applies; LLaVA text_configs routinely omit these. */
const LLAMA_DEFAULTS: Json = {
  vocab_size: 32000,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 2048,
  rope_theta: 10000,
};

const REQUIRED = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'] as const;

export function readConfig(path: string): ModelConfig {
  let raw: string;
  try {
    raw = readInputText(path, 'config.json');
  } catch (err) {
    throw new PlastError('ERR_IO', (err as Error).message, { file: path, cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${path}: not valid JSON (${(err as Error).message})`, { file: path, cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PlastError('ERR_FORMAT', `${path}: expected a JSON object`, { file: path });
  }
  return parseConfig(json as Json, path);
}

export function parseConfig(top: Json, file = 'config.json'): ModelConfig {
  const modelType = str(top, 'model_type', file);
  let c: Json = top;
  let isMultimodal = false;
  let prefix = ''; // where the language model's fields sit, for messages ("text_config.")
  if (modelType === 'llava' || modelType === 'llava_next' || modelType === 'vipllava') {
    const tc = top['text_config'];
    if (typeof tc !== 'object' || tc === null || Array.isArray(tc)) {
      throw new PlastError('ERR_FORMAT', `${file}: a ${modelType} config needs a "text_config" object`, { file, field: 'text_config' });
    }
    const t = tc as Json;
    if (t['model_type'] !== undefined && typeof t['model_type'] !== 'string') {
      throw fieldError(file, 'text_config.model_type', 'a string', t['model_type']);
    }
    const inner = typeof t['model_type'] === 'string' ? (t['model_type'] as string) : 'llama';
    c = { ...(inner === 'llama' ? LLAMA_DEFAULTS : {}), ...t, model_type: inner };
    isMultimodal = true;
    prefix = 'text_config.';
  } else if (modelType === 'llava_llama' || modelType === 'llava_mistral' || modelType === 'llava_qwen') {
    c = { ...top, model_type: modelType.slice('llava_'.length).replace('qwen', 'qwen2') };
    isMultimodal = true;
  }
  const arch = String(c['model_type']);
  if (arch !== 'llama' && arch !== 'mistral' && arch !== 'qwen2') {
    throw new PlastError(
      'ERR_UNSUPPORTED',
      `${file}: unsupported architecture "${modelType}"${arch !== modelType ? ` (language model "${arch}")` : ''}; supported: llama, mistral, qwen2, llava`,
      { file, field: 'model_type' },
    );
  }
  for (const k of REQUIRED) {
    if (c[k] === undefined) {
      throw new PlastError('ERR_FORMAT', `${file}: required field "${prefix}${k}" is missing`, { file, field: prefix + k });
    }
  }
  const f = new Fields(c, file, prefix);
  const hidden = f.int('hidden_size', LIMITS.hidden_size);
  const heads = f.int('num_attention_heads', LIMITS.heads);
  const kvHeads = c['num_key_value_heads'] == null ? heads : f.int('num_key_value_heads', LIMITS.heads);
  const headDim = c['head_dim'] == null ? hidden / heads : f.int('head_dim', LIMITS.head_dim);
  if (!Number.isInteger(headDim)) {
    throw new PlastError('ERR_FORMAT', `${file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`, { file, field: prefix + 'hidden_size' });
  }
  if (headDim % 2 !== 0) {
    // RoPE rotates pairs of dimensions.
    throw new PlastError('ERR_FORMAT', `${file}: the head dimension ${headDim} is odd; RoPE needs an even head_dim`, { file, field: prefix + (c['head_dim'] == null ? 'hidden_size' : 'head_dim') });
  }
  if (heads % kvHeads !== 0) {
    throw new PlastError('ERR_FORMAT', `${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, { file, field: prefix + 'num_key_value_heads' });
  }
  if (c['hidden_act'] !== undefined && c['hidden_act'] !== 'silu') {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: hidden_act "${String(c['hidden_act'])}" is not supported (only silu: PLAST counts SwiGLU gates)`, { file, field: prefix + 'hidden_act' });
  }
  if (c['partial_rotary_factor'] != null && c['partial_rotary_factor'] !== 1) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: partial_rotary_factor ${JSON.stringify(c['partial_rotary_factor'])} is not supported`, { file, field: prefix + 'partial_rotary_factor' });
  }
  let window = 0;
  // MistralConfig (transformers 5.18) defaults sliding_window to 4096 when the key is absent; an
  // explicit null means no window.
  const MISTRAL_SLIDING_WINDOW = 4096;
  if (arch === 'mistral') window = c['sliding_window'] === undefined ? MISTRAL_SLIDING_WINDOW : c['sliding_window'] === null ? 0 : f.int('sliding_window', LIMITS.positions);
  if (arch === 'qwen2' && f.bool('use_sliding_window') === true) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: qwen2 use_sliding_window=true (per-layer windows) is not supported`, { file, field: prefix + 'use_sliding_window' });
  }
  const attentionBias = f.bool('attention_bias') === true;
  const mlpBias = f.bool('mlp_bias') === true;
  const vocab = f.int('vocab_size', LIMITS.vocab);
  const maxPositions = c['max_position_embeddings'] == null ? 2048 : f.int('max_position_embeddings', LIMITS.positions);
  const tie = top !== c && top['tie_word_embeddings'] != null ? new Fields(top, file, '').bool('tie_word_embeddings') : f.bool('tie_word_embeddings');
  const cfg: ModelConfig = {
    architecture: arch,
    modelType,
    vocabSize: vocab,
    hiddenSize: hidden,
    intermediateSize: f.int('intermediate_size', LIMITS.intermediate),
    numLayers: f.int('num_hidden_layers', LIMITS.layers),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    // eps must be > 0 (a negative one makes rsqrt of a possibly negative mean: all-zero or NaN
    // activations) and small (it is added to a mean square).
    rmsNormEps: f.num('rms_norm_eps', { dflt: 1e-6, min: 0, minOpen: true, max: 1 }),
    qkvBias: arch === 'qwen2' ? true : arch === 'llama' ? attentionBias : false,
    oBias: arch === 'llama' ? attentionBias : false,
    mlpBias: arch === 'llama' ? mlpBias : false,
    tieWordEmbeddings: tie === true,
    slidingWindow: window,
    rope: parseRope(c, file, prefix),
    maxPositions,
    eosTokenIds: tokenIds(f, 'eos_token_id', vocab),
    isMultimodal,
  };
  const bos = tokenIds(f, 'bos_token_id', vocab, false);
  if (bos.length > 0) cfg.bosTokenId = bos[0]!;
  const pad = tokenIds(f, 'pad_token_id', vocab, false);
  if (pad.length > 0) cfg.padTokenId = pad[0]!;
  const dtype = c['torch_dtype'] ?? c['dtype'] ?? top['torch_dtype'] ?? top['dtype'];
  if (typeof dtype === 'string') cfg.dtype = dtype;
  return cfg;
}

/**
 * Upper bounds well above any released model, so that a typo (2^40 layers or head_dim) is a
 * typed error naming the field before anything sizes an array or a loop by it.
 */
const LIMITS = {
  vocab: 1 << 24,
  hidden_size: 1 << 17,
  intermediate: 1 << 20,
  layers: 4096,
  heads: 4096,
  head_dim: 4096,
  positions: 1 << 24,
} as const;

/** Token ids: an integer (or, with `list`, a list of them) in [0, vocab); null/absent = none. */
function tokenIds(f: Fields, k: string, vocab: number, list = true): number[] {
  const v = f.o[k];
  if (v == null) return [];
  // -1 is HF's conventional "no such token" in older llama configs.
  if (v === -1) return [];
  const vals = Array.isArray(v) && list ? v : [v];
  for (const x of vals) {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab) {
      throw fieldError(f.file, f.prefix + k, `${list ? 'a token id or a list of token ids' : 'a token id'} in [0, ${vocab - 1}] (vocab_size ${vocab})`, v);
    }
  }
  return vals as number[];
}

function parseRope(c: Json, file: string, prefix: string): RopeSpec {
  // transformers 5 writes rope_parameters (with rope_theta inside); 4.x writes rope_scaling + rope_theta.
  const field = c['rope_parameters'] != null ? 'rope_parameters' : 'rope_scaling';
  const raw = c[field];
  if (raw != null && (typeof raw !== 'object' || Array.isArray(raw))) {
    // `rope_scaling: "linear"` is not a rope config; silently using the default rope would
    // give a different model.
    throw fieldError(file, prefix + field, 'an object such as {"rope_type": "linear", "factor": 2}', raw);
  }
  const params = raw as Json | null | undefined;
  const top = new Fields(c, file, prefix);
  const p = new Fields(params ?? {}, file, `${prefix}${field}.`);
  const positive = { min: 0, minOpen: true };
  const theta = params?.['rope_theta'] != null ? p.num('rope_theta', positive) : top.num('rope_theta', { ...positive, dflt: 10000 });
  if (!params) return { type: 'default', theta };
  const t = params['rope_type'] ?? params['type'] ?? 'default';
  if (typeof t !== 'string') throw fieldError(file, `${prefix}${field}.rope_type`, 'a string', t);
  const type = t;
  if (type === 'default') return { type, theta };
  if (type === 'linear') return { type, theta, factor: p.num('factor', positive) };
  if (type === 'llama3') {
    const low = p.num('low_freq_factor', positive);
    const high = p.num('high_freq_factor', positive);
    if (!(high > low)) {
      throw new PlastError('ERR_FORMAT', `${file}: ${prefix}${field}.high_freq_factor ${high} must be greater than low_freq_factor ${low}`, { file, field: `${prefix}${field}.high_freq_factor` });
    }
    return {
      type,
      theta,
      factor: p.num('factor', positive),
      lowFreqFactor: low,
      highFreqFactor: high,
      originalMaxPositions: p.int('original_max_position_embeddings', LIMITS.positions),
    };
  }
  throw new PlastError('ERR_UNSUPPORTED', `${file}: ${field} type "${type}" is not supported (default, linear, llama3)`, { file, field: prefix + field });
}

export function invFreqFor(cfg: ModelConfig): Float32Array {
  return ropeInvFreq(cfg.rope, cfg.headDim);
}

function fieldError(file: string, field: string, expected: string, v: unknown): PlastError {
  return new PlastError('ERR_FORMAT', `${file}: expected ${expected} for "${field}" but found ${JSON.stringify(v)}`, { file, field });
}

function str(o: Json, k: string, file: string): string {
  const v = o[k];
  if (typeof v !== 'string') {
    throw new PlastError('ERR_FORMAT', `${file}: required field "${k}" is ${v === undefined ? 'missing' : `not a string (${JSON.stringify(v)})`}`, { file, field: k });
  }
  return v;
}

/** Typed reads of one JSON object's fields; every failure names the file and the (prefixed) field. */
class Fields {
  constructor(readonly o: Json, readonly file: string, readonly prefix: string) {}

  int(k: string, max: number): number {
    const v = this.o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw fieldError(this.file, this.prefix + k, 'a positive integer', v);
    if (v > max) throw fieldError(this.file, this.prefix + k, `a positive integer of at most ${max}`, v);
    return v;
  }

  num(k: string, o: { dflt?: number; min?: number; minOpen?: boolean; max?: number } = {}): number {
    const v = this.o[k];
    if (v === undefined || v === null) {
      if (o.dflt !== undefined) return o.dflt;
      throw new PlastError('ERR_FORMAT', `${this.file}: required field "${this.prefix}${k}" is missing`, { file: this.file, field: this.prefix + k });
    }
    const range =
      o.min !== undefined ? (o.max !== undefined ? ` in ${o.minOpen ? '(' : '['}${o.min}, ${o.max}]` : o.minOpen && o.min === 0 ? ' > 0' : ` >= ${o.min}`) : '';
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      (o.min !== undefined && (o.minOpen ? v <= o.min : v < o.min)) ||
      (o.max !== undefined && v > o.max)
    ) {
      throw fieldError(this.file, this.prefix + k, `a finite number${range}`, v);
    }
    return v;
  }

  bool(k: string): boolean | undefined {
    const v = this.o[k];
    if (v == null) return undefined;
    if (typeof v !== 'boolean') throw fieldError(this.file, this.prefix + k, 'true or false', v);
    return v;
  }
}
