// The raw counts of a profile as a safetensors file, counts.safetensors:
//   counts.<lang>  I64 [layers, intermediate]  tokens of <lang> on which gate_proj(x)_j > 0
//   tokens         I64 [languages]             counted tokens per language, in metadata `langs` order
//   questions      I64 [languages]             questions per language, same order
// metadata: format "plast-counts", version 1, langs "en,ar,...", layers, intermediate.
// Counts are held in float64 in memory (exact for integers below 2^53) and stored as int64.
import { readFileSync } from 'node:fs';
import { PlastError } from '../errors';
import { readSafetensorsHeader, writeSafetensors, StWriteTensor } from '../model/safetensors';

export interface CountsFile {
  langs: string[];
  layers: number;
  intermediate: number;
  counts: Record<string, Float64Array>;
  tokens: Record<string, number>;
  questions: Record<string, number>;
}

function i64(values: ArrayLike<number>): Uint8Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v) || v < 0) throw new PlastError('ERR_INTERNAL', `count ${v} is not a non-negative safe integer`);
    out[i] = BigInt(v);
  }
  return new Uint8Array(out.buffer);
}

export function writeCounts(path: string, c: CountsFile): void {
  const tensors: StWriteTensor[] = c.langs.map((l) => ({
    name: `counts.${l}`,
    dtype: 'I64',
    shape: [c.layers, c.intermediate],
    data: i64(c.counts[l]!),
  }));
  tensors.push({ name: 'tokens', dtype: 'I64', shape: [c.langs.length], data: i64(c.langs.map((l) => c.tokens[l]!)) });
  tensors.push({ name: 'questions', dtype: 'I64', shape: [c.langs.length], data: i64(c.langs.map((l) => c.questions[l]!)) });
  writeSafetensors(path, tensors, {
    format: 'plast-counts',
    version: '1',
    langs: c.langs.join(','),
    layers: String(c.layers),
    intermediate: String(c.intermediate),
  });
}

export function readCounts(path: string): CountsFile {
  const h = readSafetensorsHeader(path);
  const fail = (msg: string): never => {
    throw new PlastError('ERR_FORMAT', `${path}: ${msg}`, { file: path });
  };
  if (h.metadata['format'] !== 'plast-counts') fail(`not a plast counts file (metadata format is ${JSON.stringify(h.metadata['format'])})`);
  const langs = (h.metadata['langs'] ?? '').split(',').filter(Boolean);
  const layers = Number(h.metadata['layers']);
  const inter = Number(h.metadata['intermediate']);
  if (langs.length === 0 || !Number.isInteger(layers) || layers <= 0 || !Number.isInteger(inter) || inter <= 0) {
    fail('metadata langs/layers/intermediate missing or invalid');
  }
  const buf = readFileSync(path);
  const read = (name: string, shape: number[]): Float64Array => {
    const t = h.tensors.get(name);
    if (!t) return fail(`tensor '${name}' is missing`);
    if (t.dtype !== 'I64') fail(`tensor '${name}' is ${t.dtype}; expected I64`);
    if (t.shape.join(',') !== shape.join(',')) fail(`tensor '${name}' has shape [${t.shape.join(', ')}]; expected [${shape.join(', ')}]`);
    const src = new BigInt64Array(buf.buffer.slice(buf.byteOffset + t.begin, buf.byteOffset + t.end));
    const out = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`tensor '${name}' holds ${v}, outside [0, 2^53)`);
      out[i] = Number(v);
    }
    return out;
  };
  const counts: Record<string, Float64Array> = {};
  for (const l of langs) counts[l] = read(`counts.${l}`, [layers, inter]);
  const tok = read('tokens', [langs.length]);
  const q = read('questions', [langs.length]);
  return {
    langs,
    layers,
    intermediate: inter,
    counts,
    tokens: Object.fromEntries(langs.map((l, i) => [l, tok[i]!])),
    questions: Object.fromEntries(langs.map((l, i) => [l, q[i]!])),
  };
}
