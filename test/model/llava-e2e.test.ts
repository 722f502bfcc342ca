// LLaVA with images end to end through the CLI, on a tiny LLaVA built from the bundled model and a
// random tower (test/llava-tiny.ts): `plast profile` on image-question rows (the image scope is the
// same for every language, since the image comes before the question; the question tokens see it),
// `plast train` on pairs with images (the image changes the loss; the tower and projector leave
// the export byte for byte), `plast generate --image` (equal to the library), and the typed errors
// of bad images. Images: the fixture's PNGs, plus the sample images of ../shared when present.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateGreedy } from '../../src/model/generate';
import { Model } from '../../src/model/model';
import { readCounts } from '../../src/profile/counts';
import { ASSETS, FIXTURES, plast, sharedPath } from '../helpers';
import { TINY_LLAVA, makeTinyLlava } from '../llava-tiny';

const tmp = mkdtempSync(join(tmpdir(), 'plast-llava-'));
const MODEL = join(tmp, 'llava');
const DATA = join(tmp, 'data');
makeTinyLlava(MODEL);
mkdirSync(DATA, { recursive: true });
const images = ['image0.png', 'image1.png'];
for (const f of images) copyFileSync(join(FIXTURES, 'llava-image', f), join(DATA, f));
const shared = sharedPath('data/images', 'llava-e2e');
if (shared) {
  for (const f of ['rocket.jpg', 'chelsea.png', 'camera.png']) {
    if (existsSync(join(shared, f))) {
      copyFileSync(join(shared, f), join(DATA, f));
      images.push(f);
    }
  }
}

const questions = readFileSync(join(ASSETS, 'data', 'xquad_questions_train.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 4)
  .map((l) => JSON.parse(l) as Record<string, string>);

function writeJsonl(name: string, rows: object[]): string {
  const f = join(DATA, name);
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return f;
}

const withImages = writeJsonl('questions-img.jsonl', questions.map((q, i) => ({ id: q['id'], en: q['en'], ar: q['ar'], tr: q['tr'], image: images[i % images.length] })));
// The same questions with each image moved to the next question.
const swapped = writeJsonl('questions-swapped.jsonl', questions.map((q, i) => ({ id: q['id'], en: q['en'], ar: q['ar'], tr: q['tr'], image: images[(i + 1) % images.length] })));

function profile(data: string, scope: string, name: string): ReturnType<typeof readCounts> & { json: { languages: Record<string, { tokens: number }> } } {
  const out = join(tmp, name);
  const r = plast('profile', '--model', MODEL, '--data', data, '--langs', 'en,ar,tr', '--scope', scope, '--template', 'vicuna', '--no-plots', '--backend', 'cpu', '--out', out);
  assert.is(r.status, 0, r.stderr);
  const json = JSON.parse(readFileSync(join(out, 'profile.json'), 'utf8')) as { languages: Record<string, { tokens: number }> };
  return { ...readCounts(join(out, 'counts.safetensors')), json };
}

test('plast profile on image questions: image-scope counts equal across languages, question counts see the image', () => {
  const img = profile(withImages, 'image', 'prof-image');
  for (const l of ['en', 'ar', 'tr']) assert.is(img.json.languages[l]!.tokens, questions.length * TINY_LLAVA.features, l);
  // The image tokens precede the question under causal attention: their gates cannot depend on the language.
  assert.equal(Array.from(img.counts['ar']!), Array.from(img.counts['en']!));
  assert.equal(Array.from(img.counts['tr']!), Array.from(img.counts['en']!));
  assert.ok(img.counts['en']!.some((c) => c > 0) && img.counts['en']!.some((c) => c < questions.length * TINY_LLAVA.features), 'image counts are neither all 0 nor all full');

  const q = profile(withImages, 'question', 'prof-question');
  const qSwapped = profile(swapped, 'question', 'prof-question-swapped');
  for (const l of ['en', 'ar', 'tr']) assert.is(q.json.languages[l]!.tokens, qSwapped.json.languages[l]!.tokens, `${l}: the same question tokens`);
  assert.not.equal(Array.from(q.counts['ar']!), Array.from(qSwapped.counts['ar']!), 'the image must change the question tokens\' gates');

  const all = profile(withImages, 'all', 'prof-all');
  const text = profile(withImages, 'text', 'prof-text');
  for (const l of ['en', 'ar', 'tr']) {
    // all = text + image tokens + BOS (one per question)
    assert.is(all.json.languages[l]!.tokens, text.json.languages[l]!.tokens + questions.length * (TINY_LLAVA.features + 1), l);
  }
});

test('plast train on pairs with images: the image changes the loss; the tower leaves the export unchanged', () => {
  const pairs = (img: boolean) =>
    writeJsonl(`pairs${img ? '-img' : ''}.jsonl`, questions.map((q, i) => ({ lang: 'ar', source: q['ar'], target: q['en'], ...(img ? { image: images[i % images.length] } : {}) })));
  const run = (data: string, name: string) => {
    const out = join(tmp, name);
    const r = plast('train', '--model', MODEL, '--data', data, '--layers', '6', '--batch', '2', '--epochs', '1', '--lr', '1e-3', '--template', 'vicuna', '--backend', 'cpu', '--out', out);
    assert.is(r.status, 0, r.stderr);
    const steps = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number }).filter((x) => x.type === 'step');
    return { out, loss: steps[0]!.loss! };
  };
  const a = run(pairs(true), 'train-img');
  const b = run(pairs(false), 'train-text');
  assert.ok(Number.isFinite(a.loss) && Number.isFinite(b.loss));
  assert.ok(Math.abs(a.loss - b.loss) > 1e-4, `loss with images ${a.loss} vs without ${b.loss}`);
  const tower = (d: string) => readFileSync(join(d, 'vision.safetensors'));
  assert.ok(tower(join(a.out, 'model')).equals(tower(MODEL)), 'vision.safetensors must be byte-identical in the export');
});

test('plast generate --image equals the library; bad images are typed errors', async () => {
  const prompt = 'USER: <image>\nWhat is in the picture? ASSISTANT:';
  const img = join(DATA, images[0]!);
  const r = plast('generate', '--model', MODEL, '--image', img, '--prompt', prompt, '--max-new-tokens', '5', '--backend', 'cpu', '--json');
  assert.is(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { ids: number[] };
  const model = await Model.load(MODEL, { backend: 'cpu', vision: true });
  try {
    const ids = model.expandImages(model.tokenizer.encode(prompt));
    const want = await generateGreedy(model, ids, { maxNewTokens: 5, images: [{ source: img }] });
    assert.equal(got.ids, want);
  } finally {
    model.dispose();
  }
  const missing = plast('generate', '--model', MODEL, '--image', join(DATA, 'nope.png'), '--prompt', prompt, '--backend', 'cpu');
  assert.is(missing.status, 1, missing.stderr);
  assert.match(missing.stderr, /ERR_IO.*nope\.png/);
  assert.not.match(missing.stderr, /\n\s+at /);
  const notImage = join(DATA, 'text.jpg');
  writeFileSync(notImage, 'this is not a JPEG\n');
  const bad = plast('generate', '--model', MODEL, '--image', notImage, '--prompt', prompt, '--backend', 'cpu');
  assert.is(bad.status, 1, bad.stderr);
  assert.match(bad.stderr, /text\.jpg/);
  const two = plast('generate', '--model', MODEL, '--image', img, '--prompt', `${prompt} <image>`, '--backend', 'cpu');
  assert.is(two.status, 2, two.stderr);
  assert.match(two.stderr, /2 <image> placeholders but 1 image/);
  const truncated = shared && join(shared, 'truncated.jpg');
  if (truncated && existsSync(truncated)) {
    const t = plast('generate', '--model', MODEL, '--image', truncated, '--prompt', prompt, '--backend', 'cpu');
    assert.is(t.status, 1, t.stderr);
    assert.match(t.stderr, /truncated\.jpg/);
  }
});

test('bad images: profile stops before running, naming the row; train skips and counts the row (--strict refuses)', () => {
  writeFileSync(join(DATA, 'fake.jpg'), 'not a JPEG at all\n');
  const rows = questions.map((q, i) => ({ id: q['id'], en: q['en'], ar: q['ar'], image: i === 2 ? 'fake.jpg' : images[0] }));
  const data = writeJsonl('questions-bad.jsonl', rows);
  const r = plast('profile', '--model', MODEL, '--data', data, '--langs', 'en,ar', '--no-plots', '--backend', 'cpu', '--out', join(tmp, 'prof-bad'));
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /ERR_DATA.*questions-bad\.jsonl:3: .*fake\.jpg/);
  assert.not.match(r.stderr, /\n\s+at /);
  assert.not.ok(existsSync(join(tmp, 'prof-bad', 'profile.json')));

  const pairs = writeJsonl('pairs-bad.jsonl', questions.map((q, i) => ({ lang: 'ar', source: q['ar'], target: q['en'], image: i === 1 ? 'missing.png' : images[0] })));
  const out = join(tmp, 'train-bad');
  const t = plast('train', '--model', MODEL, '--data', pairs, '--layers', '7', '--batch', '3', '--epochs', '1', '--backend', 'cpu', '--out', out, '--no-export');
  assert.is(t.status, 0, t.stderr);
  const recs = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; reason?: string; line?: number; examples?: number });
  const badRows = recs.filter((x) => x.type === 'bad-row');
  assert.equal(badRows.map((b) => [b.reason, b.line]), [['bad-image', 2]]);
  assert.is(recs.find((x) => x.type === 'data')!.examples, questions.length - 1);
  const strict = plast('train', '--model', MODEL, '--data', pairs, '--layers', '7', '--batch', '3', '--epochs', '1', '--backend', 'cpu', '--out', join(tmp, 'train-strict'), '--strict');
  assert.is(strict.status, 1, strict.stderr);
  assert.match(strict.stderr, /ERR_DATA.*pairs-bad\.jsonl:2: .*missing\.png/);
});

test('plast run on image questions: every stage sees the images', () => {
  const dir = join(tmp, 'run-data');
  mkdirSync(dir, { recursive: true });
  for (const f of images.slice(0, 2)) copyFileSync(join(DATA, f), join(dir, f));
  const qs = readFileSync(join(ASSETS, 'data', 'xquad_questions_train.jsonl'), 'utf8').trim().split('\n').slice(0, 16).map((l) => JSON.parse(l) as Record<string, string>);
  writeFileSync(join(dir, 'questions.jsonl'), qs.map((q, i) => JSON.stringify({ id: q['id'], en: q['en'], ar: q['ar'], tr: q['tr'], image: images[i % 2] })).join('\n') + '\n');
  const out = join(tmp, 'run');
  const r = plast('run', '--model', MODEL, '--data', dir, '--langs', 'en,ar,tr', '--profile-limit', '4', '--epochs', '1', '--train-limit', '4', '--eval-per-lang', '2', '--batch', '4', '--backend', 'cpu', '--out', out);
  assert.is(r.status, 0, r.stderr);
  // The split keeps each pair's image, as an absolute path (the pairs file lives in the run directory).
  const pairs = readFileSync(join(out, 'data', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { image?: string });
  assert.ok(pairs.length > 0 && pairs.every((p) => p.image !== undefined && existsSync(p.image)), 'train pairs carry their images');
  // The profile ran the image tokens: each prompt is longer by the image's placeholders than its text.
  const prof = JSON.parse(readFileSync(join(out, 'profile', 'profile.json'), 'utf8')) as { languages: Record<string, { questions: number; promptTokens: number; tokens: number }> };
  for (const l of ['en', 'ar', 'tr']) assert.ok(prof.languages[l]!.promptTokens >= prof.languages[l]!.questions * (TINY_LLAVA.features + 1), l);
});

test('plast eval --protocol vlmeval answers image questions with the tower; --text-only does not', async () => {
  const b64 = (f: string) => readFileSync(join(DATA, f)).toString('base64');
  const rows = [
    ['index', 'question', 'hint', 'A', 'B', 'C', 'D', 'answer', 'category', 'image'],
    ['1', 'What is in the picture?', '', 'a cat', 'a dog', 'a car', 'a tree', 'A', 'object', b64(images[0]!)],
    ['2', 'What colour dominates?', '', 'red', 'green', 'blue', 'grey', 'C', 'colour', b64(images[1]!)],
  ];
  const tsv = join(DATA, 'mmmb_en.tsv');
  writeFileSync(tsv, rows.map((r) => r.join('\t')).join('\n') + '\n');
  const run = (...extra: string[]) => {
    const r = plast('eval', '--model', MODEL, '--data', tsv, '--lang', 'en', '--max-new-tokens', '3', '--backend', 'cpu', '--out', join(tmp, `eval${extra.length}.json`), '--json', ...extra);
    assert.is(r.status, 0, r.stderr);
    return JSON.parse(readFileSync(join(tmp, `eval${extra.length}.json`), 'utf8')) as {
      vlmeval: { vision: boolean; predictions: { index: string; prediction: string; textOnly?: boolean }[] };
    };
  };
  const withTower = run();
  assert.is(withTower.vlmeval.vision, true);
  assert.is(withTower.vlmeval.predictions.length, 2);
  assert.ok(withTower.vlmeval.predictions.every((p) => !p.textOnly));
  // The first answer equals the library's greedy decoding with the image, in LLaVA's conversation.
  const model = await Model.load(MODEL, { backend: 'cpu', vision: true });
  try {
    const { visionGenerator } = await import('../../src/eval/vlmeval');
    const { conversation, llavaPrompt } = await import('../../src/eval/vlmeval/prompt');
    const gen = visionGenerator(model);
    const text = withTower.vlmeval.predictions.find((p) => p.index === '1')!.prediction;
    const ref = { file: tsv, index: '1', sources: [{ kind: 'base64' as const, data: b64(images[0]!) }] };
    const options = ['a cat', 'a dog', 'a car', 'a tree'].map((t, i) => ({ letter: 'ABCD'[i]!, text: t }));
    const segs = conversation('vicuna', llavaPrompt({ question: 'What is in the picture?', options }), ref);
    assert.is(await gen.generate(segs, ref, 3), text);
  } finally {
    model.dispose();
  }
  const textOnly = run('--text-only');
  assert.is(textOnly.vlmeval.vision, false);
  assert.ok(textOnly.vlmeval.predictions.every((p) => p.textOnly));
});

test.run();
