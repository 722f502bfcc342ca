// Helpers of the server suites: a real `plast serve` process, talked to through the TypeScript
// client (src/client) or, for what a client library cannot send (malformed JSON), raw frames.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers';
import { RpcError } from '../../src/client';

export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const ENV: NodeJS.ProcessEnv = { ...process.env, PLAST_NO_PROGRESS: '1' };

/** Starts `plast serve ARGS` and resolves with the "listening on ..." address printed on stderr. */
export function startListening(args: string[]): Promise<{ child: ChildProcess; at: string; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
  let err = '';
  return new Promise((res, rej) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (\S+)/.exec(err);
      if (m) res({ child, at: m[1]!, stderr: () => err });
    });
    child.once('exit', (code) => rej(new Error(`plast serve exited ${code}: ${err}`)));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((res) => child.once('exit', (code) => res(code)));
}

/** The RpcError a call rejects with (fails when it resolves). */
export async function rpcFails(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** One Content-Length frame. */
export function frame(body: string): string {
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Reads frames from a stream; next() resolves with the next parsed message. */
export function frameReader(stream: NodeJS.ReadableStream): { next: () => Promise<Record<string, unknown>> } {
  let buf = Buffer.alloc(0);
  const queue: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  stream.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString())![1]);
      if (buf.length < end + 4 + len) return;
      const msg = JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()) as Record<string, unknown>;
      buf = buf.subarray(end + 4 + len);
      const w = waiting.shift();
      if (w) w(msg);
      else queue.push(msg);
    }
  });
  return { next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((res) => waiting.push(res))) };
}
