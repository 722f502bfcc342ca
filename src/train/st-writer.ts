// A streaming safetensors writer (header first, then each tensor's bytes in header order, so a
// multi-GB file never sits in one JS Buffer) and the float conversions the export needs:
// f32 -> bf16 / f16 with round-to-nearest-even, NaN kept a NaN (the same rules as
// native/include/plast/half.h, so the export equals the weights the backend computes with).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { PlastError } from '../errors';
import { DTYPE_BYTES, StDType } from '../model/safetensors';

export interface StSpec {
  name: string;
  dtype: StDType;
  shape: number[];
}

function numel(shape: number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** The header bytes (length prefix + JSON padded so data starts 8-byte aligned) for specs in order. */
export function safetensorsHeader(specs: StSpec[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of specs) {
    const n = numel(t.shape) * DTYPE_BYTES[t.dtype];
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

/** Writes a safetensors file tensor by tensor. Not atomic by itself: write into a temp directory. */
export class SafetensorsWriter {
  private fd: number;
  private next = 0;
  private closed = false;

  constructor(readonly path: string, private readonly specs: StSpec[], metadata?: Record<string, string>) {
    const seen = new Set<string>();
    for (const s of specs) {
      if (seen.has(s.name)) throw new PlastError('ERR_INVALID', `${path}: tensor '${s.name}' listed twice`);
      seen.add(s.name);
    }
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new PlastError('ERR_IO', `${path}: cannot create (${(err as Error).message})`, { file: path, cause: err });
    }
    this.put(safetensorsHeader(specs, metadata));
  }

  private put(buf: Uint8Array): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  /** The next tensor's bytes (tensors must come in the order of the specs). */
  write(name: string, data: Uint8Array): void {
    const spec = this.specs[this.next];
    if (!spec || spec.name !== name) {
      throw new PlastError('ERR_INTERNAL', `${this.path}: expected tensor '${spec?.name ?? '(none)'}' next but received '${name}'`);
    }
    const want = numel(spec.shape) * DTYPE_BYTES[spec.dtype];
    if (data.byteLength !== want) {
      throw new PlastError('ERR_SHAPE', `${this.path}: tensor '${name}' [${spec.shape.join(', ')}] x ${spec.dtype} needs ${want} bytes but received ${data.byteLength}`);
    }
    this.put(data);
    this.next++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.next !== this.specs.length) {
      closeSync(this.fd);
      throw new PlastError('ERR_INTERNAL', `${this.path}: closed after ${this.next} of ${this.specs.length} tensors`);
    }
    fsyncSync(this.fd);
    closeSync(this.fd);
  }

  /** Closes the file after a failure (the caller removes it). */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

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
