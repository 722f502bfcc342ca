// Training checkpoints: everything needed to continue a run bit-identically.
//   DIR/state.json         format/version, step counter, schedule, the resolved training config,
//                          data fingerprint + example count, RNG (seed, epoch), the per-step
//                          losses so far, the base model's fingerprint
//   DIR/state.safetensors  F32 master.<name>, m.<name>, v.<name> for every trainable tensor, and
//                          I32 data.order (the current epoch's example order)
// Written into a temp directory and renamed into place (util/atomic writeDirAtomic), so a crash
// never leaves a half checkpoint; a reader only ever sees complete ones.
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { PlastError } from '../errors';
import type { EnglishCue, FormatName } from '../data/templates';
import { Checkpoint } from '../model/checkpoint';
import { Model } from '../model/model';
import { StLazyTensor, bytesOf, readSafetensorsHeader, writeSafetensorsStreamed } from '../model/safetensors';
import { writeDirAtomic, writeJsonAtomic } from '../util/atomic';
import { checkStateSchema } from './resume';
import { readInputText } from '../util/input';

export const STATE_FORMAT = 'plast-train-state';
export const STATE_VERSION = 1;

/** The options that determine the math of a run; a resume must use the same ones. */
export interface RunConfig {
  model: string;
  data: string[];
  layers: number[];
  modules: 'all' | 'attn' | 'mlp';
  epochs: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clip: number;
  batch: number;
  microBatch: number | null;
  microTokens: number;
  maxLen: number;
  warmup: number;
  /** The conversation format, resolved (data/templates.ts). */
  template: FormatName;
  /** Absent in checkpoints from before the option: assistant. */
  englishCue?: EnglishCue;
  langs: string[] | null;
  seed: number;
  limit: number | null;
}

export interface TrainState {
  format: typeof STATE_FORMAT;
  version: number;
  /** Optimizer updates done (the next update is 0-based step `step`). */
  step: number;
  totalSteps: number;
  stepsPerEpoch: number;
  warmupSteps: number;
  config: RunConfig;
  data: { fingerprint: string; examples: number; labelTokens: number };
  rng: { algorithm: 'mulberry32'; seed: number; epoch: number };
  base: { fingerprint: string; dtypes: Record<string, string> };
  trainable: string[];
  losses: number[];
  savedAt: string;
  engine: string;
}

/** A fingerprint of a checkpoint's weights layout (headers + sizes), cheap even for 7B models. */
export function baseFingerprint(ckpt: Checkpoint): string {
  const h = createHash('sha256');
  for (const f of ckpt.files) {
    h.update(`${f.fileSize}:${f.dataStart}:`);
    for (const t of [...f.tensors.values()].sort((a, b) => a.begin - b.begin)) h.update(`${t.name}|${t.dtype}|${t.shape.join('x')}|${t.begin};`);
  }
  return h.digest('hex');
}

export function checkpointDirName(step: number): string {
  return `checkpoint-${String(step).padStart(6, '0')}`;
}

/** Saves the run state at `state.step` under outDir/checkpoint-NNNNNN; returns the directory. */
export async function saveState(model: Model, outDir: string, state: TrainState, order: number[]): Promise<string> {
  const dir = join(outDir, checkpointDirName(state.step));
  await writeDirAtomic(dir, async (tmp) => {
    const tensors: StLazyTensor[] = [];
    for (const part of ['master', 'm', 'v'] as const) {
      for (const name of state.trainable) {
        const t = model.checkpoint.tensors.get(name)!;
        tensors.push({ name: `${part}.${name}`, dtype: 'F32', shape: t.shape, bytes: async () => bytesOf(await model.read(name, part)) });
      }
    }
    tensors.push({ name: 'data.order', dtype: 'I32', shape: [order.length], bytes: () => bytesOf(Int32Array.from(order)) });
    await writeSafetensorsStreamed(join(tmp, 'state.safetensors'), tensors, { format: STATE_FORMAT, step: String(state.step) });
    writeJsonAtomic(join(tmp, 'state.json'), state);
  });
  return dir;
}

export interface LoadedState {
  dir: string;
  state: TrainState;
  /** Reads one F32 tensor of state.safetensors. */
  tensor(name: string): Float32Array;
  order: number[];
}

/** A checkpoint directory, or a training output directory (its latest checkpoint is taken). */
export function resolveStateDir(path: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new PlastError('ERR_IO', `${path}: not a training checkpoint directory (it does not exist)`, { file: path });
  }
  if (existsSync(join(path, 'state.json'))) return path;
  const cands = readdirSync(path)
    .filter((d) => /^checkpoint-\d+$/.test(d) && existsSync(join(path, d, 'state.json')))
    .sort();
  if (cands.length === 0) {
    throw new PlastError('ERR_FORMAT', `${path}: no state.json and no checkpoint-NNNNNN/ with one inside`, { file: path });
  }
  return join(path, cands[cands.length - 1]!);
}

/** The output directory of the run a checkpoint belongs to (the directory that holds it): where a
 * resumed run continues unless told otherwise. */
export function runDirOf(path: string): string {
  return dirname(resolveStateDir(resolve(path)));
}

export function loadState(path: string): LoadedState {
  const dir = resolveStateDir(path);
  const jsonPath = join(dir, 'state.json');
  let state: TrainState;
  try {
    state = JSON.parse(readInputText(jsonPath, 'state.json')) as TrainState;
  } catch (err) {
    if (err instanceof PlastError) throw err;
    throw new PlastError('ERR_FORMAT', `${jsonPath}: not valid JSON (${(err as Error).message})`, { file: jsonPath, cause: err });
  }
  if (state?.format !== STATE_FORMAT) throw new PlastError('ERR_FORMAT', `${jsonPath}: format is "${String(state?.format)}", expected "${STATE_FORMAT}"`, { file: jsonPath, field: 'format' });
  if (state.version !== STATE_VERSION) {
    throw new PlastError('ERR_UNSUPPORTED', `${jsonPath}: state version ${state.version} is not supported (this engine reads ${STATE_VERSION})`, { file: jsonPath, field: 'version' });
  }
  checkStateSchema(state, jsonPath);
  const stPath = join(dir, 'state.safetensors');
  const h = readSafetensorsHeader(stPath);
  // Tensor by tensor from the file (a 7B run's state is many GB: never one buffer).
  const get = (name: string, dtype: 'F32' | 'I32'): Uint8Array => {
    const t = h.tensors.get(name);
    if (!t || t.dtype !== dtype) throw new PlastError('ERR_FORMAT', `${stPath}: tensor '${name}' (${dtype}) is missing`, { file: stPath, field: name });
    const out = new Uint8Array(t.end - t.begin);
    const fd = openSync(stPath, 'r');
    try {
      let off = 0;
      while (off < out.length) {
        const n = readSync(fd, out, off, Math.min(out.length - off, 1 << 30), t.begin + off);
        if (n <= 0) throw new PlastError('ERR_FORMAT', `${stPath}: truncated inside '${name}'`, { file: stPath, field: name });
        off += n;
      }
    } finally {
      closeSync(fd);
    }
    return out;
  };
  const orderBytes = get('data.order', 'I32');
  return {
    dir,
    state,
    tensor: (name) => {
      const b = get(name, 'F32');
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    },
    order: Array.from(new Int32Array(orderBytes.buffer, orderBytes.byteOffset, orderBytes.byteLength / 4)),
  };
}
