// Right-padded token batches for the native forward/backward: one row per sequence, positions
// 0..len-1, keyMask marking real tokens, and flat row indices for the logits asked for.
import { PlastError } from '../errors';
import { NativeBatch } from '../native';

export interface Sequence {
  ids: number[];
  /** Per token: counted for gate statistics (profile). Omit for none. */
  count?: ArrayLike<number | boolean>;
  /** Positions t whose next-token logits are wanted. */
  logitAt?: number[];
  /** One label per logitAt entry: the token expected after position t (-100 = ignore). */
  labels?: number[];
  /**
   * Input embeddings given directly instead of the tokens' (LLaVA image features): for each
   * position in `at`, a row of hidden-size values in `values` (at.length x hidden, row-major).
   */
  embeds?: SequenceEmbeds;
  /**
   * Images for the sequence's (expanded) <image> placeholders, in order: Model.forward and
   * forwardBackward run them through the vision tower and give their features as `embeds`.
   */
  images?: ImageInput[];
}

/** An image for a prompt: a file path, base64 or encoded bytes, or pixel_values already made. */
export type ImageInput =
  | {
      source: string | Buffer;
      /** How a string source is read: a path, or base64 (default: told apart by the loader). */
      encoding?: 'path' | 'base64';
      /** The data file and line it came from (named in errors). */
      file?: string;
      line?: number;
    }
  | { pixels: Float32Array };

export interface SequenceEmbeds {
  at: number[];
  values: Float32Array;
}

export interface PackedBatch extends NativeBatch {
  /** For each sequence, the range of logit rows (in NativeBatch.logitRows order) it owns. */
  logitSpans: [number, number][];
}

export function packBatch(seqs: Sequence[], padId = 0): PackedBatch {
  if (seqs.length === 0) throw new PlastError('ERR_INVALID', 'Expected at least one sequence in a batch');
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.ids.length));
  if (T === 0) throw new PlastError('ERR_INVALID', 'Expected non-empty sequences in a batch');
  const ids = new Int32Array(B * T).fill(padId);
  const positions = new Int32Array(B * T);
  const keyMask = new Int32Array(B * T);
  const anyCount = seqs.some((s) => s.count !== undefined);
  const countMask = anyCount ? new Int32Array(B * T) : undefined;
  const rows: number[] = [];
  const labels: number[] = [];
  const spans: [number, number][] = [];
  const anyLabels = seqs.some((s) => s.labels !== undefined);
  const embedRows: number[] = [];
  const embedValues: Float32Array[] = [];
  seqs.forEach((s, b) => {
    const len = s.ids.length;
    for (let t = 0; t < T; t++) {
      const n = b * T + t;
      positions[n] = t;
      if (t < len) {
        ids[n] = s.ids[t]!;
        keyMask[n] = 1;
        if (countMask && s.count && s.count[t]) countMask[n] = 1;
      }
    }
    if (s.count && s.count.length !== len) {
      throw new PlastError('ERR_SHAPE', `sequence ${b}: count mask has ${s.count.length} entries for ${len} tokens`);
    }
    const start = rows.length;
    for (const [i, t] of (s.logitAt ?? []).entries()) {
      if (!Number.isInteger(t) || t < 0 || t >= len) {
        throw new PlastError('ERR_INVALID', `sequence ${b}: logit position ${t} is outside [0, ${len})`);
      }
      rows.push(b * T + t);
      if (anyLabels) labels.push(s.labels?.[i] ?? -100);
    }
    if (s.labels && s.labels.length !== (s.logitAt ?? []).length) {
      throw new PlastError('ERR_SHAPE', `sequence ${b}: ${s.labels.length} labels for ${(s.logitAt ?? []).length} logit positions`);
    }
    spans.push([start, rows.length]);
    if (s.embeds) {
      const { at, values } = s.embeds;
      if (at.length > 0 && values.length % at.length !== 0) {
        throw new PlastError('ERR_SHAPE', `sequence ${b}: ${values.length} embedding values for ${at.length} positions`);
      }
      for (const t of at) {
        if (!Number.isInteger(t) || t < 0 || t >= len) {
          throw new PlastError('ERR_INVALID', `sequence ${b}: embedding position ${t} is outside [0, ${len})`);
        }
        embedRows.push(b * T + t);
      }
      embedValues.push(values);
    }
  });
  const out: PackedBatch = { B, T, ids, positions, keyMask, logitSpans: spans };
  if (countMask) out.countMask = countMask;
  if (rows.length > 0) out.logitRows = Int32Array.from(rows);
  if (anyLabels) out.labels = Int32Array.from(labels);
  if (embedRows.length > 0) {
    out.embedRows = Int32Array.from(embedRows);
    out.embeds = concatF32(embedValues);
  }
  return out;
}

/** The parts end to end (the one part itself when there is one). */
export function concatF32(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
