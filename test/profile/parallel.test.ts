// The parallel-question loader (src/data/parallel.ts) in both layouts — a column per language
// (ISO 639-1 or NTREX-style codes) and a row per question and language — and one test per bad
// input, each a typed error that names the file, the line and the problem. Blank lines are
// documented as skipped and counted (not an error): tested as such, with line numbers kept.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadParallel } from '../../src/data/parallel';
import { rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-parallel-'));
let n = 0;
/** Writes `text` as is (no newline added) to a fresh file. */
function file(text: string): string {
  const p = join(tmp, `data-${n++}.jsonl`);
  writeFileSync(p, text);
  return p;
}
const rows = (...r: unknown[]): string => r.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n') + '\n';

/** The error must carry the line too, not only mention it. */
async function lineError(fn: () => unknown, code: string, line: number, re: RegExp): Promise<void> {
  const e = (await rejects(fn, code, re)) as Error & { line?: number; file?: string };
  assert.is(e.line, line, `error line of "${e.message}"`);
  assert.ok(e.message.includes(`:${line}:`), `"${e.message}" names line ${line}`);
}

test('wide layout, ISO 639-1 columns: texts in the order asked for, ids (default line-N), other keys ignored, --limit after checking', () => {
  const f = file(rows({ id: 'q1', en: 'One?', ar: 'واحد؟', zh: '一？', source: 'x' }, { en: 'Two?', zh: '二？', ar: 'اثنان؟' }, { id: 7, en: 'Three?', ar: 'ثلاثة؟', zh: '三？' }));
  const d = loadParallel(f, ['zh', 'en']);
  assert.is(d.layout, 'wide');
  assert.equal(d.langs, ['zh', 'en']);
  assert.equal(d.columns, { zh: 'zh', en: 'en' });
  assert.is(d.questionsInFile, 3);
  assert.is(d.rows, 3);
  assert.is(d.blankLines, 0);
  assert.equal(
    d.questions.map((q) => [q.id, q.index, q.line, Object.keys(q.texts), q.texts['en']]),
    [['q1', 0, 1, ['zh', 'en'], 'One?'], ['line-2', 1, 2, ['zh', 'en'], 'Two?'], ['7', 2, 3, ['zh', 'en'], 'Three?']],
  );
  assert.match(d.sha256, /^[0-9a-f]{64}$/);
  const lim = loadParallel(f, ['en', 'ar'], { limit: 2 });
  assert.is(lim.questionsInFile, 3);
  assert.equal(lim.questions.map((q) => q.id), ['q1', 'line-2']);
});

test('wide layout, NTREX-style columns (eng, arb, zho-CN) asked for by ISO code or by alias', () => {
  const f = file(rows({ id: 'ntrex-0', eng: 'Hello', arb: 'مرحبا', 'zho-CN': '你好', rus: 'Привет' }));
  const d = loadParallel(f, ['en', 'arb', 'zh']);
  assert.equal(d.langs, ['en', 'ar', 'zh']);
  assert.equal(d.columns, { en: 'eng', ar: 'arb', zh: 'zho-CN' });
  assert.equal(d.questions[0]!.texts, { en: 'Hello', ar: 'مرحبا', zh: '你好' });
});

test('long layout: rows grouped by id in order of first appearance, NTREX codes in "lang", unrequested languages skipped', () => {
  const f = file(
    rows(
      { id: 'a', lang: 'eng', text: 'A?' },
      { id: 'b', lang: 'en', text: 'B?' },
      { id: 'a', lang: 'arb', text: 'أ؟' },
      { id: 'a', lang: 'ru', text: 'А?' },
      { id: 'b', lang: 'ar', text: 'ب؟' },
    ),
  );
  const d = loadParallel(f, ['en', 'ar']);
  assert.is(d.layout, 'long');
  assert.is(d.rows, 5);
  assert.equal(d.columns, {});
  assert.equal(
    d.questions.map((q) => [q.id, q.index, q.line, q.texts]),
    [['a', 0, 1, { en: 'A?', ar: 'أ؟' }], ['b', 1, 2, { en: 'B?', ar: 'ب؟' }]],
  );
});

test('blank lines are skipped and counted; lines keep their numbers; a BOM and CRLF line ends are accepted', async () => {
  const f = file('\uFEFF' + JSON.stringify({ id: 'q1', en: 'a', ar: 'b' }) + '\r\n\r\n   \r\n' + JSON.stringify({ id: 'q2', en: 'c', ar: 'd' }) + '\r\n');
  const d = loadParallel(f, ['en', 'ar']);
  assert.is(d.blankLines, 2);
  assert.is(d.rows, 2);
  assert.equal(d.questions.map((q) => q.line), [1, 4]);
  // An error after blank lines names the line as an editor shows it.
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, '', '', { en: 'c' })), ['en', 'ar']), 'ERR_DATA', 4, /no column for Arabic/);
});

test('unknown language code in the languages asked for: ERR_LANG naming it and what is known', async () => {
  const f = file(rows({ en: 'a', ar: 'b' }));
  await rejects(() => loadParallel(f, ['en', 'xx']), 'ERR_LANG', /unknown language code "xx" in --langs: .*known without naming: en, ar, tr.*--language xx=Name/);
  await rejects(() => loadParallel(f, ['en', 'eng']), 'ERR_LANG', /language "en" is asked for twice/);
  await rejects(() => loadParallel(f, []), 'ERR_LANG', /at least one language/);
});

test('unknown language code in a long-layout row: ERR_LANG naming the line', async () => {
  const f = file(rows({ id: 'a', lang: 'en', text: 'A' }, { id: 'a', lang: 'ar', text: 'B' }, { id: 'a', lang: 'klingon', text: 'C' }));
  await lineError(() => loadParallel(f, ['en', 'ar']), 'ERR_LANG', 3, /unknown language code "klingon"/);
});

test('wide layout: a column missing in some row names the row, the language and the keys accepted for it', async () => {
  const f = file(rows({ id: 1, en: 'a', ar: 'b' }, { id: 2, en: 'c', ar: 'd' }, { id: 3, en: 'e', arabic_text: 'f' }));
  await lineError(() => loadParallel(f, ['en', 'ar']), 'ERR_DATA', 3, /no column for Arabic \("ar", "arb", "ara"\)/);
  // The first row decides nothing about later ones: the same holds for NTREX columns.
  const g = file(rows({ eng: 'a', 'zho-CN': 'b' }, { eng: 'c' }));
  await lineError(() => loadParallel(g, ['en', 'zh']), 'ERR_DATA', 2, /no column for Chinese/);
});

test('long layout: a language row missing for some question names the question and its first line', async () => {
  const f = file(rows({ id: 'a', lang: 'en', text: 'A' }, { id: 'a', lang: 'ar', text: 'B' }, { id: 'b', lang: 'en', text: 'C' }, { id: 'c', lang: 'ar', text: 'D' }));
  await lineError(() => loadParallel(f, ['en', 'ar']), 'ERR_DATA', 3, /question "b" \(first row on line 3\) has no Arabic row/);
});

test('invalid JSON on line N', async () => {
  const f = file(rows({ en: 'a', ar: 'b' }, { en: 'c', ar: 'd' }, '{"en": "e", "ar": '));
  await lineError(() => loadParallel(f, ['en', 'ar']), 'ERR_DATA', 3, /invalid JSON/);
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, '["en", "ar"]')), ['en', 'ar']), 'ERR_DATA', 2, /expected a JSON object but found an array/);
});

test('an empty file, or one of blank lines only: ERR_DATA saying so; a missing file: ERR_IO', async () => {
  await rejects(() => loadParallel(file(''), ['en', 'ar']), 'ERR_DATA', /the file is empty \(no JSON rows\)/);
  await rejects(() => loadParallel(file('\n  \n\n'), ['en', 'ar']), 'ERR_DATA', /the file is empty/);
  await rejects(() => loadParallel(join(tmp, 'nope.jsonl'), ['en', 'ar']), 'ERR_IO', /cannot read/);
});

test('an empty or non-string text names the line and the column', async () => {
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, { en: 'c', arb: '  ' })), ['en', 'ar']), 'ERR_DATA', 2, /"arb" is empty/);
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, { en: null, ar: 'd' })), ['en', 'ar']), 'ERR_DATA', 2, /expected a string in "en" but found null/);
  await lineError(() => loadParallel(file(rows({ id: 'a', lang: 'en', text: 5 })), ['en']), 'ERR_DATA', 1, /expected a string in "text" but found number/);
});

test('duplicates: two columns for one language, a reused id, a second row for the same question and language', async () => {
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, { en: 'c', eng: 'c', ar: 'd' })), ['en', 'ar']), 'ERR_DATA', 2, /columns "en" and "eng" both hold English/);
  await lineError(() => loadParallel(file(rows({ id: 'x', en: 'a', ar: 'b' }, { id: 'x', en: 'c', ar: 'd' })), ['en', 'ar']), 'ERR_DATA', 2, /id "x" was already used on line 1/);
  await lineError(
    () => loadParallel(file(rows({ id: 'x', lang: 'en', text: 'a' }, { id: 'x', lang: 'eng', text: 'b' })), ['en']),
    'ERR_DATA',
    2,
    /question "x" already has a English row on line 1/,
  );
});

test('mixed layouts and long rows without an id are refused', async () => {
  await lineError(() => loadParallel(file(rows({ en: 'a', ar: 'b' }, { id: 'q', lang: 'en', text: 'c' })), ['en', 'ar']), 'ERR_DATA', 2, /a long-layout row/);
  await lineError(() => loadParallel(file(rows({ id: 'q', lang: 'en', text: 'a' }, { id: 'q', en: 'b' })), ['en']), 'ERR_DATA', 2, /expected a string "lang"/);
  await lineError(() => loadParallel(file(rows({ lang: 'en', text: 'a' })), ['en']), 'ERR_DATA', 1, /has no "id"/);
  await lineError(() => loadParallel(file(rows({ id: '', en: 'a' })), ['en']), 'ERR_DATA', 1, /expected "id" to be a non-empty string or a number/);
});

test('limit must be a positive integer', async () => {
  const f = file(rows({ en: 'a', ar: 'b' }));
  for (const limit of [0, -1, 1.5]) await rejects(() => loadParallel(f, ['en', 'ar'], { limit }), 'ERR_INVALID', /positive integer for limit/);
});

test.run();
