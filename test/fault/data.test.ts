// Fault cases, data rows: one bad row (invalid JSON, not an object, a text cell that is not a
// non-empty string, invalid UTF-8, a missing language) placed among good rows, read the way
// `profile` reads parallel questions and the way `train` reads pairs (--strict). Both readers give
// the same verdict on the same row: an ERR_DATA naming the file and the line. A pair longer than
// the model's positions is reported as too long.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadParallel } from '../../src/data/parallel';
import { encodePairs, loadPairs } from '../../src/data/pairs';
import { TextTokenizer } from '../../src/model/tokenizer';
import { ASSETS } from '../helpers';
import { FaultCase, checkAll, cleanup, report, tempDir } from './harness';

const dir = tempDir('data');
let n = 0;
const file = (lines: (string | Buffer)[]): string => {
  const f = join(dir, `d${n++}.jsonl`);
  writeFileSync(f, Buffer.concat(lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l, 'utf8') : l, Buffer.from('\n')]))));
  return f;
};

const wide = (en: unknown, ar: unknown, id?: unknown): string => JSON.stringify({ ...(id !== undefined ? { id } : {}), en, ar });
const pair = (lang: unknown, source: unknown, target: unknown): string => JSON.stringify({ lang, source, target });
const BAD_TEXT: unknown[] = [5, 0, true, false, null, { t: 'x' }, ['x'], '', '   ', '\n\t'];
const NOT_ROWS = ['{"en": "a", "ar": ', '[1, 2]', '5', '"text"', 'null', 'true', '{"en": "a" "ar": "b"}'];
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xf5, 0x80, 0x80, 0x80])];

const cases: FaultCase[] = [];
const both = (name: string, line: number, wideLines: (string | Buffer)[], pairLines: (string | Buffer)[], field?: string): void => {
  const fw = file(wideLines);
  const fp = file(pairLines);
  cases.push({ name: `profile: ${name}`, run: () => loadParallel(fw, ['en', 'ar']), file: fw, line, code: 'ERR_DATA', ...(field ? { field } : {}) });
  cases.push({ name: `train: ${name}`, run: () => loadPairs(fp, { strict: true }), file: fp, line, code: 'ERR_DATA', ...(field ? { field } : {}) });
};
const goodW = (i: number): string => wide(`question ${i}?`, `سؤال ${i}؟`, `q${i}`);
const goodP = (i: number): string => pair('ar', `سؤال ${i}؟`, `question ${i}?`);

for (const at of [1, 3]) {
  const around = <T>(bad: T, good: (i: number) => string): (string | T)[] => [0, 1, 2, 3].map((i) => (i + 1 === at ? bad : good(i)));
  for (const v of BAD_TEXT) {
    // The English side: profile's "en" column, train's target.
    both(`line ${at}: English text ${JSON.stringify(v)}`, at, around(wide(v, 'نص', `x${at}`), goodW), around(pair('ar', 'نص', v), goodP), undefined);
    // The other side: profile's "ar" column, train's source.
    both(`line ${at}: Arabic text ${JSON.stringify(v)}`, at, around(wide('text', v, `x${at}`), goodW), around(pair('ar', v, 'text'), goodP), undefined);
  }
  for (const r of NOT_ROWS) both(`line ${at}: not a JSON object: ${r}`, at, around(r, goodW), around(r, goodP));
  for (const b of INVALID_UTF8) {
    const badW = Buffer.concat([Buffer.from('{"id": "u", "en": "a'), b, Buffer.from('", "ar": "b"}')]);
    const badP = Buffer.concat([Buffer.from('{"lang": "ar", "source": "a'), b, Buffer.from('", "target": "b"}')]);
    both(`line ${at}: invalid UTF-8 ${b.toString('hex')}`, at, around(badW, goodW), around(badP, goodP));
  }
}
// Profile only: a missing language column, a duplicate id, a long-layout row among wide ones.
for (const [name, row] of [
  ['no Arabic column', JSON.stringify({ id: 'z', en: 'a' })],
  ['duplicate id', wide('a', 'b', 'q0')],
  ['long-layout row', JSON.stringify({ id: 'z', lang: 'en', text: 'a' })],
  ['id an object', wide('a', 'b', { x: 1 })],
] as const) {
  const f = file([goodW(0), row, goodW(2)]);
  cases.push({ name: `profile: line 2: ${name}`, run: () => loadParallel(f, ['en', 'ar']), file: f, line: 2, code: ['ERR_DATA', 'ERR_LANG'] });
}
// Train only: missing fields, an unknown or English source language.
for (const [name, row] of [
  ['no source', JSON.stringify({ lang: 'ar', target: 'a' })],
  ['no lang', JSON.stringify({ source: 'a', target: 'b' })],
  ['lang 5', pair(5, 'a', 'b')],
  ['unknown language', pair('xx-nope', 'a', 'b')],
  ['English source', pair('en', 'a', 'b')],
] as const) {
  const f = file([goodP(0), row, goodP(2)]);
  cases.push({ name: `train: line 2: ${name}`, run: () => loadPairs(f, { strict: true }), file: f, line: 2, code: 'ERR_DATA' });
}
// Whole files.
for (const [name, lines] of [
  ['empty', []],
  ['only blank lines', ['', '  ']],
] as const) {
  const f = file([...lines]);
  cases.push({ name: `profile: ${name} file`, run: () => loadParallel(f, ['en', 'ar']), file: f, code: 'ERR_DATA' });
  cases.push({ name: `train: ${name} file`, run: () => loadPairs(f, { strict: true }), file: f, code: 'ERR_DATA' });
}
cases.push({ name: 'missing file', run: () => loadPairs(join(dir, 'nope.jsonl')), file: 'nope.jsonl', code: 'ERR_IO' });

test(`data rows: ${cases.length} bad rows get the same verdict from every reader, naming file and line`, async () => {
  report('data rows', cases.length);
  await checkAll(cases);
});

test('a non-string text is a bad row for train too (not turned into text), counted without --strict', () => {
  const f = file([goodP(0), pair('ar', 42, 'forty-two'), goodP(2)]);
  const d = loadPairs(f);
  assert.is(d.pairs.length, 2);
  assert.is(d.bad.length, 1);
  assert.is(d.bad[0]!.reason, 'not-text');
  assert.is(d.bad[0]!.line, 2);
});

test("a pair longer than the model's positions is too long, whatever --max-len says", async () => {
  const tok = TextTokenizer.load(join(ASSETS, 'stories260K'));
  const long = 'once upon a time '.repeat(200);
  const d = loadPairs(file([pair('ar', long, 'a story')]));
  const r = encodePairs(tok, d.pairs, { template: 'plain', eosId: 2, maxLen: 100000, maxPositions: 512 });
  assert.is(r.examples.length, 0);
  assert.is(r.bad[0]!.reason, 'too-long');
  assert.match(r.bad[0]!.message, /more than the model's 512 positions \(max_position_embeddings\)/);
  const strict = () => encodePairs(tok, d.pairs, { template: 'plain', eosId: 2, maxLen: 100000, maxPositions: 512, strict: true });
  assert.throws(strict, (e: Error & { code?: string }) => e.code === 'ERR_DATA' && /:1: ar pair is \d+ tokens/.test(e.message));
});

test.after(cleanup(dir));
test.run();
