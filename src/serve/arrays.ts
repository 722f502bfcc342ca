// Large arrays (counts, logits) in results: little-endian bytes in base64 with dtype and shape, or
// tensors of one safetensors file when the request asks for a path (no base64 inflation, and a
// file numpy/torch read directly). Node and every platform it runs on are little-endian.
import { resolve } from 'node:path';
import { StWriteTensor, writeSafetensors } from '../model/safetensors';

export type Dtype = 'f32' | 'i64';

export interface NamedArray {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export type ArrayPayload = { dtype: Dtype; shape: number[]; data: string } | { dtype: Dtype; shape: number[]; path: string; tensor: string };

const bytes = (a: Float32Array | BigInt64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function base64Array(a: NamedArray): ArrayPayload {
  return { dtype: a.dtype, shape: a.shape, data: Buffer.from(bytes(a.data)).toString('base64') };
}

/** Writes every array into one safetensors file (atomically) and returns where each is. */
export function safetensorsArrays(path: string, arrays: NamedArray[]): ArrayPayload[] {
  const file = resolve(path);
  const tensors: StWriteTensor[] = arrays.map((a) => ({ name: a.name, dtype: a.dtype === 'f32' ? 'F32' : 'I64', shape: a.shape, data: bytes(a.data) }));
  writeSafetensors(file, tensors, { format: 'plast-forward' });
  return arrays.map((a) => ({ dtype: a.dtype, shape: a.shape, path: file, tensor: a.name }));
}

/** Decodes a base64 payload (clients and tests). */
export function decodeArray(p: { dtype: Dtype; data: string }): Float32Array | BigInt64Array {
  const buf = Buffer.from(p.data, 'base64');
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return p.dtype === 'f32' ? new Float32Array(ab) : new BigInt64Array(ab);
}
