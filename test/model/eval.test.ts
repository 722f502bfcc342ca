// Eval on mini-ml: multiple-choice scoring (option-letter logits, continuation likelihood) checked
// against logits computed independently from hand-built prompt strings; image rows and bad rows
// counted; translation NLL per language through evaluate().
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluate, formatReport } from '../../src/eval/evaluate';
import { LETTER_INSTRUCTION } from '../../src/eval/mcq';
import { Model } from '../../src/model/model';
import { ASSETS, logSoftmax } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-eval-'));
const MINI = join(ASSETS, 'mini-ml');

const ROWS: [string, string, string, string, string, string, string][] = [
  // index, language, question, A, B, answer, image
  ['1', 'en', 'How many points did the Panthers defense surrender?', 'Twenty four', 'Three hundred', 'A', ''],
  ['2', 'ru', 'Сколько очков уступила защита Пэнтерс?', 'Двадцать четыре', 'Триста', 'A', ''],
  ['3', 'en', 'Who won Super Bowl 50?', 'The Denver Broncos', 'A cat', 'A', ''],
  ['4', 'tr', 'Panthers savunması kaç sayı bırakmıştır?', 'yirmi dört', 'üç yüz', 'B', ''],
  ['5', 'en', 'What is shown in the picture?', 'A dog', 'A rocket', 'B', 'iVBORw0KGgoAAAANSUhEUg=='],
  ['6', 'ru', 'Без ответа?', 'да', 'нет', '', ''],
];

test('mcq: letter logits and continuation likelihood match hand-built prompts; image and bad rows reported', async () => {
  const tsv = join(tmp, 'mmb.tsv');
  writeFileSync(tsv, ['index\tlanguage\tquestion\tA\tB\tanswer\timage', ...ROWS.map((r) => r.join('\t'))].join('\n') + '\n');
  const m = await Model.load(MINI, { backend: 'cpu' });
  const r = await evaluate(m, { data: tsv });
  process.stdout.write(formatReport(r).replace(/^/gm, '  '));
  assert.is(r.kind, 'mcq');
  assert.is(r.items, 4);
  assert.equal(r.perLangItems, { en: 2, ru: 1, tr: 1 });
  assert.equal(r.imageRows, { en: 1 });
  assert.equal(r.bad, { 'missing-field': 1 });
  assert.is(r.letter!.predictions.length, 4);
  assert.is(r.likelihood!.overall.items, 4);
  assert.is(r.letter!.overall.chance, 0.5);
  assert.ok(formatReport(r).includes('1 row(s) have an image: not scored by the logits protocol'));

  // Letter scores = the logits of the letters' tokens after the prompt (built here by hand).
  const [, , q, a, b] = ROWS[0]!;
  const prompt = `${q}\nA. ${a}\nB. ${b}\n${LETTER_INSTRUCTION}\nAnswer:`;
  const ids = m.tokenizer.encode(prompt);
  const tokA = m.tokenizer.encode(prompt + ' A');
  const tokB = m.tokenizer.encode(prompt + ' B');
  assert.equal(tokA.slice(0, -1), ids);
  const f = await m.forward([{ ids, logitAt: [ids.length - 1] }]);
  const row = f.logits[0]!;
  const s = r.letter!.predictions[0]!.scores;
  assert.ok(Math.abs(s['A']! - row[tokA[tokA.length - 1]!]!) < 1e-4 && Math.abs(s['B']! - row[tokB[tokB.length - 1]!]!) < 1e-4, JSON.stringify(s));

  // Likelihood score of option B = mean log-prob of its tokens after "question\nAnswer:".
  const pre = m.tokenizer.encode(`${q}\nAnswer:`);
  const full = m.tokenizer.encode(`${q}\nAnswer: ${b}`);
  assert.equal(full.slice(0, pre.length), pre);
  const g = await m.forward([{ ids: full, logitAt: full.map((_, t) => t).slice(pre.length - 1, -1) }]);
  const V = m.config.vocabSize;
  let sum = 0;
  for (let t = pre.length; t < full.length; t++) sum += logSoftmax(g.logits[0]!.subarray((t - pre.length) * V, (t - pre.length + 1) * V), full[t]!);
  const want = sum / (full.length - pre.length);
  assert.ok(Math.abs(r.likelihood!.predictions[0]!.scores['B']! - want) < 1e-4, `${r.likelihood!.predictions[0]!.scores['B']} vs ${want}`);

  // --text-only scores the image row on its text and says so.
  const t = await evaluate(m, { data: tsv, mode: 'letter', textOnly: true, langs: ['en'] });
  assert.is(t.items, 3);
  assert.is(t.imageRowsScored, true);
  assert.is(t.likelihood, undefined);
  assert.equal(t.filtered, { ru: 1, tr: 1 });
});

test('translation NLL per language through evaluate (pairs and parallel files)', async () => {
  const m = await Model.load(MINI, { backend: 'cpu' });
  const r = await evaluate(m, { data: join(ASSETS, 'data', 'xquad_questions_train.jsonl'), langs: ['ar', 'zh'], limit: 10 });
  process.stdout.write(formatReport(r).replace(/^/gm, '  '));
  assert.is(r.kind, 'pairs');
  assert.equal(Object.keys(r.nll!.perLang), ['ar', 'zh']);
  assert.is(r.nll!.overall.pairs, 10);
  for (const s of Object.values(r.nll!.perLang)) assert.ok(s.nll > 0.1 && s.nll < 10, String(s.nll));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
