// config.json of an HF checkpoint -> the engine's model description. Supported: llama (incl.
// Vicuna), mistral, qwen2, and LLaVA checkpoints (llava with a text_config, or the original
// llava_llama layout), whose language model is one of these.
import { readFileSync } from 'node:fs';
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
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PlastError('ERR_IO', `${path}: cannot read config.json (${(err as Error).message})`, { file: path, cause: err });
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
  if (modelType === 'llava' || modelType === 'llava_next' || modelType === 'vipllava') {
    const tc = top['text_config'];
    if (typeof tc !== 'object' || tc === null) {
      throw new PlastError('ERR_FORMAT', `${file}: a ${modelType} config needs a "text_config" object`, { file, field: 'text_config' });
    }
    const t = tc as Json;
    const inner = typeof t['model_type'] === 'string' ? (t['model_type'] as string) : 'llama';
    c = { ...(inner === 'llama' ? LLAMA_DEFAULTS : {}), ...t, model_type: inner };
    isMultimodal = true;
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
      throw new PlastError('ERR_FORMAT', `${file}: required field "${k}" is missing`, { file, field: k });
    }
  }
  const hidden = int(c, 'hidden_size', file);
  const heads = int(c, 'num_attention_heads', file);
  const kvHeads = c['num_key_value_heads'] == null ? heads : int(c, 'num_key_value_heads', file);
  const headDim = c['head_dim'] == null ? hidden / heads : int(c, 'head_dim', file);
  if (!Number.isInteger(headDim)) {
    throw new PlastError('ERR_FORMAT', `${file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`, { file, field: 'hidden_size' });
  }
  if (heads % kvHeads !== 0) {
    throw new PlastError('ERR_FORMAT', `${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, { file, field: 'num_key_value_heads' });
  }
  if (c['hidden_act'] !== undefined && c['hidden_act'] !== 'silu') {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: hidden_act "${String(c['hidden_act'])}" is not supported (only silu: PLAST counts SwiGLU gates)`, { file, field: 'hidden_act' });
  }
  if (c['partial_rotary_factor'] !== undefined && c['partial_rotary_factor'] !== 1) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: partial_rotary_factor ${String(c['partial_rotary_factor'])} is not supported`, { file, field: 'partial_rotary_factor' });
  }
  let window = 0;
  // MistralConfig (transformers 5.18) defaults sliding_window to 4096 when the key is absent; an
  // explicit null means no window.
  const MISTRAL_SLIDING_WINDOW = 4096;
  if (arch === 'mistral') window = c['sliding_window'] === undefined ? MISTRAL_SLIDING_WINDOW : typeof c['sliding_window'] === 'number' ? c['sliding_window'] : 0;
  if (arch === 'qwen2' && c['use_sliding_window'] === true) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: qwen2 use_sliding_window=true (per-layer windows) is not supported`, { file, field: 'use_sliding_window' });
  }
  const attentionBias = c['attention_bias'] === true;
  const eos = c['eos_token_id'];
  const cfg: ModelConfig = {
    architecture: arch,
    modelType,
    vocabSize: int(c, 'vocab_size', file),
    hiddenSize: hidden,
    intermediateSize: int(c, 'intermediate_size', file),
    numLayers: int(c, 'num_hidden_layers', file),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    rmsNormEps: num(c, 'rms_norm_eps', file, 1e-6),
    qkvBias: arch === 'qwen2' ? true : arch === 'llama' ? attentionBias : false,
    oBias: arch === 'llama' ? attentionBias : false,
    mlpBias: arch === 'llama' ? c['mlp_bias'] === true : false,
    tieWordEmbeddings: (top['tie_word_embeddings'] ?? c['tie_word_embeddings']) === true,
    slidingWindow: window,
    rope: parseRope(c, file),
    maxPositions: typeof c['max_position_embeddings'] === 'number' ? c['max_position_embeddings'] : 2048,
    eosTokenIds: Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [],
    isMultimodal,
  };
  if (typeof c['bos_token_id'] === 'number') cfg.bosTokenId = c['bos_token_id'];
  if (typeof c['pad_token_id'] === 'number') cfg.padTokenId = c['pad_token_id'];
  const dtype = c['torch_dtype'] ?? c['dtype'] ?? top['torch_dtype'] ?? top['dtype'];
  if (typeof dtype === 'string') cfg.dtype = dtype;
  return cfg;
}

function parseRope(c: Json, file: string): RopeSpec {
  // transformers 5 writes rope_parameters (with rope_theta inside); 4.x writes rope_scaling + rope_theta.
  const params = (c['rope_parameters'] ?? c['rope_scaling']) as Json | null | undefined;
  const theta =
    typeof params?.['rope_theta'] === 'number' ? (params['rope_theta'] as number) : num(c, 'rope_theta', file, 10000);
  if (!params) return { type: 'default', theta };
  const type = String(params['rope_type'] ?? params['type'] ?? 'default');
  const field = c['rope_parameters'] ? 'rope_parameters' : 'rope_scaling';
  if (type === 'default') return { type, theta };
  if (type === 'linear') return { type, theta, factor: num(params, 'factor', file) };
  if (type === 'llama3') {
    return {
      type,
      theta,
      factor: num(params, 'factor', file),
      lowFreqFactor: num(params, 'low_freq_factor', file),
      highFreqFactor: num(params, 'high_freq_factor', file),
      originalMaxPositions: num(params, 'original_max_position_embeddings', file),
    };
  }
  throw new PlastError('ERR_UNSUPPORTED', `${file}: ${field} type "${type}" is not supported (default, linear, llama3)`, { file, field });
}

export function invFreqFor(cfg: ModelConfig): Float32Array {
  return ropeInvFreq(cfg.rope, cfg.headDim);
}

function str(o: Json, k: string, file: string): string {
  const v = o[k];
  if (typeof v !== 'string') {
    throw new PlastError('ERR_FORMAT', `${file}: required field "${k}" is ${v === undefined ? 'missing' : `not a string (${JSON.stringify(v)})`}`, { file, field: k });
  }
  return v;
}

function int(o: Json, k: string, file: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new PlastError('ERR_FORMAT', `${file}: expected a positive integer for "${k}" but found ${JSON.stringify(v)}`, { file, field: k });
  }
  return v;
}

function num(o: Json, k: string, file: string, dflt?: number): number {
  const v = o[k];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    throw new PlastError('ERR_FORMAT', `${file}: required field "${k}" is missing`, { file, field: k });
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected a number for "${k}" but found ${JSON.stringify(v)}`, { file, field: k });
  }
  return v;
}
