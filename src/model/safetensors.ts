// safetensors headers, read without loading the data: an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}}, then the data. Every way a file
// can be malformed is an ERR_FORMAT (or ERR_DTYPE) naming the file and the tensor.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PlastError } from '../errors';
import { writeChunksAtomic } from '../util/atomic';

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
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new PlastError('ERR_IO', `${file}: cannot open (${(err as Error).message})`, { file, cause: err });
  }
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

export interface StWriteTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  data: Uint8Array; // little-endian bytes, exactly numel * dtype size
}

/** Header + data of a safetensors file (tensors laid out in the given order, 8-byte aligned header). */
export function encodeSafetensors(tensors: StWriteTensor[], metadata?: Record<string, string>): { header: Buffer; size: number } {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    const want = t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want) {
      throw new PlastError('ERR_SHAPE', `tensor '${t.name}': shape [${t.shape.join(', ')}] x ${t.dtype} needs ${want} bytes but ${t.data.byteLength} were given`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const hb = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hb.length);
  out.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(out, 8);
  return { header: out, size: out.length + off };
}

/** Writes a safetensors file atomically (temp file + rename), streaming tensor by tensor. */
export function writeSafetensors(path: string, tensors: StWriteTensor[], metadata?: Record<string, string>): void {
  const { header } = encodeSafetensors(tensors, metadata);
  writeChunksAtomic(path, [header, ...tensors.map((t) => t.data)]);
}
