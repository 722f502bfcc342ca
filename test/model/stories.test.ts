// A real trained model: stories260K (llama2.c, converted to HF) must reproduce the greedy ids
// recorded in its SOURCE.md, and its tokenizer must round-trip the generated text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateGreedy } from '../../src/model/generate';
import { Model } from '../../src/model/model';
import { ASSETS } from '../helpers';

const DIR = join(ASSETS, 'stories260K');

function recordedIds(): number[] {
  const src = readFileSync(join(DIR, 'SOURCE.md'), 'utf8');
  const m = /First 40 greedy token ids after `<s>` \(id 1\):\s*`\[([0-9, ]+)\]`/.exec(src);
  if (!m) throw new Error('SOURCE.md no longer lists the first 40 greedy ids');
  return m[1]!.split(',').map((s) => Number(s.trim()));
}

test('stories260K: greedy from BOS reproduces the ids in SOURCE.md', async () => {
  const model = await Model.load(DIR, { backend: 'cpu' });
  const want = recordedIds();
  assert.is(want.length, 40);
  const ids = await generateGreedy(model, [1], { maxNewTokens: 256, stopIds: [1, 2] });
  assert.equal(ids.slice(0, 40), want);
  const text = model.tokenizer.decode(ids, { skipSpecialTokens: true });
  assert.ok(text.startsWith('Once upon a time, there was a little girl named Lily.'), text.slice(0, 80));
  // The tokenizer round-trips: encoding the generated text gives BOS + the generated ids.
  assert.equal(model.tokenizer.encode(text), [1, ...ids]);
});

test('stories260K: tokenizer matches the recorded prefix text', async () => {
  const model = await Model.load(DIR, { backend: 'cpu' });
  const text = model.tokenizer.decode(recordedIds());
  assert.is(text, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, r');
  assert.equal(model.tokenizer.encode(text).slice(1), recordedIds());
});

test.run();
