// The verdict on one text cell of a data row, shared by every reader (profile's parallel
// questions, train's and eval's pairs), so that the same row gets the same verdict in every
// command: a string that is not blank. A number, boolean, object or list is not text (turning
// 42 or {"a":1} into "42" or "[object Object]" would train on text the file does not hold).
// What a command does with a bad row is its own policy (profile refuses the file; train and
// eval count it as a bad row, or refuse the file under --strict); the reason and message are
// the same.
import { BadReason } from './rows';

export type CellVerdict = { ok: true; text: string } | { ok: false; reason: BadReason; message: string };

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}

/**
 * `v`, the value of `key` in a row. `role` says what the cell is for: 'source' and 'target'
 * report an empty cell as empty-source / empty-target, 'text' (profile questions) as empty-text.
 */
export function checkCell(key: string, v: unknown, role: 'source' | 'target' | 'text'): CellVerdict {
  if (v === undefined) return { ok: false, reason: 'missing-field', message: `missing field "${key}"` };
  if (typeof v !== 'string') return { ok: false, reason: 'not-text', message: `expected a string in "${key}" but found ${kindOf(v)}` };
  if (v.trim() === '') {
    if (role === 'text') return { ok: false, reason: 'empty-text', message: `"${key}" is empty` };
    return { ok: false, reason: role === 'source' ? 'empty-source' : 'empty-target', message: `empty ${role} text in "${key}"` };
  }
  return { ok: true, text: v };
}

/** A sequence longer than what it may be: the model's positions (or a smaller --max-len). */
export function tooLongMessage(what: string, tokens: number, maxLen: number, maxPositions?: number): string {
  return maxPositions !== undefined && maxPositions <= maxLen
    ? `${what} is ${tokens} tokens, more than the model's ${maxPositions} positions (max_position_embeddings)`
    : `${what} is ${tokens} tokens, over the maximum length ${maxLen}`;
}
