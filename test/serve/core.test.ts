// `plast serve` end to end, with real processes: the schema, a model loaded once and forward
// called many times (counts equal the library's, no reload), arrays as base64 and as a
// safetensors file, every error class over stdio and over a Unix socket, the TCP token, and a
// server that ends with its client.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastClient, connect, decodeArray } from '../../src/client';
import { Model } from '../../src/model/model';
import { METHODS } from '../../src/serve/schema';
import { ASSETS, ROOT, readTensors } from '../helpers';
import { CLI, ENV, exited, frame, frameReader, rpcFails, startListening } from './helpers';

const MODEL = join(ASSETS, 'mini-ml');
const tmp = mkdtempSync(join(tmpdir(), 'plast-serve-'));
const TEXTS = ['How many points did the Panthers defense surrender?', 'Merhaba dünya', 'Сколько очков?'];

test('plast serve --schema: every method with its params and result schema; --json-free, one JSON document', () => {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--schema'], { encoding: 'utf8', env: ENV });
  assert.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { methods: Record<string, { params: { type: string; properties: object }; result: unknown; job: boolean }> };
  assert.equal(Object.keys(doc.methods).sort(), Object.keys(METHODS).sort());
  for (const m of ['backends', 'model.load', 'model.unload', 'model.info', 'tokenize', 'forward', 'generate', 'profile', 'select', 'train', 'eval', 'run', 'shutdown']) {
    assert.ok(doc.methods[m], `${m} listed`);
    assert.is(doc.methods[m]!.params.type, 'object');
  }
  assert.ok(doc.methods['train']!.job && !doc.methods['forward']!.job);
});

test('docs/api.md documents every method', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
  const missing = Object.keys(METHODS).filter((m) => !doc.includes(`| \`${m}\``));
  assert.equal(missing, [], `not in docs/api.md: ${missing.join(', ')}`);
});

test("the TypeScript client is the package's 'plast-engine/client' export", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  assert.is((require('plast-engine/client') as { connect: unknown }).connect, connect);
});

test('load once, forward many times: counts and logits equal the library; the second load and every forward reuse the handle', async () => {
  const c = await connect({ env: ENV });
  const lib = await Model.load(MODEL, { backend: 'cpu' });
  try {
    const a = await c.call('model.load', { dir: MODEL, backend: 'cpu' });
    const b = await c.call('model.load', { dir: join(MODEL, '..', 'mini-ml'), backend: 'cpu' });
    assert.is(a.reused, false);
    assert.is(b.handle, a.handle, 'same directory, same handle');
    assert.is(b.reused, true);
    assert.is(b.loadSeconds, a.loadSeconds, 'not loaded again');
    for (const text of TEXTS) {
      const { ids } = await c.call('tokenize', { handle: a.handle, text });
      assert.equal(ids, lib.tokenizer.encode(text));
      const r = await c.call('forward', { handle: a.handle, sequences: [{ ids, count: 'all', logitAt: [0, ids.length - 1] }] });
      const want = await lib.forward([{ ids, count: ids.map(() => true), logitAt: [0, ids.length - 1] }]);
      assert.is(r.countedTokens, want.countedTokens);
      assert.ok(r.counts && 'data' in r.counts);
      assert.equal(r.counts.shape, [lib.config.numLayers, lib.config.intermediateSize]);
      assert.equal(decodeArray(r.counts as { dtype: 'i64'; data: string }), want.counts);
      const l = r.logits[0]!;
      assert.ok('data' in l);
      assert.equal(l.shape, [2, lib.config.vocabSize]);
      assert.equal(decodeArray(l as { dtype: 'f32'; data: string }), want.logits[0]);
    }
    // Hidden states after chosen layers at the logit positions: the library's lens capture.
    const hids = lib.tokenizer.encode(TEXTS[1]!);
    const L = lib.config.numLayers;
    const h = await c.call('forward', { handle: a.handle, sequences: [{ ids: hids, logitAt: [1, hids.length - 1] }, { ids: hids }], hiddenAt: [0, L] });
    assert.ok(h.hidden && 'data' in h.hidden);
    assert.equal(h.hidden.shape, [2, 3, lib.config.hiddenSize]);
    const lens = await lib.lens([{ ids: hids, at: [1, hids.length - 1] }, { ids: hids, at: [hids.length - 1] }], { layers: [0, L], hidden: true });
    assert.equal(decodeArray(h.hidden as { dtype: 'f32'; data: string }), lens.hidden);
    // A batch of two by text, one counted: counts over the counted one only.
    const r2 = await c.call('forward', { handle: a.handle, sequences: [{ text: TEXTS[0]!, count: 'all' }, { text: TEXTS[1]!, logitAt: [1] }] });
    const ids0 = lib.tokenizer.encode(TEXTS[0]!);
    assert.is(r2.countedTokens, ids0.length);
    assert.is(r2.logits[0], null);
    const info = await c.call('model.info', { handle: a.handle });
    assert.is(info.forwardCalls, TEXTS.length + 2);
    assert.is(info.loadSeconds, a.loadSeconds);
    assert.is(info.layers, lib.config.numLayers);
    // Arrays into a safetensors file instead of base64.
    const file = join(tmp, 'fwd.safetensors');
    const ids = lib.tokenizer.encode(TEXTS[2]!);
    const s = await c.call('forward', { handle: a.handle, sequences: [{ ids, count: 'all', logitAt: [ids.length - 1] }], output: { format: 'safetensors', path: file } });
    assert.ok(s.counts && 'path' in s.counts && s.counts.path === file);
    const t = readTensors(file);
    const want = await lib.forward([{ ids, count: ids.map(() => true), logitAt: [ids.length - 1] }]);
    assert.equal(t['counts'], want.counts);
    assert.equal(t['logits.0'], want.logits[0]);
    const g = await c.call('generate', { handle: a.handle, prompt: 'Merhaba', maxNewTokens: 4 });
    assert.ok(g.ids.length <= 4 && typeof g.text === 'string');
    assert.equal(await c.call('model.unload', { handle: a.handle }), { handle: a.handle, unloaded: true });
    const gone = await rpcFails(c.call('model.info', { handle: a.handle }));
    assert.is(gone.data?.field, 'handle');
  } finally {
    lib.dispose();
    await c.close();
  }
});

/** Every error class, through `call` and a raw connection (`raw` writes bytes, `next` reads a frame). */
async function errorClasses(c: PlastClient, raw: { write: (s: string) => void; next: () => Promise<Record<string, unknown>> }): Promise<void> {
  raw.write(frame('{"jsonrpc":"2.0","id":1,"method":"backends",'));
  const pe = (await raw.next()) as { id: null; error: { code: number } };
  assert.is(pe.error.code, -32700, JSON.stringify(pe));
  assert.is(pe.id, null);
  // Valid JSON that is not JSON-RPC: -32600, with the message's id when it has one.
  for (const [text, id, why] of [
    ['{"jsonrpc":"2.0","id":7}', 7, /"method" \(a request or notification\)/],
    ['{"foo":1}', null, /"jsonrpc": "2.0"/],
    ['{"jsonrpc":"2.0","id":"x","method":5}', 'x', /"method" to be a string/],
    ['{"jsonrpc":"2.0","id":{"a":1},"method":"backends"}', null, /an id that is a string, a number or null/],
    ['[{"jsonrpc":"2.0","id":8,"method":"backends"}]', null, /batches are not supported/],
    ['42', null, /a JSON object/],
  ] as const) {
    raw.write(frame(text));
    const ir = (await raw.next()) as { id: unknown; error: { code: number; message: string; data: { code: string } } };
    assert.is(ir.error.code, -32600, `${text}: ${JSON.stringify(ir)}`);
    assert.is(ir.id, id, text);
    assert.match(ir.error.message, why);
    assert.is(ir.error.data.code, 'ERR_INVALID');
  }
  // The connection survives a malformed message.
  raw.write(frame('{"jsonrpc":"2.0","id":2,"method":"backends","params":{}}'));
  const ok = (await raw.next()) as { id: number; result: { backends: unknown[] } };
  assert.is(ok.id, 2);
  assert.ok(Array.isArray(ok.result.backends));

  const unknown = await rpcFails(c.call('no.such.method' as 'backends', {}));
  assert.is(unknown.rpcCode, -32601);
  const badType = await rpcFails(c.call('model.load', { dir: 42 as unknown as string }));
  assert.is(badType.rpcCode, -32602);
  assert.is(badType.data?.field, 'dir');
  const extra = await rpcFails(c.call('tokenize', { handle: 'm1', text: 'x', txet: 'y' } as never));
  assert.is(extra.rpcCode, -32602);
  assert.is(extra.data?.field, 'txet');
  const nested = await rpcFails(c.call('forward', { handle: 'm1', sequences: [{ ids: [1, -2] }] }));
  assert.is(nested.data?.field, 'sequences.0.ids.1');
  // Engine errors: the code, file, line and field of the PlastError.
  const bad = join(tmp, 'bad-ckpt');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'config.json'), '{"hidden_size": ');
  const fmt = await rpcFails(c.call('model.load', { dir: bad }));
  assert.is(fmt.rpcCode, -32000);
  assert.equal(fmt.data, { code: 'ERR_FORMAT', file: join(bad, 'config.json') });
  const data = join(tmp, 'bad.jsonl');
  writeFileSync(data, '{"en":"a","ar":"b"}\n{bad json\n');
  const dataErr = await rpcFails(c.call('profile', { model: MODEL, data, langs: ['en', 'ar'], out: join(tmp, 'never'), backend: 'cpu' }));
  assert.equal(dataErr.data, { code: 'ERR_DATA', file: data, line: 2 });
  assert.not.ok(existsSync(join(tmp, 'never')));
  const { handle } = await c.call('model.load', { dir: MODEL, backend: 'cpu' });
  const inv = await rpcFails(c.call('forward', { handle: 'nope', sequences: [{ ids: [1] }] }));
  assert.is(inv.rpcCode, -32602);
  assert.equal(inv.data, { code: 'ERR_INVALID', field: 'handle' });
  const outside = await rpcFails(c.call('forward', { handle, sequences: [{ ids: [1] }], hiddenAt: [99] }));
  assert.equal(outside.data, { code: 'ERR_INVALID', field: 'layers' });
  const io = await rpcFails(c.call('select', { profile: join(tmp, 'nowhere') }));
  assert.is(io.data?.code, 'ERR_IO');
}

test('every error class over stdio', async () => {
  // Raw frames to one server process, client calls to another (both on stdio).
  const child = spawn(process.execPath, [CLI, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'], env: ENV });
  const reader = frameReader(child.stdout!);
  const c = await connect({ env: ENV });
  try {
    await errorClasses(c, { write: (s) => child.stdin!.write(s), next: reader.next });
  } catch (e) {
    child.kill();
    throw e;
  } finally {
    await c.close();
  }
  child.stdin!.end();
  assert.is(await exited(child), 0, 'the server ends when its stdin closes');
  assert.is(c.child!.exitCode, 0);
});

test('every error class over a Unix socket; shutdown removes the socket', async () => {
  const path = join(tmp, 'plast.sock');
  const srv = await startListening(['--socket', path]);
  try {
    const c = await connect({ socket: path });
    const sock: Socket = createConnection(path);
    await new Promise((res) => sock.once('connect', res));
    await errorClasses(c, { write: (s) => sock.write(s), next: frameReader(sock).next });
    sock.end();
    assert.equal(await c.call('shutdown', {}), { ok: true });
    assert.is(await exited(srv.child), 0, srv.stderr());
    assert.not.ok(existsSync(path), 'socket file removed');
  } finally {
    srv.child.kill();
  }
});

test('a socket client that disconnects mid-job cancels it: no output, the device free for the next client', async () => {
  const path = join(tmp, 'drop.sock');
  const srv = await startListening(['--socket', path]);
  try {
    const out = join(tmp, 'dropped-profile');
    const a = await connect({ socket: path });
    const started = new Promise<void>((res) => {
      a.call('profile', { model: MODEL, data: join(ASSETS, 'data', 'ntrex128_train.jsonl'), langs: 'en,ar,tr,ru,zh', batchTokens: 64, out, backend: 'cpu', plots: false }, {
        onProgress: (v) => v.stage === 'profile' && res(),
      }).catch(() => {});
    });
    await started;
    await a.close(); // the connection drops with the job running
    const b = await connect({ socket: path });
    const events: string[] = [];
    const t0 = Date.now();
    const { handle } = await b.call('model.load', { dir: MODEL, backend: 'cpu' });
    await b.call('forward', { handle, sequences: [{ ids: [1, 2, 3], count: 'all' }] }, { onProgress: (v) => events.push(v.stage) });
    assert.ok(Date.now() - t0 < 15000, 'the dropped job did not hold the device');
    assert.not.ok(existsSync(out), 'the dropped profile wrote nothing');
    await b.call('shutdown', {});
    assert.is(await exited(srv.child), 0);
  } finally {
    srv.child.kill();
  }
});

test('shutdown while another client trains: the training stops after its step with a checkpoint and is answered, then the server exits', async () => {
  const path = join(tmp, 'shutdown.sock');
  const srv = await startListening(['--socket', path]);
  try {
    const a = await connect({ socket: path });
    const b = await connect({ socket: path });
    let stepped!: () => void;
    const firstStep = new Promise<void>((res) => (stepped = res));
    const training = a.call('train', { model: MODEL, data: join(ASSETS, 'data', 'xquad_questions_train.jsonl'), langs: 'ar,zh', limit: 200, batch: 4, epochs: 1, layers: [7], backend: 'cpu', out: join(tmp, 'shut-train') }, {
      onProgress: (v) => v.stage === 'train' && v.done !== undefined && stepped(),
    });
    await firstStep;
    assert.equal(await b.call('shutdown', {}), { ok: true });
    const r = (await training) as { status: string; step: number; totalSteps: number; checkpoint: string };
    assert.is(r.status, 'stopped');
    assert.ok(r.step < r.totalSteps);
    assert.ok(existsSync(join(r.checkpoint, 'state.json')), 'checkpoint written');
    assert.is(await exited(srv.child), 0, srv.stderr());
    assert.match(srv.stderr(), /shutting down: 1 request\(s\) cancelled/);
  } finally {
    srv.child.kill();
  }
});

test('TCP with --token: a request without the token or with a wrong one is refused; the right one is served', async () => {
  const srv = await startListening(['--listen', '127.0.0.1:0', '--token', 's3cret']);
  try {
    const port = Number(srv.at.split(':').pop());
    const anon = await connect({ port });
    const refused = await rpcFails(anon.call('backends', {}));
    assert.is(refused.rpcCode, -32001);
    assert.is(refused.data?.code, 'ERR_UNAUTHORIZED');
    const wrong = await rpcFails(anon.call('auth', { token: 'guess' }));
    assert.is(wrong.data?.code, 'ERR_UNAUTHORIZED');
    assert.is((await rpcFails(anon.call('backends', {}))).rpcCode, -32001, 'still refused');
    await anon.close();
    const c = await connect({ port, token: 's3cret' });
    assert.ok(Array.isArray(((await c.call('backends', {})) as { backends: unknown[] }).backends));
    await c.call('shutdown', {});
    assert.is(await exited(srv.child), 0);
  } finally {
    srv.child.kill();
  }
  // Any other address than loopback needs a token.
  const open = spawnSync(process.execPath, [CLI, 'serve', '--listen', '0.0.0.0:0'], { encoding: 'utf8', env: ENV });
  assert.is(open.status, 2);
  assert.match(open.stderr, /not a loopback address: give --token/);
});

test('kill the client: the server (its child) exits, a profile in flight leaves no output', async () => {
  const out = join(tmp, 'orphan-profile');
  // A client process that starts the server, starts a long profile, and prints the server's pid.
  const script = `
    const { connect } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'client', 'index.js'))});
    (async () => {
      const c = await connect({ env: process.env });
      c.call('profile', { model: ${JSON.stringify(MODEL)}, data: ${JSON.stringify(join(ASSETS, 'data', 'ntrex128_train.jsonl'))}, langs: 'en,ar,tr,ru,zh',
        batchTokens: 64, out: ${JSON.stringify(out)}, backend: 'cpu', plots: false }, { onProgress: (v) => { if (v.stage === 'profile') console.log('progress ' + c.child.pid); } }).catch(() => {});
    })();`;
  const client = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: ENV });
  const pid = await new Promise<number>((res) => {
    let s = '';
    client.stdout!.on('data', (d: Buffer) => {
      s += d.toString();
      const m = /progress (\d+)/.exec(s);
      if (m) res(Number(m[1]));
    });
  });
  client.kill('SIGKILL');
  await exited(client);
  const t0 = Date.now();
  while (Date.now() - t0 < 20000) {
    try {
      process.kill(pid, 0);
    } catch {
      break; // gone
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.throws(() => process.kill(pid, 0), 'the server exited with its client');
  assert.not.ok(existsSync(out), 'no profile directory');
  const leftovers = existsSync(tmp) ? spawnSync('ls', ['-a', tmp], { encoding: 'utf8' }).stdout : '';
  assert.not.match(leftovers, /orphan-profile/, 'no temporary profile directory either');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
