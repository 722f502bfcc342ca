// The final export: an HF-loadable checkpoint directory that is the input checkpoint with the tuned
// tensors replaced, plus a small delta.safetensors holding only those.
//  - every non-weight file of the input directory (config.json, tokenizer files,
//    generation_config.json, ...) is copied byte for byte;
//  - every shard keeps its name, header and layout (the tuned tensors keep dtype and shape, so
//    their byte ranges do not move): bytes are copied in chunks, never a whole shard in memory,
//    and only the tuned tensors' ranges are replaced by the master weights rounded to the
//    original dtype (bf16/f16: round to nearest even; f32: as is);
//  - the index json (if any) is copied as is: same shards, same weight_map.
// Vision towers and projectors of LLaVA checkpoints are untouched bytes of their shards.
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { PlastError } from '../errors';
import { CheckpointTensor } from '../model/checkpoint';
import { Model } from '../model/model';
import { encodeAs, writeSafetensorsStreamed } from '../model/safetensors';
import { writeDirAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';

const WEIGHT_EXT = /\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|gguf)$/;
const CHUNK = 8 << 20;

export interface ExportResult {
  dir: string;
  delta: string;
  tuned: string[]; // canonical names
  shards: string[]; // shard files written (relative to dir)
  copied: string[]; // other files copied
  bytes: number;
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function copyRange(fdIn: number, fdOut: number, from: number, to: number, buf: Buffer, file: string): void {
  let pos = from;
  while (pos < to) {
    const n = readSync(fdIn, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n <= 0) throw new PlastError('ERR_IO', `${file}: unexpected end of file at byte ${pos}`, { file });
    writeAll(fdOut, buf.subarray(0, n));
    pos += n;
  }
}

/** Master weights of a trainable tensor, as the bytes of the checkpoint's dtype for it. */
async function tunedBytes(model: Model, t: CheckpointTensor): Promise<Uint8Array> {
  const bytes = encodeAs(t.dtype, await model.read(t.name, 'master'));
  if (bytes.byteLength !== t.end - t.begin) {
    throw new PlastError('ERR_INTERNAL', `${t.file}: tuned '${t.sourceName}' has ${bytes.byteLength} bytes but its range holds ${t.end - t.begin}`);
  }
  return bytes;
}

/**
 * Writes the export directory `dir` (atomically: temp dir + rename) and `deltaPath` (temp file +
 * rename) from the model's trainable tensors.
 */
export async function exportCheckpoint(model: Model, dir: string, deltaPath: string, metadata: Record<string, string> = {}): Promise<ExportResult> {
  // Two outputs, one writer each; under train()'s lock on the run directory this just runs.
  return withOutputLock(dir, 'export', () => withOutputLock(deltaPath, 'export', () => exportLocked(model, dir, deltaPath, metadata)));
}

async function exportLocked(model: Model, dir: string, deltaPath: string, metadata: Record<string, string>): Promise<ExportResult> {
  const ckpt = model.checkpoint;
  const tuned = model.trainable();
  if (tuned.length === 0) throw new PlastError('ERR_INVALID', 'nothing to export: the model has no trainable tensors');
  const tensors = tuned.map((n) => {
    const t = ckpt.tensors.get(n);
    if (!t) throw new PlastError('ERR_INTERNAL', `trainable tensor '${n}' is not in the checkpoint`);
    return t;
  });
  const shards: string[] = [];
  const copied: string[] = [];
  let bytes = 0;
  await writeDirAtomic(dir, async (tmp) => {
    for (const f of readdirSync(ckpt.dir)) {
      const p = join(ckpt.dir, f);
      if (!statSync(p).isFile() || WEIGHT_EXT.test(f) || f.startsWith('.')) continue;
      copyFileSync(p, join(tmp, f));
      copied.push(f);
    }
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const h of ckpt.files) {
      const rel = relative(ckpt.dir, h.file);
      const out = join(tmp, rel);
      mkdirSync(dirname(out), { recursive: true });
      const patches = tensors.filter((t) => t.file === h.file).sort((a, b) => a.begin - b.begin);
      const fdIn = openSync(h.file, 'r');
      const fdOut = openSync(out, 'w');
      try {
        let pos = 0;
        for (const t of patches) {
          copyRange(fdIn, fdOut, pos, t.begin, buf, h.file);
          writeAll(fdOut, await tunedBytes(model, t));
          pos = t.end;
        }
        copyRange(fdIn, fdOut, pos, h.fileSize, buf, h.file);
      } finally {
        closeSync(fdIn);
        closeSync(fdOut);
      }
      shards.push(rel);
      bytes += h.fileSize;
    }
  });
  // The delta: the tuned tensors only, under their names in the source checkpoint.
  const ordered = [...tensors].sort((a, b) => (a.sourceName < b.sourceName ? -1 : 1));
  await writeSafetensorsStreamed(
    deltaPath,
    ordered.map((t) => ({ name: t.sourceName, dtype: t.dtype, shape: t.shape, bytes: () => tunedBytes(model, t) })),
    { format: 'pt', ...metadata },
  );
  return { dir, delta: deltaPath, tuned, shards, copied, bytes };
}
