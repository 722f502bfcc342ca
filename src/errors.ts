// Every failure the engine reports is a PlastError with a stable code, so callers can branch on
// `err.code` and users read a message that says what was expected and what was received.

export type ErrorCode =
  | 'ERR_SHAPE'
  | 'ERR_DTYPE'
  | 'ERR_FORMAT'
  | 'ERR_NO_DEVICE'
  | 'ERR_OOM'
  | 'ERR_UNSUPPORTED'
  | 'ERR_INVALID'
  | 'ERR_IO'
  | 'ERR_DEVICE'
  | 'ERR_INTERNAL'
  | 'ERR_DATA'
  | 'ERR_LANG'
  | 'ERR_NUMERIC'
  | 'ERR_MISMATCH'
  | 'ERR_INTERRUPTED';

export interface ErrorDetails {
  file?: string;
  field?: string;
  line?: number;
  cause?: unknown;
}

export class PlastError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly field?: string;
  readonly line?: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'PlastError';
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.field !== undefined) this.field = details.field;
    if (details.line !== undefined) this.line = details.line;
  }
}

const KNOWN = new Set<string>([
  'ERR_SHAPE', 'ERR_DTYPE', 'ERR_FORMAT', 'ERR_NO_DEVICE', 'ERR_OOM', 'ERR_UNSUPPORTED',
  'ERR_INVALID', 'ERR_IO', 'ERR_DEVICE', 'ERR_INTERNAL', 'ERR_DATA', 'ERR_LANG', 'ERR_NUMERIC',
  'ERR_MISMATCH',
]);

/** Turns an error thrown by the addon into a PlastError that keeps the caller's JS stack. */
export function fromNative(err: unknown, callerStack?: string): PlastError {
  if (err instanceof PlastError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && KNOWN.has(e.code) ? (e.code as ErrorCode) : 'ERR_INTERNAL';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const out = new PlastError(code, message, { cause: err });
  if (callerStack) out.stack = `${out.name} [${code}]: ${message}\n${callerStack.split('\n').slice(1).join('\n')}`;
  return out;
}

export function invalid(what: string, expected: string, received: unknown): PlastError {
  return new PlastError('ERR_INVALID', `Expected ${expected} for ${what} but received ${JSON.stringify(received)}`, {
    field: what,
  });
}

export function expectPositiveInt(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalid(what, 'a positive integer', v);
  return v;
}
