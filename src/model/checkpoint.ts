// An HF checkpoint directory: config.json + model.safetensors or sharded
// model.safetensors.index.json. Tensor names are mapped to the plain LLaMA layout
// ("model.layers.0...", "lm_head.weight") so LLaVA checkpoints load the same way.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readInputText } from '../util/input';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { ModelConfig, readConfig } from './config';
import { StHeader, StTensor, readSafetensorsHeader } from './safetensors';

export interface CheckpointTensor extends StTensor {
  file: string;
  sourceName: string; // the name in the file
}

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  files: StHeader[];
  tensors: Map<string, CheckpointTensor>; // canonical name -> location
  ignored: string[]; // vision tower, projector, rotary buffers, ...
}

/** The canonical (text-only LLaMA) name of a checkpoint tensor, or null for tensors we skip. */
export function canonicalName(name: string): string | null {
  let n = name;
  if (n.startsWith('language_model.')) n = n.slice('language_model.'.length); // llava-hf (transformers 4)
  if (n.startsWith('model.language_model.')) n = 'model.' + n.slice('model.language_model.'.length); // transformers 5
  if (n.endsWith('.rotary_emb.inv_freq')) return null;
  if (n === 'lm_head.weight' || n.startsWith('model.layers.') || n === 'model.embed_tokens.weight' || n === 'model.norm.weight') {
    return n;
  }
  return null; // vision_tower, multi_modal_projector, mm_projector, ...
}

export function openCheckpoint(dir: string): Checkpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new PlastError('ERR_IO', `${dir}: not a checkpoint directory (it does not exist or is not a directory)`, { file: dir });
  }
  const config = readConfig(join(dir, 'config.json'));
  const files = shardFiles(dir);
  const headers = files.map((f) => readSafetensorsHeader(f));
  const tensors = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  for (const h of headers) {
    for (const t of h.tensors.values()) {
      const canon = canonicalName(t.name);
      if (canon === null) {
        ignored.push(t.name);
        continue;
      }
      const prev = tensors.get(canon);
      if (prev) {
        throw new PlastError('ERR_FORMAT', `${h.file}: tensor '${t.name}' duplicates '${prev.sourceName}' in ${prev.file}`, { file: h.file, field: t.name });
      }
      tensors.set(canon, { ...t, name: canon, file: h.file, sourceName: t.name });
    }
  }
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) checkIndex(indexPath, headers);
  checkConfigShapes(join(dir, 'config.json'), config, tensors);
  return { dir, config, files: headers, tensors, ignored };
}

/**
 * config.json against the tensors the headers declare, before the native model is sized by it:
 * the layer count and the sizes that shape the embedding, the attention and the MLP. A config that
 * disagrees is an ERR_FORMAT naming config.json, the field and the tensor it contradicts (rather
 * than minutes building a million layers, or an allocation sized by a typo).
 */
export function checkConfigShapes(file: string, c: ModelConfig, tensors: Map<string, CheckpointTensor>): void {
  let maxLayer = -1;
  for (const name of tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) maxLayer = Math.max(maxLayer, Number(m[1]));
  }
  if (maxLayer >= 0 && maxLayer + 1 !== c.numLayers) {
    throw new PlastError(
      'ERR_FORMAT',
      `${file}: num_hidden_layers is ${c.numLayers} but the checkpoint's tensors have ${maxLayer + 1} decoder layers (model.layers.0 to model.layers.${maxLayer})`,
      { file, field: 'num_hidden_layers' },
    );
  }
  // Each dimension with the config field(s) it comes from, so the message names the one that is off.
  const expect = (name: string, dims: [number, string][]): void => {
    const t = tensors.get(name);
    const shape = dims.map((d) => d[0]);
    if (!t || t.shape.join(',') === shape.join(',')) return; // a missing tensor is reported by the loader
    const off = dims.findIndex((d, i) => t.shape[i] !== d[0]);
    const field = off >= 0 ? dims[off]![1] : dims.map((d) => d[1]).join(', ');
    throw new PlastError(
      'ERR_SHAPE',
      `${t.file}: tensor '${t.sourceName}' has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}] (${field} in ${file})`,
      { file, field: field.split(' ')[0]! },
    );
  };
  const H: [number, string] = [c.hiddenSize, 'hidden_size'];
  expect('model.embed_tokens.weight', [[c.vocabSize, 'vocab_size'], H]);
  if (!c.tieWordEmbeddings) {
    if (!tensors.has('lm_head.weight') && tensors.has('model.embed_tokens.weight')) {
      throw new PlastError('ERR_FORMAT', `${file}: tie_word_embeddings is false (or absent) but the checkpoint has no lm_head.weight; a checkpoint with a tied LM head says "tie_word_embeddings": true`, {
        file,
        field: 'tie_word_embeddings',
      });
    }
    expect('lm_head.weight', [[c.vocabSize, 'vocab_size'], H]);
  }
  if (maxLayer < 0) return;
  const p = 'model.layers.0.';
  expect(p + 'self_attn.q_proj.weight', [[c.numHeads * c.headDim, 'num_attention_heads x head_dim'], H]);
  expect(p + 'self_attn.k_proj.weight', [[c.numKvHeads * c.headDim, 'num_key_value_heads x head_dim'], H]);
  expect(p + 'mlp.gate_proj.weight', [[c.intermediateSize, 'intermediate_size'], H]);
}

/** The safetensors files of a checkpoint directory (the index's shards, model.safetensors, or every *.safetensors). */
export function shardFiles(dir: string): string[] {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const index = readIndex(indexPath);
    const files = [...new Set(Object.values(index))].sort();
    for (const f of files) {
      if (!existsSync(join(dir, f))) {
        throw new PlastError('ERR_FORMAT', `${indexPath}: shard "${f}" listed in weight_map does not exist`, { file: indexPath, field: 'weight_map' });
      }
    }
    return files.map((f) => join(dir, f));
  }
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  const any = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  if (any.length > 0) return any.map((f) => join(dir, f));
  const bins = readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.pt'));
  throw new PlastError(
    'ERR_FORMAT',
    bins.length > 0
      ? `${dir}: only PyTorch pickle weights (${bins.join(', ')}) were found; convert them to safetensors first`
      : `${dir}: no model.safetensors or model.safetensors.index.json found`,
    { file: dir },
  );
}

function readIndex(indexPath: string): Record<string, string> {
  let json: unknown;
  const text = readInputText(indexPath, 'shard index');
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PlastError('ERR_FORMAT', `${indexPath}: not valid JSON (${(err as Error).message})`, { file: indexPath, cause: err });
  }
  const map = (json as { weight_map?: unknown })?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new PlastError('ERR_FORMAT', `${indexPath}: expected a "weight_map" object of tensor name -> file`, { file: indexPath, field: 'weight_map' });
  }
  return map as Record<string, string>;
}

function checkIndex(indexPath: string, headers: StHeader[]): void {
  const index = readIndex(indexPath);
  for (const [name, file] of Object.entries(index)) {
    const h = headers.find((x) => x.file.endsWith('/' + file) || x.file === file);
    if (!h || !h.tensors.has(name)) {
      throw new PlastError('ERR_FORMAT', `${indexPath}: weight_map places '${name}' in ${file}, but that file does not contain it`, {
        file: indexPath,
        field: name,
      });
    }
  }
}
