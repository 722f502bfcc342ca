// `import { connect } from 'plast-engine/client'`: a typed client of `plast serve`, over a server
// it starts (stdio) or one listening on a Unix socket or TCP. Methods and their params/results
// are typed by the server's own definitions (src/serve/schema.ts).
import { ChildProcess, spawn } from 'node:child_process';
import { Socket, createConnection } from 'node:net';
import { join } from 'node:path';
import {
  CancellationTokenSource, MessageConnection, ResponseError, SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter, createMessageConnection,
} from 'vscode-jsonrpc/node';
import type { MethodName, ParamsOf, ProgressValue, ResultOf } from '../serve/schema';
import type { ErrorData } from '../serve/rpc-errors';

export type { MethodName, ParamsOf, ProgressValue, ResultOf, ErrorData };
export { decodeArray } from '../serve/arrays';

export type ConnectOptions =
  /** Start `plast serve` as a child process and talk over its stdin/stdout. */
  | { spawn?: true; args?: string[]; env?: NodeJS.ProcessEnv; token?: string }
  | { socket: string; token?: string }
  | { host?: string; port: number; token?: string };

export interface CallOptions {
  onProgress?: (value: ProgressValue) => void;
  signal?: AbortSignal;
}

/** A JSON-RPC error from the server: data.code is the engine's code (ERR_FORMAT, ...). */
export class RpcError extends Error {
  constructor(readonly rpcCode: number, message: string, readonly data: ErrorData | undefined) {
    super(message);
    this.name = 'RpcError';
  }
  get code(): string | undefined {
    return this.data?.code;
  }
}

export interface PlastClient {
  call<M extends MethodName>(method: M, params: ParamsOf<M>, opts?: CallOptions): Promise<ResultOf<M>>;
  /** The server process when this client started it. */
  child?: ChildProcess;
  connection: MessageConnection;
  close(): Promise<void>;
}

const CLI = join(__dirname, '..', 'cli', 'main.js');
let nextToken = 1;

export async function connect(opts: ConnectOptions = {}): Promise<PlastClient> {
  let connection: MessageConnection;
  let child: ChildProcess | undefined;
  let sock: Socket | undefined;
  if ('socket' in opts || 'port' in opts) {
    sock = 'socket' in opts ? createConnection(opts.socket) : createConnection(opts.port, opts.host ?? '127.0.0.1');
    await new Promise<void>((res, rej) => {
      sock!.once('connect', res);
      sock!.once('error', rej);
    });
    connection = createMessageConnection(new SocketMessageReader(sock), new SocketMessageWriter(sock));
  } else {
    const c = spawn(process.execPath, [CLI, 'serve', ...(opts.args ?? [])], { stdio: ['pipe', 'pipe', 'inherit'], env: opts.env ?? process.env });
    child = c;
    connection = createMessageConnection(new StreamMessageReader(c.stdout!), new StreamMessageWriter(c.stdin!));
  }
  const listeners = new Map<string | number, (v: ProgressValue) => void>();
  connection.onNotification('$/progress', (p: { token: string | number; value: ProgressValue }) => listeners.get(p.token)?.(p.value));
  connection.listen();

  const client: PlastClient = {
    connection,
    ...(child ? { child } : {}),
    async call(method, params, o = {}) {
      const token = o.onProgress ? `p${nextToken++}` : undefined;
      if (token !== undefined) listeners.set(token, o.onProgress!);
      const cts = new CancellationTokenSource();
      const abort = (): void => cts.cancel();
      o.signal?.addEventListener('abort', abort, { once: true });
      try {
        const p = token !== undefined ? { ...params, progressToken: token } : params;
        return await connection.sendRequest(method, p, cts.token);
      } catch (err) {
        if (err instanceof ResponseError) throw new RpcError(err.code, err.message, err.data as ErrorData | undefined);
        throw err;
      } finally {
        o.signal?.removeEventListener('abort', abort);
        if (token !== undefined) listeners.delete(token);
        cts.dispose();
      }
    },
    async close() {
      connection.dispose();
      sock?.end();
      if (child && child.exitCode === null) {
        child.stdin?.end();
        await new Promise<void>((res) => child!.once('exit', () => res()));
      }
    },
  };
  if (opts.token !== undefined) await client.call('auth', { token: opts.token });
  return client;
}
