// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets: [begin, end]}}, then the data. Reading takes the header only (the data stays on
// disk); every way a file can be malformed is an ERR_FORMAT (or ERR_DTYPE) naming the file and the
// tensor. Writing is streamed and atomic (SafetensorsWriter), with the f32 -> bf16/f16 encodings.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { PlastError } from '../errors';
import { tempSibling } from '../util/atomic';
import { openInput } from '../util/input';
import { makeDirs } from '../util/paths';

export type StDType = 'BF16' | 'F16' | 'F32' | 'F64' | 'I8' | 'U8' | 'I16' | 'U16' | 'I32' | 'U32' | 'I64' | 'U64' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const DTYPE_BYTES: Record<StDType, number> = {
  BF16: 2, F16: 2, F32: 4, F64: 8, I8: 1, U8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export interface StTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  /** Absolute byte offsets in the file. */
  begin: number;
  end: number;
}

export interface StHeader {
  file: string;
  fileSize: number;
  dataStart: number;
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

/** The most a header may be (the format's own limit is 100 MB). */
const MAX_HEADER = 100 * 1024 * 1024;

export function readSafetensorsHeader(file: string): StHeader {
  const fd = openInput(file, 'safetensors file'); // a directory or FIFO in a shard's place: ERR_IO
  try {
    const size = fstatSync(fd).size;
    const fail = (msg: string, field?: string): never => {
      throw new PlastError('ERR_FORMAT', `${file}: ${msg}`, field !== undefined ? { file, field } : { file });
    };
    if (size < 8) fail(`truncated: ${size} bytes, but a safetensors file starts with an 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const len = lenBuf.readBigUInt64LE(0);
    if (len > BigInt(size - 8)) fail(`header length ${len} runs past the end of the file (${size} bytes)`, 'header');
    if (len > BigInt(MAX_HEADER)) fail(`header length ${len} exceeds the 100 MB limit`, 'header');
    const n = Number(len);
    const hb = Buffer.alloc(n);
    if (readSync(fd, hb, 0, n, 8) !== n) fail('truncated while reading the header', 'header');
    let json: unknown;
    try {
      json = JSON.parse(hb.toString('utf8'));
    } catch (err) {
      fail(`the header is not valid JSON (${(err as Error).message})`, 'header');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('the header is not a JSON object', 'header');
    const dataStart = 8 + n;
    const dataSize = size - dataStart;
    const tensors = new Map<string, StTensor>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        // The format says: a map of string to string; anything else is refused, not used as is.
        if (v !== null && (typeof v !== 'object' || Array.isArray(v) || !Object.values(v as object).every((x) => typeof x === 'string'))) {
          fail(`__metadata__ is not an object of strings (${JSON.stringify(v).slice(0, 80)})`, '__metadata__');
        }
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
      if (typeof e !== 'object' || e === null) fail(`tensor '${name}': expected an object in the header`, name);
      const dtype = e!.dtype;
      if (typeof dtype !== 'string') fail(`tensor '${name}': missing dtype`, `${name}.dtype`);
      if (!(dtype as string in DTYPE_BYTES)) {
        throw new PlastError('ERR_DTYPE', `${file}: tensor '${name}' has unknown dtype "${String(dtype)}"`, { file, field: `${name}.dtype` });
      }
      const shape = e!.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`, `${name}.shape`);
      }
      const offs = e!.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0)) {
        fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} is not [begin, end]`, `${name}.data_offsets`);
      }
      const [b, en] = offs as [number, number];
      if (b > en || en > dataSize) {
        fail(`tensor '${name}': data_offsets [${b}, ${en}] lie outside the data section (${dataSize} bytes)`, `${name}.data_offsets`);
      }
      const numel = (shape as number[]).reduce((a, d) => a * d, 1);
      const want = numel * DTYPE_BYTES[dtype as StDType];
      if (en - b !== want) {
        fail(
          `tensor '${name}': shape ${JSON.stringify(shape)} x ${String(dtype)} needs ${want} bytes but data_offsets [${b}, ${en}] hold ${en - b}`,
          `${name}.data_offsets`,
        );
      }
      tensors.set(name, { name, dtype: dtype as StDType, shape: shape as number[], begin: dataStart + b, end: dataStart + en });
    }
    const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.begin < prev.end) {
        fail(`tensors '${prev.name}' and '${cur.name}' overlap in the data section`, `${cur.name}.data_offsets`);
      }
    }
    return { file, fileSize: size, dataStart, tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

// ---- writing ----
// One writer for every safetensors file the engine writes (exports, deltas, training state,
// profile counts, logit dumps): the header first, then each tensor's bytes in header order, so a
// multi-GB file never sits in one JS Buffer; written to a temp file beside the target and renamed
// into place on close, so a reader never sees half a file.

export interface StSpec {
  name: string;
  dtype: StDType;
  shape: number[];
}

export interface StWriteTensor extends StSpec {
  data: Uint8Array; // little-endian bytes, exactly numel * dtype size
}

function byteSize(s: StSpec): number {
  return s.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[s.dtype];
}

/** The header bytes (length prefix + JSON) for tensors laid out in the given order; the JSON is
 * space-padded so the data section starts 8-byte aligned (as the reference writer does). */
export function safetensorsHeader(specs: StSpec[], metadata?: Record<string, string>, file?: string): Buffer {
  const where = file !== undefined ? `${file}: ` : '';
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of specs) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new PlastError('ERR_INVALID', `${where}tensor '${t.name}' listed twice (or a reserved name)`);
    }
    if (!(t.dtype in DTYPE_BYTES)) throw new PlastError('ERR_DTYPE', `${where}tensor '${t.name}': unknown dtype ${String(t.dtype)}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new PlastError('ERR_SHAPE', `${where}tensor '${t.name}': shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    }
    const n = byteSize(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hb.length);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  return out;
}

/**
 * Writes a safetensors file tensor by tensor, in the order of `specs`. close() fsyncs and renames
 * the temp file into place; abort() (or a failed close) removes it and leaves any old file as it was.
 */
export class SafetensorsWriter {
  private readonly tmp: string;
  private fd: number;
  private next = 0;
  private done = false;

  constructor(readonly path: string, private readonly specs: StSpec[], metadata?: Record<string, string>) {
    const header = safetensorsHeader(specs, metadata, path);
    this.tmp = tempSibling(path);
    makeDirs(dirname(path), 'create the directory', path);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (err) {
      throw new PlastError('ERR_IO', `${path}: cannot create (${(err as Error).message})`, { file: path, cause: err });
    }
    this.put(header);
  }

  private put(buf: Uint8Array): void {
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (err) {
      this.abort();
      throw new PlastError('ERR_IO', `${this.path}: write failed (${(err as Error).message})`, { file: this.path, cause: err });
    }
  }

  /** The next tensor's bytes (tensors must come in the order of the specs). */
  write(name: string, data: Uint8Array): void {
    if (this.done) throw new PlastError('ERR_INTERNAL', `${this.path}: write of '${name}' after close`);
    const spec = this.specs[this.next];
    if (!spec || spec.name !== name) {
      throw new PlastError('ERR_INTERNAL', `${this.path}: expected tensor '${spec?.name ?? '(none)'}' next but received '${name}'`);
    }
    const want = byteSize(spec);
    if (data.byteLength !== want) {
      throw new PlastError('ERR_SHAPE', `${this.path}: tensor '${name}' [${spec.shape.join(', ')}] x ${spec.dtype} needs ${want} bytes but received ${data.byteLength}`);
    }
    this.put(data);
    this.next++;
  }

  /** Completes the file: every tensor must have been written. */
  close(): void {
    if (this.done) return;
    if (this.next !== this.specs.length) {
      this.abort();
      throw new PlastError('ERR_INTERNAL', `${this.path}: closed after ${this.next} of ${this.specs.length} tensors`);
    }
    this.done = true;
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      renameSync(this.tmp, this.path);
    } catch (err) {
      rmSync(this.tmp, { force: true });
      throw new PlastError('ERR_IO', `${this.path}: cannot complete (${(err as Error).message})`, { file: this.path, cause: err });
    }
  }

  /** Drops the partial file (after a failure); the target path is untouched. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}

/** Writes a whole safetensors file (atomically) from tensors already in memory. */
export function writeSafetensors(path: string, tensors: StWriteTensor[], metadata?: Record<string, string>): void {
  const w = new SafetensorsWriter(path, tensors, metadata);
  try {
    for (const t of tensors) w.write(t.name, t.data);
    w.close();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** A tensor whose bytes are produced only when it is its turn to be written. */
export interface StLazyTensor extends StSpec {
  bytes(): Uint8Array | Promise<Uint8Array>;
}

/** Writes a safetensors file (atomically) holding at most one tensor's bytes in memory at a time
 * (e.g. weights read back from the backend one by one). */
export async function writeSafetensorsStreamed(path: string, tensors: StLazyTensor[], metadata?: Record<string, string>): Promise<void> {
  const w = new SafetensorsWriter(path, tensors, metadata);
  try {
    for (const t of tensors) w.write(t.name, await t.bytes());
    w.close();
  } catch (err) {
    w.abort();
    throw err;
  }
}

// ---- element encodings ----
// f32 -> bf16 / f16 with round-to-nearest-even and NaN kept a NaN: the rules of
// native/include/plast/half.h, so an export holds exactly the weights the backend computes with.

export function bytesOf(a: Float32Array | Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
/** f32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet bit set). */
export function f32ToBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!;
    if ((v & 0x7fffffff) > 0x7f800000) out[i] = (v >>> 16) | 0x40;
    else out[i] = ((v + 0x7fff + ((v >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** f32 -> IEEE half bits, round to nearest even, overflow to inf, subnormals rounded. */
export function f32ToF16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i]!;
    const sign = (v >>> 16) & 0x8000;
    const a = v & 0x7fffffff;
    if (a > 0x7f800000) out[i] = sign | 0x7e00;
    else if (a >= 0x477ff000) out[i] = sign | 0x7c00;
    else if (a < 0x38800000) {
      if (a < 0x33000000) out[i] = sign;
      else {
        const e = a >>> 23;
        const m = (a & 0x7fffff) | 0x800000;
        const shift = 126 - e;
        let r = m >>> shift;
        const rem = m & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        if (rem > half || (rem === half && (r & 1) === 1)) r++;
        out[i] = sign | r;
      }
    } else {
      let r = a - 0x38000000;
      r += 0xfff + ((r >>> 13) & 1);
      out[i] = sign | (r >>> 13);
    }
  }
  return out;
}

/** f32 values as the bytes of a checkpoint dtype (F32 as is, BF16/F16 rounded to nearest even). */
export function encodeAs(dtype: StDType, x: Float32Array): Uint8Array {
  if (dtype === 'F32') return bytesOf(x);
  if (dtype === 'BF16') return bytesOf(f32ToBf16(x));
  if (dtype === 'F16') return bytesOf(f32ToF16(x));
  throw new PlastError('ERR_DTYPE', `cannot write a trained tensor as ${dtype} (BF16, F16 or F32)`);
}
