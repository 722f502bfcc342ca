// The vlmeval protocol against VLMEvalKit's code as read (open-compass/VLMEvalKit): the prompt
// strings of LLaVA.build_prompt / generate_inner written out by hand, can_infer cases, circular
// scoring (mcq_circular_eval), the TSV reading (image references, circular indices, pandas NA),
// bad rows typed and counted, a scripted generator through the whole pipeline (and the image seam),
// and `plast eval --protocol vlmeval` end to end on the bundled model.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastError } from '../../src/errors';
import { Generator, ImageRef, PromptSegment, VlmItem, VlmPrediction, canInfer, circularScores, conversation, llavaPrompt, loadVlmeval, promptString, runVlmeval, userPrompt, vanillaScores } from '../../src/eval/vlmeval';
import { ASSETS, FIXTURES, plast } from '../helpers';

const FIX = join(FIXTURES, 'vlmeval', 'mmbench_dev_en.tsv');
const tmp = mkdtempSync(join(tmpdir(), 'plast-vlmeval-'));
const SYS = "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

function item(over: Partial<VlmItem>): VlmItem {
  return { file: 'f.tsv', line: 2, index: '1', group: '1', rotation: false, lang: 'en', question: 'Q?', options: [{ letter: 'A', text: 'a' }, { letter: 'B', text: 'b' }], answer: 'A', ...over };
}

test('prompt: LLaVA.build_prompt and generate_inner strings, written out by hand', () => {
  const cat = item({ hint: 'Cats are animals.', question: 'How many legs does a cat have?', options: [{ letter: 'A', text: 'four' }, { letter: 'B', text: 'two' }, { letter: 'C', text: 'six' }, { letter: 'D', text: 'eight' }] });
  const text = "Cats are animals.\nHow many legs does a cat have?\nA. four\nB. two\nC. six\nD. eight\nAnswer with the option's letter from the given choices directly.";
  assert.is(llavaPrompt(cat), text);
  // generate_inner: system_prompt + 'USER: ' + content + ' ASSISTANT: ', content = ' <image> ' + text
  const img: ImageRef = { file: 'f.tsv', index: '1', sources: [{ kind: 'base64', data: 'x'.repeat(80) }] };
  assert.is(promptString(conversation('vicuna', text, img)), `${SYS} USER:  <image> ${text} ASSISTANT: `);
  assert.equal(conversation('vicuna', text, img)[1], { image: 0 });
  assert.is(promptString(conversation('vicuna', text)), `${SYS} USER: ${text} ASSISTANT: `);
  const two: ImageRef = { ...img, sources: [img.sources[0]!, img.sources[0]!] };
  assert.is(promptString(conversation('vicuna', 'T', two)), `${SYS} USER:  <image>  <image> T ASSISTANT: `);
  // cn_string anywhere in the prompt picks the Chinese instruction: a Chinese question ...
  assert.is(llavaPrompt(item({ question: '猫有几条腿？', options: [{ letter: 'A', text: '四' }, { letter: 'B', text: '二' }] })), '猫有几条腿？\nA. 四\nB. 二\n请直接回答选项字母。');
  // ... or only an option of a Russian row; Arabic has none (U+4E00..U+9FFF only)
  assert.is(llavaPrompt(item({ question: 'Что это?', options: [{ letter: 'A', text: 'чай' }, { letter: 'B', text: '茶' }] })), 'Что это?\nA. чай\nB. 茶\n请直接回答选项字母。');
  assert.is(llavaPrompt(item({ question: 'ما هذا؟', options: [{ letter: 'A', text: 'قط' }, { letter: 'B', text: 'كلب' }, { letter: 'C', text: 'طائر' }] })), "ما هذا؟\nA. قط\nB. كلب\nC. طائر\nAnswer with the option's letter from the given choices directly.");
});

test("prompt: the paper's ITP and ETP (Table 6) for non-English rows; English rows keep the baseline", () => {
  const ar = item({ lang: 'ar', question: 'ما لون السماء؟', options: [{ letter: 'A', text: 'أزرق' }, { letter: 'B', text: 'أخضر' }] });
  const body = 'ما لون السماء؟\nA. أزرق\nB. أخضر';
  const itp = userPrompt(ar, 'itp');
  assert.is(itp.stage1, undefined);
  assert.is(itp.answer(), `${body}\nTranslate this question from Arabic to English and then answer with the option's letter from the given choices directly.`);
  const etp = userPrompt(ar, 'etp');
  assert.is(etp.stage1, `${body}\nTranslate this question from Arabic to English.`);
  assert.is(etp.answer('What color is the sky?\nA. blue\nB. green'), "What color is the sky?\nA. blue\nB. green\nAnswer with the option's letter from the given choices directly.");
  const en = item({});
  assert.is(userPrompt(en, 'etp').stage1, undefined);
  assert.is(userPrompt(en, 'itp').answer(), llavaPrompt(en));
});

test('can_infer: letters, option text, and what stays unmatched', () => {
  const ch = { A: 'four', B: 'two', C: 'six', D: 'eight' };
  assert.is(canInfer('A', ch), 'A');
  assert.is(canInfer('A.', ch), 'A');
  assert.is(canInfer('(C) six', ch), 'C');
  assert.is(canInfer('The answer is B', ch), 'B');
  assert.is(canInfer('**D**', ch), 'D');
  assert.is(canInfer('A cat has six legs', { A: 'four', B: 'two', C: 'six', D: 'eight' }), 'A'); // "A" alone counts (the quantifier check is VERBOSE-only)
  assert.is(canInfer('It has six legs', ch), 'C'); // option text
  assert.is(canInfer('SIX', ch), 'C'); // lower-cased both sides
  assert.is(canInfer('B or C', ch), false); // two letters, and no option text
  assert.is(canInfer('either two or six', ch), false); // two option texts
  assert.is(canInfer('I do not know', ch), false);
  assert.is(canInfer('', ch), false);
  assert.is(canInfer('Z', ch), 'Z'); // no option: a miss, but matched
  assert.is(canInfer('Cannot determine the answer', ch), 'Z');
  assert.is(canInfer('a', ch), false); // letters are upper case
  assert.is(canInfer('cat food', { A: 'cat', B: 'cat food' }), false); // both texts occur
});

/** Scores of `rows` when the answers extracted are `letters` (undefined: unmatched). */
function circularScoresFor(rows: VlmItem[], letters: (string | undefined)[]) {
  const preds: VlmPrediction[] = rows.map((r, i) => ({ file: r.file, line: r.line, index: r.index, group: r.group, lang: r.lang, answer: r.answer, prediction: letters[i] ?? '', ...(letters[i] ? { extracted: letters[i]! } : {}), hit: letters[i] === r.answer }));
  return { circular: circularScores(rows, preds), vanilla: vanillaScores(rows, preds) };
}

test('circular scoring: a question counts only if every rotation is right', () => {
  const rows = [item({ index: '1', answer: 'A' }), item({ index: '1000001', rotation: true, answer: 'B' }), item({ index: '2000001', rotation: true, answer: 'C' }), item({ index: '3000001', rotation: true, answer: 'D' })];
  const opts4 = [{ letter: 'A', text: 'w' }, { letter: 'B', text: 'x' }, { letter: 'C', text: 'y' }, { letter: 'D', text: 'z' }];
  for (const r of rows) r.options = opts4;
  const all = circularScoresFor(rows, ['A', 'B', 'C', 'D']);
  assert.equal([all.circular.overall.correct, all.circular.overall.items, all.vanilla.overall.correct], [1, 1, 4]);
  const oneWrong = circularScoresFor(rows, ['A', 'B', 'A', 'D']);
  assert.equal([oneWrong.circular.overall.correct, oneWrong.circular.incomplete, oneWrong.vanilla.overall.correct], [0, 0, 3]);
  const oneUnmatched = circularScoresFor(rows, ['A', 'B', undefined, 'D']);
  assert.equal([oneUnmatched.circular.overall.correct, oneUnmatched.circular.incomplete, oneUnmatched.circular.overall.unmatched, oneUnmatched.vanilla.overall.unmatched], [0, 1, 1, 1]);
});

test('TSV: circular groups, image references, pandas NA, bad rows typed and counted, --strict', () => {
  const d = loadVlmeval(FIX);
  assert.equal(d.datasets.map((s) => s.circular), [true]);
  assert.equal(d.items.map((i) => i.index), ['1', '1000001', '2000001', '3000001', '2', '1000002', '3', '4', '5']);
  assert.equal(d.items.map((i) => i.group), ['1', '1', '1', '1', '2', '2', '3', '4', '5']);
  assert.ok(d.items.every((i) => i.lang === 'en')); // from the file name
  const rot = d.items[1]!;
  assert.is(rot.rotation, true);
  assert.is(rot.image!.index, '1'); // the image of row 1, by reference
  assert.is(rot.image!.sources[0]!.kind, 'base64');
  assert.is(d.items[4]!.image, undefined);
  assert.is(d.items[7]!.question, 'Which line says "two"?\nPick one.');
  assert.equal(d.items[8]!.options.map((o) => o.letter), ['A', 'D']); // "NA" and "None" are NaN to pandas
  assert.is(d.orphanRotations, 1);
  assert.equal(d.bad.map((b) => [b.line, b.reason]), [[12, 'missing-field'], [13, 'invalid-answer'], [14, 'bad-image'], [15, 'bad-index']]);
  assert.match(d.bad[2]!.message, /mmbench_dev_en\.tsv:14: image "99"/);
  try {
    loadVlmeval(FIX, { strict: true });
    assert.unreachable('strict');
  } catch (e) {
    assert.instance(e, PlastError);
    assert.is((e as PlastError).code, 'ERR_DATA');
    assert.is((e as PlastError).line, 12);
    assert.match((e as PlastError).message, /mmbench_dev_en\.tsv:12: missing answer/);
  }
  // vanilla datasets (MMMB): no grouping, any index; cn = Chinese; --limit counts questions
  const mmmb = join(tmp, 'mmmb_cn.tsv');
  writeFileSync(mmmb, 'index\tquestion\tA\tB\tanswer\timage_path\nq1\t天空是什么颜色？\t蓝色\t绿色\tA\timgs/1.jpg\n1000001\t草是什么颜色？\t蓝色\t绿色\tB\t\n');
  const m = loadVlmeval(mmmb);
  assert.equal([m.datasets[0]!.circular, m.items.length, m.items[0]!.lang, m.items[1]!.rotation], [false, 2, 'zh', false]);
  assert.equal(m.items[0]!.image!.sources[0], { kind: 'path', path: 'imgs/1.jpg', resolved: join(tmp, 'imgs', '1.jpg') });
  assert.is(loadVlmeval(FIX, { limit: 1 }).items.length, 4); // question 1 and its three rotations
});

/** Answers with the option letter whose text is in `truth`, or scripted text; records the calls. */
function scripted(vision: boolean, answer: (text: string) => string): Generator & { calls: { segments: PromptSegment[]; image?: ImageRef }[] } {
  const calls: { segments: PromptSegment[]; image?: ImageRef }[] = [];
  return {
    vision,
    calls,
    promptTokens: (s) => promptString(s).length / 4,
    async generate(segments, image) {
      calls.push({ segments, ...(image ? { image } : {}) });
      return answer(promptString(segments));
    },
  };
}

test('pipeline with a scripted generator: circular vs vanilla, unmatched, the image seam', async () => {
  // Right everywhere except the third rotation of the sky question; the Chinese row unanswered.
  const right: Record<string, string> = { blue: '', four: '', seven: '', 'line two': '', 四: '' };
  const gen = scripted(true, (p) => {
    if (p.includes('猫')) return '我不知道';
    if (p.includes('\nA. red\nB. yellow\nC. blue')) return 'A';
    const m = [...p.matchAll(/\n([A-Z])\. ([^\n]*)/g)].find((x) => x[2]! in right);
    return m ? `The answer is ${m[1]}.` : '?';
  });
  const r = await runVlmeval(gen, { data: [FIX], maxLen: 10_000, maxNewTokens: 8 });
  const v = r.result!;
  assert.is(r.items.length, 9);
  assert.equal(r.imageRows, {});
  assert.is(v.vision, true);
  assert.equal([v.vanilla.overall.items, v.vanilla.overall.correct, v.unmatched], [9, 7, 1]);
  assert.equal([v.circular!.overall.items, v.circular!.overall.correct, v.circular!.incomplete], [5, 3, 1]);
  assert.equal(v.circular!.perCategory['color'], { items: 1, correct: 0, accuracy: 0, unmatched: 0 });
  // The seam: image rows reach the generator with their image and an image segment where LLaVA puts <image>.
  const first = gen.calls[0]!;
  assert.is(first.image!.index, '1');
  assert.equal(first.segments[1], { image: 0 });
  assert.is(promptString(first.segments), `${SYS} USER:  <image> What color is the sky on a clear day?\nA. blue\nB. green\nC. red\nD. yellow\nAnswer with the option's letter from the given choices directly. ASSISTANT: `);
  assert.is(gen.calls[4]!.image, undefined);

  // Without vision: image rows skipped (their whole circular question) or text-only.
  const textGen = scripted(false, () => 'A');
  const s = await runVlmeval(textGen, { data: [FIX], maxLen: 10_000 });
  assert.equal([s.items.length, s.imageRows['en'], s.result!.circular!.overall.items], [5, 4, 4]);
  const t = await runVlmeval(scripted(false, () => 'A'), { data: [FIX], maxLen: 10_000, textOnly: true });
  assert.equal([t.items.length, t.imageRows['en'], t.result!.predictions.filter((p) => p.textOnly).length], [9, 4, 4]);
  // A rotation without an image goes with its question when the question's image cannot be used.
  const mixed = join(tmp, 'mmbench_mixed_en.tsv');
  writeFileSync(mixed, `index\tquestion\tA\tB\tanswer\timage\n1\tQ1\ta\tb\tA\t${'i'.repeat(80)}\n1000001\tQ1\tb\ta\tB\t\n2\tQ2\ta\tb\tA\t\n`);
  const mx = await runVlmeval(scripted(false, () => 'A'), { data: [mixed], maxLen: 10_000 });
  assert.equal([mx.items.length, mx.imageRows['en'], mx.result!.leftWithQuestion, mx.result!.circular!.overall.items], [1, 1, 1, 1]);
  // ETP: two generations per non-English row, the second on the first's output.
  const ar = join(tmp, 'mmmb_ar.tsv');
  writeFileSync(ar, 'index\tquestion\tA\tB\tanswer\n1\tما لون السماء؟\tأزرق\tأخضر\tA\n');
  const etpGen = scripted(false, (p) => (p.includes('Translate this question') ? 'What color is the sky?\nA. blue\nB. green' : 'A'));
  const e = await runVlmeval(etpGen, { data: [ar], maxLen: 10_000, prompting: 'etp' });
  assert.is(etpGen.calls.length, 2);
  assert.match(promptString(etpGen.calls[1]!.segments), /USER: What color is the sky\?\nA\. blue\nB\. green\nAnswer with the option's letter from the given choices directly\. ASSISTANT: $/);
  assert.equal([e.result!.predictions[0]!.translation, e.result!.vanilla.overall.correct], ['What color is the sky?\nA. blue\nB. green', 1]);
});

interface CliReport {
  protocol?: string;
  template: string;
  items: number;
  perLangItems: Record<string, number>;
  bad: Record<string, number>;
  imageRows: Record<string, number>;
  imageRowsScored: boolean;
  vlmeval: {
    maxNewTokens: number;
    unmatched: number;
    vanilla: { overall: { items: number; correct: number; unmatched: number } };
    circular: { overall: { items: number; correct: number } };
    predictions: { index: string; group: string; answer: string; prediction: string; extracted?: string; hit: boolean }[];
  };
}

test('plast eval on the bundled model: vlmeval by default for TSV, counts and report consistent with the predictions', () => {
  const out = join(tmp, 'report.json');
  const r = plast('eval', '--model', join(ASSETS, 'mini-ml'), '--data', FIX, '--max-new-tokens', '3', '--text-only', '--backend', 'cpu', '--out', out);
  assert.is(r.status, 0, r.stderr);
  process.stdout.write(r.stdout.replace(/^/gm, '  '));
  assert.match(r.stdout, /protocol vlmeval: LLaVA's prompt, prompting none, greedy, at most 3 new tokens/);
  assert.match(r.stdout, /4 row\(s\) have an image .* scored on their text alone/);
  const rep = JSON.parse(readFileSync(out, 'utf8')) as CliReport;
  assert.equal([rep.protocol, rep.template, rep.items, rep.perLangItems, rep.imageRows, rep.imageRowsScored], ['vlmeval', 'vicuna', 9, { en: 9 }, { en: 4 }, true]);
  assert.equal(rep.bad, { 'missing-field': 1, 'invalid-answer': 1, 'bad-image': 1, 'bad-index': 1 });
  const v = rep.vlmeval;
  assert.is(v.predictions.length, 9);
  // Each extracted letter is can_infer of its prediction; the totals are those of the rows.
  const d = loadVlmeval(FIX);
  for (const p of v.predictions) {
    const it = d.items.find((i) => i.index === p.index)!;
    const ex = canInfer(p.prediction, Object.fromEntries(it.options.map((o) => [o.letter, o.text])));
    assert.is(p.extracted, ex === false ? undefined : ex, p.prediction);
    assert.is(p.hit, p.extracted === p.answer);
  }
  assert.is(v.vanilla.overall.correct, v.predictions.filter((p) => p.hit).length);
  assert.is(v.unmatched, v.predictions.filter((p) => p.extracted === undefined).length);
  assert.is(v.vanilla.overall.unmatched, v.unmatched);
  const groups = [...new Set(v.predictions.map((p) => p.group))];
  assert.is(v.circular.overall.items, groups.length);
  assert.is(v.circular.overall.correct, groups.filter((g) => v.predictions.filter((p) => p.group === g).every((p) => p.hit)).length);

  // --json without --out: the same numbers, no per-item predictions; --mode is refused under vlmeval.
  const j = plast('eval', '--model', join(ASSETS, 'mini-ml'), '--data', FIX, '--max-new-tokens', '3', '--backend', 'cpu', '--json', '--limit', '2');
  assert.is(j.status, 0, j.stderr);
  const brief = JSON.parse(j.stdout) as CliReport;
  assert.equal([brief.items, brief.imageRows, brief.vlmeval.predictions], [2, { en: 4 }, undefined]);
  const bad = plast('eval', '--model', join(ASSETS, 'mini-ml'), '--data', FIX, '--mode', 'letter');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /ERR_INVALID.*--mode applies to --protocol logits/);
  const logits = plast('eval', '--model', join(ASSETS, 'mini-ml'), '--data', FIX, '--protocol', 'logits', '--mode', 'letter', '--prompting', 'itp');
  assert.is(logits.status, 2);
  assert.match(logits.stderr, /--prompting applies to --protocol vlmeval/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
