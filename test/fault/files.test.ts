// Fault cases, safetensors headers, tokenizer files and non-regular input files: headers made
// wrong field by field (dtype, shape, data_offsets, lengths, metadata), tokenizer.json broken or
// empty, and a directory or FIFO wherever a file is read. Typed errors naming the file and the
// tensor or field; a FIFO never blocks.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readJsonl } from '../../src/data/jsonl';
import { loadParallel } from '../../src/data/parallel';
import { loadPairs } from '../../src/data/pairs';
import { Model } from '../../src/model/model';
import { readSafetensorsHeader } from '../../src/model/safetensors';
import { TextTokenizer } from '../../src/model/tokenizer';
import { readFileSync } from 'node:fs';
import { ASSETS } from '../helpers';
import { FaultCase, checkAll, cleanup, report, tempDir } from './harness';

const SRC = join(ASSETS, 'stories260K');
const dir = tempDir('files');

// ---- safetensors headers ----
function raw(header: unknown, dataBytes: number, lenOverride?: bigint): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const b = Buffer.alloc(8 + h.length + dataBytes);
  b.writeBigUInt64LE(lenOverride ?? BigInt(h.length), 0);
  h.copy(b, 8);
  return b;
}
const good = { a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
const st: FaultCase[] = [];
let n = 0;
const stCase = (name: string, bytes: Buffer, field?: string, code: string | string[] = 'ERR_FORMAT'): void => {
  const f = join(dir, `h${n++}.safetensors`);
  writeFileSync(f, bytes);
  st.push({ name: `header: ${name}`, run: () => readSafetensorsHeader(f), file: f, code, ...(field ? { field } : {}) });
};
const withA = (patch: Record<string, unknown>): unknown => ({ a: { ...good.a, ...patch } });
for (const v of ['F33', 'f32', 5, null, '']) stCase(`dtype ${JSON.stringify(v)}`, raw(withA({ dtype: v }), 16), 'a.dtype', ['ERR_FORMAT', 'ERR_DTYPE']);
stCase('dtype missing', raw({ a: { shape: [2, 2], data_offsets: [0, 16] } }, 16), 'a.dtype');
for (const v of ['2', [-1, 2], [2.5, 2], null, [2], [2, 2, 2], [1e20, 1e20], [[2], 2], {}]) stCase(`shape ${JSON.stringify(v)}`, raw(withA({ shape: v }), 16), 'a.');
for (const v of [[0], [0, 17], [-1, 15], [16, 0], 'x', [0, 1e30], null, [0.5, 16.5], [0, 16, 32]]) stCase(`data_offsets ${JSON.stringify(v)}`, raw(withA({ data_offsets: v }), 16), 'a.data_offsets');
for (const v of [5, null, [], 'x']) stCase(`entry ${JSON.stringify(v)}`, raw({ a: v }, 16), 'a');
stCase('two tensors overlap', raw({ a: good.a, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16), 'data_offsets');
stCase('header length past the end', raw(good, 16, 10_000n), 'header');
stCase('header length 2^63', raw(good, 16, 1n << 63n), 'header');
stCase('header not JSON', raw('{"a": {', 16), 'header');
stCase('header a list', raw('[1,2]', 16), 'header');
stCase('header null', raw('null', 16), 'header');
stCase('header invalid UTF-8', Buffer.concat([raw('{"a":1}', 0).subarray(0, 8), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), Buffer.alloc(0)]).fill(4, 0, 1).fill(0, 1, 8), 'header');
for (const v of [5, [1], { a: 1 }, 'x']) stCase(`__metadata__ ${JSON.stringify(v)}`, raw({ __metadata__: v, ...good }, 16), '__metadata__');
for (let len = 0; len < 8; len += 3) stCase(`file of ${len} bytes`, Buffer.alloc(len));

// ---- tokenizer ----
const tdir = join(dir, 'tok');
mkdirSync(tdir);
const TJ = JSON.parse(readFileSync(join(SRC, 'tokenizer.json'), 'utf8')) as { model: Record<string, unknown>; added_tokens: unknown[] };
const tok: FaultCase[] = [];
const tokCase = (name: string, tj: string | null, tc?: string, code: string | string[] = 'ERR_FORMAT', file = 'tokenizer.json', field?: string): void => {
  tok.push({
    name: `tokenizer: ${name}`,
    run: () => {
      rmSync(tdir, { recursive: true, force: true });
      mkdirSync(tdir);
      if (tj !== null) writeFileSync(join(tdir, 'tokenizer.json'), tj);
      if (tc !== undefined) writeFileSync(join(tdir, 'tokenizer_config.json'), tc);
      return TextTokenizer.load(tdir);
    },
    file,
    code,
    ...(field ? { field } : {}),
  });
};
tokCase('not JSON', '{"model": ');
tokCase('empty file', '');
tokCase('JSON null', 'null');
tokCase('a JSON list', '[]');
tokCase('an empty object', '{}');
tokCase('empty vocab and merges', JSON.stringify({ ...TJ, model: { ...TJ.model, vocab: {}, merges: [] } }), undefined, 'ERR_FORMAT', 'tokenizer.json', 'vocab');
tokCase('empty vocab, only added tokens', JSON.stringify({ ...TJ, model: { ...TJ.model, vocab: {}, merges: [] }, added_tokens: TJ.added_tokens }), undefined, 'ERR_FORMAT', 'tokenizer.json', 'vocab');
tokCase('model 5', JSON.stringify({ ...TJ, model: 5 }));
tokCase('missing', null, undefined, 'ERR_FORMAT');
tokCase('tokenizer_config.json not JSON', JSON.stringify(TJ), '{"bos_token": ', 'ERR_FORMAT', 'tokenizer_config.json');

// ---- directories and FIFOs where a file is read ----
const irregular: FaultCase[] = [];
const mdir = join(dir, 'model');
const resetModel = (): void => {
  rmSync(mdir, { recursive: true, force: true });
  mkdirSync(mdir);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) copyFileSync(join(SRC, f), join(mdir, f));
};
const replaced = (name: string, kind: 'dir' | 'fifo', run: () => unknown, file: string): FaultCase => ({
  name: `${file} is a ${kind === 'dir' ? 'directory' : 'FIFO'} (${name})`,
  run: async () => {
    const p = join(mdir, file);
    resetModel();
    rmSync(p, { force: true });
    if (kind === 'dir') mkdirSync(p);
    else execFileSync('mkfifo', [p]);
    await run();
  },
  file,
  code: ['ERR_IO', 'ERR_FORMAT'],
  limit: 3,
});
const load = async (): Promise<void> => (await Model.load(mdir, { backend: 'cpu' })).dispose();
for (const kind of ['dir', 'fifo'] as const) {
  irregular.push(replaced('Model.load', kind, load, 'model.safetensors'));
  irregular.push(replaced('Model.load', kind, load, 'tokenizer.json'));
  irregular.push(replaced('Model.load', kind, load, 'tokenizer_config.json'));
  irregular.push(replaced('data: profile', kind, () => loadParallel(join(mdir, 'data.jsonl'), ['en']), 'data.jsonl'));
  irregular.push(replaced('data: train', kind, () => loadPairs(join(mdir, 'data.jsonl')), 'data.jsonl'));
  irregular.push(replaced('data: jsonl', kind, () => readJsonl(join(mdir, 'data.jsonl')), 'data.jsonl'));
}
// A sharded checkpoint whose index names a shard that is a directory.
irregular.push({
  name: 'a shard named by the index is a directory',
  run: async () => {
    resetModel();
    const h = readSafetensorsHeader(join(mdir, 'model.safetensors'));
    const map = Object.fromEntries([...h.tensors.keys()].map((k) => [k, 'model-00001-of-00001.safetensors']));
    rmSync(join(mdir, 'model.safetensors'));
    mkdirSync(join(mdir, 'model-00001-of-00001.safetensors'));
    writeFileSync(join(mdir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
    await load();
  },
  file: 'model-00001-of-00001.safetensors',
  code: 'ERR_IO',
});

test(`safetensors headers: ${st.length} malformed headers are typed errors naming the tensor`, async () => {
  report('safetensors', st.length);
  await checkAll(st);
});

test(`tokenizer: ${tok.length} broken tokenizer files are typed errors naming the file`, async () => {
  report('tokenizer', tok.length);
  await checkAll(tok);
});

test(`non-regular files: ${irregular.length} directories and FIFOs in a file's place are ERR_IO, without blocking`, async () => {
  report('non-regular', irregular.length);
  await checkAll(irregular);
});

test('control: a valid header and the unmodified tokenizer load', () => {
  const f = join(dir, 'ok.safetensors');
  writeFileSync(f, raw(good, 16));
  assert.is(readSafetensorsHeader(f).tensors.size, 1);
  assert.ok(TextTokenizer.load(SRC).vocabSize > 0);
});

test.after(cleanup(dir));
test.run();
