// Loading a checkpoint's tensors into a native model: every declared weight present with the
// shape the config implies, file by file, optionally scanned for NaN/Inf. Shared by the decoder
// (model.ts) and the vision tower (vision.ts).
import { PlastError } from '../errors';
import { NativeModel, NativeTensorEntry, call, callSync } from '../native';
import { Checkpoint } from './checkpoint';

export interface WeightLoadOptions {
  /** Called after each safetensors file is loaded. */
  onProgress?: (filesDone: number, filesTotal: number) => void;
  /**
   * Refuse a weight holding NaN or Inf (ERR_FORMAT naming the tensor and the first bad index).
   * Default true, unless PLAST_SKIP_FINITE_CHECK=1; false skips the scan for trusted checkpoints.
   */
  checkFinite?: boolean;
}

/** Whether loading scans the weights for NaN/Inf: the option, else PLAST_SKIP_FINITE_CHECK. */
export function checkFiniteOption(opts: Pick<WeightLoadOptions, 'checkFinite'>): boolean {
  return opts.checkFinite ?? process.env['PLAST_SKIP_FINITE_CHECK'] !== '1';
}

/**
 * Every tensor the native model declares must be in the checkpoint (by canonical name), with the
 * shape config.json implies; tensors it does not declare are not loaded. Shared by the decoder and
 * the vision tower (src/model/vision.ts).
 */
export async function loadWeights(
  native: NativeModel,
  ckpt: Pick<Checkpoint, 'dir' | 'tensors'>,
  opts: WeightLoadOptions,
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
