// The server's transports: stdio (the default: one client, the process that started it; the
// server ends when its stdin closes), a Unix socket, or TCP (loopback unless told otherwise, and
// then only with a token). Clients share the loaded models and the device queues. Shutdown (the
// method, SIGINT/SIGTERM, or stdin closing) cancels every job the way Ctrl-C stops it, waits for
// them (a training writes its checkpoint), frees the models and ends the process.
import { existsSync, rmSync, statSync } from 'node:fs';
import { Server, Socket, createConnection, createServer, isIP } from 'node:net';
import { SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { PlastError } from '../errors';
import { Client, serveClient } from './connection';
import { ServerState } from './context';
import { ModelRegistry } from './models';
import { DeviceQueues } from './queue';

export type Listen = { kind: 'stdio' } | { kind: 'socket'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface ServeOptions {
  listen: Listen;
  token?: string;
  log?: (msg: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** HOST:PORT (or [v6]:PORT, or PORT alone on 127.0.0.1). */
export function parseListen(spec: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(spec) ?? /^()()(\d+)$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PlastError('ERR_INVALID', `Expected --listen HOST:PORT (e.g. 127.0.0.1:7070) but received "${spec}"`, { field: '--listen' });
  }
  const host = m[1] || m[2] || '127.0.0.1';
  if (host !== 'localhost' && isIP(host) === 0) throw new PlastError('ERR_INVALID', `Expected an IP address or localhost in --listen but received "${host}"`, { field: '--listen' });
  return { kind: 'tcp', host, port };
}

/** Refuses what would expose the engine: a non-loopback address without a token. */
export function checkExposure(listen: Listen, token: string | undefined): void {
  if (listen.kind === 'tcp' && !LOOPBACK.has(listen.host) && !token) {
    throw new PlastError('ERR_INVALID', `--listen ${listen.host} is not a loopback address: give --token (clients then call auth first)`, { field: '--token' });
  }
}

/** A stale socket file (no server behind it) is removed; a live one is refused. */
async function claimSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!statSync(path).isSocket()) throw new PlastError('ERR_IO', `${path}: --socket exists and is not a socket`, { file: path, field: '--socket' });
  const live = await new Promise<boolean>((res) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
  if (live) throw new PlastError('ERR_IO', `${path}: a server is already listening there`, { file: path, field: '--socket' });
  rmSync(path, { force: true });
}

/** Runs the server until shutdown; resolves then (the caller ends the process). */
export async function serve(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`plast serve: ${m}\n`));
  checkExposure(opts.listen, opts.token);
  const clients = new Set<Client>();
  let listener: Server | undefined;
  let done!: () => void;
  const finished = new Promise<void>((res) => (done = res));
  let stopping = false;

  const state: ServerState = {
    models: new ModelRegistry(),
    queues: new DeviceQueues(),
    shutdown: () => {
      if (stopping) return;
      stopping = true;
      listener?.close();
      let cancelled = 0;
      for (const c of clients) cancelled += c.cancelAll();
      if (cancelled > 0) log(`shutting down: ${cancelled} request(s) cancelled, stopping at their next safe point`);
      void (async () => {
        // Jobs end at their next safe point (a training after its step, with its checkpoint);
        // their replies go out before the connections close.
        await Promise.allSettled([...clients].map((c) => c.settled()));
        await new Promise((res) => setTimeout(res, 50));
        for (const c of clients) c.connection.dispose();
        state.models.disposeAll();
        if (opts.listen.kind === 'socket') rmSync(opts.listen.path, { force: true });
        done();
      })();
    },
  };

  const add = (c: Client): void => {
    clients.add(c);
    void c.closed.then(() => clients.delete(c));
  };
  const clientOpts = { ...(opts.token !== undefined ? { token: opts.token } : {}), log };

  const onSignal = (): void => state.shutdown();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  if (opts.listen.kind === 'stdio') {
    // A client gone mid-reply (EPIPE) must not crash the server before its jobs have stopped.
    process.stdout.on('error', () => {});
    const c = serveClient(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout), state, clientOpts);
    clients.add(c);
    // The server never outlives its client: stdin closed = the client is gone.
    void c.closed.then(() => state.shutdown());
  } else {
    listener = createServer((sock: Socket) => {
      if (stopping) return void sock.destroy();
      sock.on('error', () => {}); // a reset connection closes the client like an orderly one
      add(serveClient(new SocketMessageReader(sock), new SocketMessageWriter(sock), state, clientOpts));
    });
    const where = opts.listen;
    if (where.kind === 'socket') await claimSocket(where.path);
    await new Promise<void>((res, rej) => {
      listener!.once('error', (err) => rej(new PlastError('ERR_IO', `cannot listen on ${where.kind === 'socket' ? where.path : `${where.host}:${where.port}`}: ${err.message}`, { cause: err })));
      if (where.kind === 'socket') listener!.listen(where.path, res);
      else listener!.listen(where.port, where.host, res);
    });
    const addr = listener.address();
    // One line a parent process can wait for (the port, when 0 asked for a free one).
    const at = typeof addr === 'string' ? addr : addr ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : '?';
    log(`listening on ${at}${opts.token ? ' (token required)' : ''}`);
  }
  await finished;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}
