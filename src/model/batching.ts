// Splitting a batch of sequences into micro-batches (training's gradient accumulation, the
// scorers' forward batches; it lives with the model because both layers use it): longest sequences
// first (less padding), at most `microBatch` sequences per micro-batch when given, otherwise as
// many as fit a budget of `microTokens` padded tokens (rows x longest row). A sequence longer than
// the budget runs alone. The split is a pure function of the batch, so a resumed run splits
// exactly as the uninterrupted one did.

export interface MicroBatchOptions {
  microBatch?: number | null;
  microTokens?: number | null;
}

export const DEFAULT_MICRO_TOKENS = 8192;

export function microBatches(indices: number[], lengthOf: (i: number) => number, o: MicroBatchOptions = {}): number[][] {
  const byLen = indices.map((i, pos) => ({ i, pos, len: lengthOf(i) }));
  byLen.sort((a, b) => b.len - a.len || a.pos - b.pos);
  const maxSeqs = o.microBatch ?? Infinity;
  const budget = o.microTokens ?? (o.microBatch ? Infinity : DEFAULT_MICRO_TOKENS);
  const out: number[][] = [];
  let cur: number[] = [];
  let longest = 0;
  for (const x of byLen) {
    const L = Math.max(longest, x.len);
    if (cur.length > 0 && (cur.length + 1 > maxSeqs || (cur.length + 1) * L > budget)) {
      out.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(x.i);
    longest = Math.max(longest, x.len);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
