// Engine errors as JSON-RPC errors. `data` always carries the engine's code and, when the error
// has them, the file, line and field, so a client branches on data.code as a library caller
// branches on err.code.
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc/node';
import { PlastError } from '../errors';
import { ioError, isFsError } from '../util/paths';

/** Codes of the server itself, beside the engine's (src/errors.ts). */
export type ServeErrorCode = 'ERR_UNAUTHORIZED' | 'ERR_SHUTDOWN';

export interface ErrorData {
  code: string;
  file?: string;
  line?: number;
  field?: string;
}

/** JSON-RPC error codes. -32700/-32600/-32601/-32602 are the spec's; the rest are in its server range. */
export const RPC = {
  parseError: ErrorCodes.ParseError, // -32700
  invalidRequest: ErrorCodes.InvalidRequest, // -32600
  methodNotFound: ErrorCodes.MethodNotFound, // -32601
  invalidParams: ErrorCodes.InvalidParams, // -32602
  internal: ErrorCodes.InternalError, // -32603
  engine: -32000, // a PlastError other than ERR_INVALID / ERR_INTERRUPTED
  unauthorized: -32001,
  cancelled: -32800, // LSP's RequestCancelled: a job stopped by $/cancelRequest or a disconnect
} as const;

export function rpcError(code: number, message: string, data: ErrorData): ResponseError<ErrorData> {
  return new ResponseError(code, message, data);
}

/** A params field that does not fit its schema (-32602, data.field the JSON pointer of the field). */
export function badParams(field: string, message: string): ResponseError<ErrorData> {
  return rpcError(RPC.invalidParams, `${field || 'params'}: ${message}`, { code: 'ERR_INVALID', field: field || 'params' });
}

export function unauthorized(): ResponseError<ErrorData> {
  return rpcError(RPC.unauthorized, 'this server requires its token: call auth {token} first', { code: 'ERR_UNAUTHORIZED' });
}

/** Any error a handler throws, as the JSON-RPC error the client receives. */
export function toResponseError(err: unknown): ResponseError<ErrorData> {
  if (err instanceof ResponseError) return err as ResponseError<ErrorData>;
  if (isFsError(err)) err = ioError(err, err.path ?? '(unknown path)', err.syscall ?? 'access');
  if (err instanceof PlastError) {
    const data: ErrorData = { code: err.code };
    if (err.file !== undefined) data.file = err.file;
    if (err.line !== undefined) data.line = err.line;
    if (err.field !== undefined) data.field = err.field;
    const code = err.code === 'ERR_INVALID' ? RPC.invalidParams : err.code === 'ERR_INTERRUPTED' ? RPC.cancelled : RPC.engine;
    return rpcError(code, err.message, data);
  }
  const e = err as Error;
  return rpcError(RPC.internal, e?.message ?? String(err), { code: 'ERR_INTERNAL' });
}
