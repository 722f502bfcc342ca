// One client's JSON-RPC connection (vscode-jsonrpc: Content-Length framing, $/cancelRequest,
// $/progress). Every request goes through one dispatcher: the token check, params validated
// against the method's schema (-32602 naming the field), the handler with an AbortSignal that
// $/cancelRequest, the client's disconnect and shutdown all abort, and errors mapped to JSON-RPC
// errors. Jobs of a client that goes away are cancelled, so nothing runs for nobody.
import { Value } from '@sinclair/typebox/value';
import {
  CancellationToken, MessageConnection, MessageReader, MessageWriter, ResponseError, createMessageConnection,
} from 'vscode-jsonrpc/node';
import { Ctx, ServerState } from './context';
import * as jobs from './methods-jobs';
import * as models from './methods-model';
import { ProgressReporter } from './progress';
import { ErrorData, RPC, badParams, rpcError, toResponseError, unauthorized } from './rpc-errors';
import { METHODS, MethodName, ProgressValue } from './schema';

type Handler = (params: never, ctx: Ctx) => unknown;

const HANDLERS: Record<MethodName, Handler> = {
  auth: () => ({ ok: true }),
  backends: () => models.backends(),
  'model.load': models.load,
  'model.unload': models.unload,
  'model.info': models.info,
  tokenize: models.tokenize,
  forward: models.forward,
  generate: models.generate,
  profile: jobs.profile,
  select: jobs.select,
  train: jobs.train,
  eval: jobs.evalJob,
  run: jobs.run,
  shutdown: (_p, ctx) => {
    setImmediate(() => ctx.server.shutdown()); // after the reply is written
    return { ok: true };
  },
};

export interface ClientOptions {
  /** The server's token: every request but auth is refused until auth presents it. */
  token?: string;
  log: (msg: string) => void;
}

export interface Client {
  connection: MessageConnection;
  /** Resolves when the connection has closed and every request of it has finished. */
  closed: Promise<void>;
  /** Cancels every request in flight (as a disconnect does); returns how many there were. */
  cancelAll: () => number;
  /** Resolves when every request in flight now has been answered (or dropped with the connection). */
  settled: () => Promise<void>;
}

/** The first error of params against `schema`, as a JSON pointer and a message. */
function firstError(method: MethodName, params: unknown): { field: string; message: string } | null {
  const schema = METHODS[method].params;
  if (Value.Check(schema, params)) return null;
  const e = Value.Errors(schema, params).First();
  if (!e) return { field: '', message: 'does not match the schema' };
  // TypeBox points at the offending value (an unknown key included): /sequences/0/ids/1.
  return { field: e.path.replace(/^\//, '').replace(/\//g, '.'), message: e.message };
}

/**
 * Why `msg` is not a JSON-RPC 2.0 request, notification or response, or null when it is one.
 * vscode-jsonrpc drops such a message with a log line; the spec answers it with -32600.
 */
export function invalidMessage(msg: unknown): string | null {
  if (Array.isArray(msg)) return 'batches are not supported: send one request per message';
  if (typeof msg !== 'object' || msg === null) return 'expected a JSON object';
  const m = msg as Record<string, unknown>;
  if (m['jsonrpc'] !== '2.0') return 'expected "jsonrpc": "2.0"';
  const id = m['id'];
  const idOk = id === undefined || id === null || typeof id === 'string' || typeof id === 'number';
  if (!idOk) return 'expected an id that is a string, a number or null';
  if ('method' in m) {
    if (typeof m['method'] !== 'string') return 'expected "method" to be a string';
    const params = m['params'];
    if (params !== undefined && (typeof params !== 'object' || params === null)) return 'expected "params" to be an object or an array';
    return null;
  }
  if (id !== undefined && ('result' in m || 'error' in m)) return null; // a response (to $/progress etc.)
  return 'expected "method" (a request or notification) or "result"/"error" with an id (a response)';
}

/** `reader` with every message that is not JSON-RPC answered by `reject` instead of delivered. */
function validatingReader(reader: MessageReader, reject: (id: string | number | null, why: string) => void): MessageReader {
  return {
    onError: reader.onError,
    onClose: reader.onClose,
    onPartialMessage: reader.onPartialMessage,
    listen: (callback) =>
      reader.listen((msg) => {
        const why = invalidMessage(msg);
        if (why === null) return callback(msg);
        const id = (msg as { id?: unknown } | null)?.id;
        reject(typeof id === 'string' || typeof id === 'number' ? id : null, why);
      }),
    dispose: () => reader.dispose(),
  };
}

export function serveClient(reader: MessageReader, writer: MessageWriter, server: ServerState, opts: ClientOptions): Client {
  // A message that is valid JSON but not JSON-RPC gets -32600 (with its id when it has a usable
  // one, else null); the connection stays open, as after malformed JSON.
  const connection = createMessageConnection(
    validatingReader(reader, (id, why) => {
      if (closed) return;
      void writer.write({ jsonrpc: '2.0', id, error: { code: RPC.invalidRequest, message: `Invalid Request: ${why}`, data: { code: 'ERR_INVALID' } } } as never).catch(() => {});
    }),
    writer,
  );
  const inFlight = new Set<AbortController>();
  const pending = new Set<Promise<unknown>>();
  let authorized = opts.token === undefined;
  let closed = false;

  // Malformed JSON never reaches a handler: the reader reports it, and the spec's answer is a
  // -32700 response with a null id.
  connection.onError(([err, msg]) => {
    if (msg === undefined && err instanceof SyntaxError && !closed) {
      void writer.write({ jsonrpc: '2.0', id: null, error: { code: RPC.parseError, message: `Parse error: ${err.message}`, data: { code: 'ERR_FORMAT' } } } as never).catch(() => {});
    }
  });

  const cancelAll = (): number => {
    for (const c of inFlight) c.abort();
    return inFlight.size;
  };

  connection.onRequest(async (method: string, params: unknown, token: CancellationToken) => {
    if (!(method in METHODS)) return rpcError(RPC.methodNotFound, `Unknown method ${method}`, { code: 'ERR_INVALID', field: 'method' });
    const name = method as MethodName;
    const p = params ?? {};
    if (!authorized && name !== 'auth') return unauthorized();
    const bad = firstError(name, p);
    if (bad) return badParams(bad.field, bad.message);
    if (name === 'auth') {
      if ((p as { token: string }).token !== opts.token && opts.token !== undefined) return rpcError(RPC.unauthorized, 'wrong token', { code: 'ERR_UNAUTHORIZED', field: 'token' });
      authorized = true;
    }
    const ctl = new AbortController();
    inFlight.add(ctl);
    const sub = token.onCancellationRequested(() => ctl.abort());
    const progressToken = (p as { progressToken?: string | number }).progressToken;
    // A client gone mid-job gets no more progress; the job itself ends on the abort.
    const send =
      progressToken === undefined
        ? undefined
        : (value: ProgressValue): void => {
            if (closed) return;
            try {
              connection.sendNotification('$/progress', { token: progressToken, value }).catch(() => {});
            } catch {
              // closed between the check and the send
            }
          };
    const ctx: Ctx = { server, signal: ctl.signal, progress: new ProgressReporter(send) };
    const work = (async (): Promise<unknown> => {
      try {
        return await HANDLERS[name](p as never, ctx);
      } catch (err) {
        const e: ResponseError<ErrorData> = toResponseError(err);
        if (e.data?.code === 'ERR_INTERNAL') opts.log(`${method}: ${(err as Error)?.stack ?? String(err)}`);
        return e;
      } finally {
        sub.dispose();
        inFlight.delete(ctl);
      }
    })();
    pending.add(work);
    void work.finally(() => pending.delete(work));
    return work;
  });

  const closedP = new Promise<void>((res) => {
    connection.onClose(() => {
      closed = true;
      // Requests read just before the close are still dispatched (on the next turns); let them
      // start so that they are cancelled and answered too, rather than dropped.
      setTimeout(() => {
        cancelAll();
        void Promise.allSettled([...pending]).then(() => res());
      }, 50);
    });
  });
  connection.listen();
  const settled = async (): Promise<void> => {
    await Promise.allSettled([...pending]);
  };
  return { connection, closed: closedP, cancelAll, settled };
}
