// Translation pairs and multiple-choice data: both JSONL layouts, bad rows counted with their
// line and reason (never dropped silently), --strict rejecting the file at the bad line, the
// prompt/label layout of an encoded pair, and the MMBench-style TSV reader.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePair, encodePairs, loadPairs } from '../../src/data/pairs';
import { badCounts } from '../../src/data/rows';
import { loadMcq, parseTsv } from '../../src/data/mcq';
import { TextTokenizer } from '../../src/model/tokenizer';
import { ASSETS, rejects } from '../helpers';

const dir = mkdtempSync(join(tmpdir(), 'plast-data-'));
const file = (name: string, lines: string[]): string => {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
};

const PAIRS = file('pairs.jsonl', [
  JSON.stringify({ lang: 'ar', source: 'كم عدد', target: 'How many' }), // 1 ok
  JSON.stringify({ lang: 'ru', source: 'Сколько' }), // 2 missing target
  JSON.stringify({ lang: 'tr', source: 'Kaç', target: '   ' }), // 3 empty target
  JSON.stringify({ lang: 'xx', source: 'a', target: 'b' }), // 4 unknown language
  '', // 5 blank
  JSON.stringify({ lang: 'eng', source: 'a', target: 'b' }), // 6 english source
  JSON.stringify({ lang: 'zho-CN', source: '一共多少钱', target: 'How much is it in total, please?' }), // 7 ok (alias)
  JSON.stringify({ lang: 'pt', source: '', target: 'x' }), // 8 empty source
]);

test('pairs: bad rows are counted with line and reason; good rows kept in order', () => {
  const d = loadPairs(PAIRS);
  assert.equal(d.format, ['pairs']);
  assert.equal(d.pairs.map((p) => [p.lang, p.line]), [['ar', 1], ['zh', 7]]);
  assert.equal(d.bad.map((b) => [b.line, b.reason]), [[2, 'missing-field'], [3, 'empty-target'], [4, 'unknown-language'], [6, 'english-source'], [8, 'empty-source']]);
  assert.equal(badCounts(d.bad), { 'missing-field': 1, 'empty-target': 1, 'unknown-language': 1, 'english-source': 1, 'empty-source': 1 });
  assert.ok(d.bad[0]!.message.includes(`${PAIRS}:2`), d.bad[0]!.message);
  assert.is(d.blankLines, 1);
});

test('pairs: --strict rejects the file with ERR_DATA naming the first bad line', async () => {
  const e = (await rejects(() => loadPairs(PAIRS, { strict: true }), 'ERR_DATA', /pairs\.jsonl:2: missing field\(s\) target/)) as { line?: number };
  assert.is(e.line, 2);
});

test('pairs: parallel file with an English column: one pair per language column; "id" is not Indonesian; --langs and --limit counted', () => {
  const p = file('parallel.jsonl', [
    JSON.stringify({ id: 'q1', en: 'How many points?', ar: 'كم نقطة؟', ru: 'Сколько очков?', hi: 'कितने अंक?' }),
    JSON.stringify({ id: 'q2', en: '', ar: 'x', ru: 'y', hi: 'z' }),
    JSON.stringify({ id: 'q3', en: 'Who?', ar: 'من؟', hi: 'कौन?' }),
  ]);
  const d = loadPairs(p, { langs: ['ar', 'ru'] });
  assert.equal(d.format, ['parallel']);
  assert.equal(d.ignoredColumns, ['id']);
  assert.equal(d.pairs.map((x) => `${x.lang}:${x.line}:${x.target}`), ['ar:1:How many points?', 'ru:1:How many points?', 'ar:3:Who?']);
  assert.equal(d.filtered, { hi: 2 });
  assert.equal(d.bad.map((b) => [b.line, b.reason, b.column]), [[2, 'empty-target', 'en'], [3, 'missing-field', 'ru']]);
  const lim = loadPairs(p, { limit: 2 });
  assert.is(lim.pairs.length, 2);
  assert.is(lim.overLimit, 3);
  // the bundled NTREX file: eng + 9 languages (zho-CN, heb, ...), 1600 rows
  const nt = loadPairs(join(ASSETS, 'data', 'ntrex128_train.jsonl'), { langs: ['ar', 'tr', 'ru', 'pt', 'zh'] });
  assert.is(nt.pairs.length, 5 * 1600);
  assert.is(nt.bad.length, 0);
  assert.equal(Object.keys(nt.filtered).sort(), ['he', 'hi', 'ro', 'th']);
});

test('pairs: a file that is neither layout is an ERR_DATA listing its columns', async () => {
  const p = file('neither.jsonl', [JSON.stringify({ foo: 1, ar: 'x' })]);
  await rejects(() => loadPairs(p), 'ERR_DATA', /English column.*foo, ar/);
});

test('encodePair: DESIGN.md prompt, labels on the English target + EOS only; over-long pairs are bad rows', async () => {
  const tok = TextTokenizer.load(join(ASSETS, 'mini-ml'));
  const d = loadPairs(PAIRS);
  const e = encodePair(tok, 'plain', d.pairs[0]!, 2);
  assert.is(e.ids[0], 1);
  assert.is(e.ids[e.ids.length - 1], 2);
  assert.is(tok.decode(e.ids.slice(0, e.targetStart), { skipSpecialTokens: true }), 'Translate this from Arabic to English:\nArabic: كم عدد\nEnglish:');
  assert.is(tok.decode(e.ids.slice(e.targetStart, -1), { skipSpecialTokens: true }), 'How many');
  const v = encodePair(tok, 'vicuna', d.pairs[0]!, 2);
  assert.ok(tok.decode(v.ids.slice(0, v.targetStart), { skipSpecialTokens: true }).endsWith('USER: Translate this from Arabic to English:\nArabic: كم عدد ASSISTANT:'));
  assert.equal(v.ids.slice(v.targetStart), e.ids.slice(e.targetStart));
  const enc = encodePairs(tok, d.pairs, { template: 'plain', eosId: 2, maxLen: e.ids.length });
  assert.is(enc.examples.length, 1);
  assert.equal(enc.bad.map((b) => [b.line, b.reason]), [[7, 'too-long']]);
  await rejects(() => encodePairs(tok, d.pairs, { template: 'plain', eosId: 2, maxLen: e.ids.length, strict: true }), 'ERR_DATA', /:7: zh pair is \d+ tokens, over the maximum length/);
});

test('mcq TSV: quoted fields with tabs, quotes and newlines; line numbers of records', () => {
  const recs = parseTsv('a\tb\n1\t"x\ty ""q""\nz"\n2\t\n');
  assert.equal(recs, [
    { line: 1, fields: ['a', 'b'] },
    { line: 2, fields: ['1', 'x\ty "q"\nz'] },
    { line: 4, fields: ['2', ''] },
  ]);
});

test('mcq: MMBench-style TSV and JSONL; image rows kept and flagged; bad rows counted; strict rejects', async () => {
  const tsv = join(dir, 'mmb.tsv');
  writeFileSync(
    tsv,
    [
      'index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage',
      '1\tWhat is 2+2?\tnan\t3\t4\t\t\tB\tmath\t',
      '2\tWhich colour?\tLook.\tred\tblue\tgreen\t\tC\tcolour\tiVBORw0KGgo=',
      '3\tNo answer\t\tx\ty\t\t\t\tm\t',
      '4\tBad answer\t\tx\ty\t\t\tD\tm\t',
      '5\tOne option\t\tx\t\t\t\tA\tm\t',
    ].join('\n') + '\n',
  );
  const d = loadMcq(tsv, { lang: 'ru' });
  assert.is(d.items.length, 2);
  assert.equal(d.items[0]!.options.map((o) => o.letter), ['A', 'B']);
  assert.is(d.items[0]!.hint, undefined);
  assert.is(d.items[1]!.hint, 'Look.');
  assert.equal(d.items.map((i) => [i.lang, i.hasImage]), [['ru', false], ['ru', true]]);
  assert.equal(d.bad.map((b) => [b.line, b.reason]), [[4, 'missing-field'], [5, 'invalid-answer'], [6, 'too-few-options']]);
  // without --lang and without a language column, every row is a bad row, not a silent default
  assert.is(loadMcq(tsv).items.length, 0);
  await rejects(() => loadMcq(tsv, { lang: 'ru', strict: true }), 'ERR_DATA', /mmb\.tsv:4: missing answer/);
  const jl = file('mcq.jsonl', [
    JSON.stringify({ question: 'Q1', options: ['a', 'b', 'c'], answer: 'c', language: 'tr' }),
    JSON.stringify({ question: 'Q2', A: 'a', B: 'b', answer: 'A', lang: 'zz' }),
    JSON.stringify({ question: 'Q3', options: { A: 'a', B: 'b' }, answer: 'b', language: 'en', image_path: 'x.png' }),
  ]);
  const j = loadMcq(jl);
  assert.equal(j.items.map((i) => [i.lang, i.answer, i.options.length, i.hasImage]), [['tr', 'C', 3, false], ['en', 'B', 2, true]]);
  assert.equal(j.bad.map((b) => [b.line, b.reason]), [[2, 'unknown-language']]);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
