// The original LLaVA layout (liuhaotian/llava-v1.5-*: llava_llama config with mm_* fields,
// model.mm_projector.0/2, the CLIP tower in its own checkpoint) against HF transformers running the
// same weights (test/fixtures/llava-original + llava-original-tower, made by make_fixtures.py
// --only image): LLaVA's tokenizer_image_token ids (-200 for the image), logits with the image.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { IMAGE_TOKEN_INDEX, hasVisionTower, visionTensorName } from '../../src/model/vision';
import { FIXTURES, expectCode, f32, readTensors, relErr } from '../helpers';

const DIR = join(FIXTURES, 'llava-original');
const TOWER = join(FIXTURES, 'llava-original-tower');
const meta = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  patches: number;
  cases: { prompt: string; image: string; ids: number[] }[];
};
const expected = readTensors(join(DIR, 'expected.safetensors'));


test('tokenizer_image_token ids and logits with the image equal HF on the same weights', async () => {
  const model = await Model.load(DIR, { backend: 'cpu', vision: true, visionTower: TOWER });
  try {
    assert.is(model.imageTokenId, IMAGE_TOKEN_INDEX);
    assert.is(model.vision!.config.layout, 'original');
    const V = model.config.vocabSize;
    for (const [b, c] of meta.cases.entries()) {
      const ids = model.tokenizer.encode(c.prompt);
      assert.equal(ids, c.ids, `case ${b}: ids`);
      const expanded = model.expandImages(ids);
      assert.is(expanded.length, ids.length - 1 + meta.patches);
      // The image file through the tower's processor config (the checkpoint's image_aspect_ratio
      // is pad, the identity on these square images).
      const r = await model.forward([{ ids: expanded, logitAt: expanded.map((_, t) => t), images: [{ source: join(FIXTURES, 'llava-image', c.image) }] }]);
      const e = relErr(r.logits[0]!, f32(expected[`logits.${b}`], `logits.${b}`));
      assert.ok(e < 1e-5, `case ${b}: logits relative error ${e}`);
      assert.is(r.logits[0]!.length, expanded.length * V);
    }
    assert.is(model.tokenizer.decode([1, IMAGE_TOKEN_INDEX, 410]), model.tokenizer.decode([1, 410]));
  } finally {
    model.dispose();
  }
});

test('the tower is found from mm_vision_tower when it is a local directory, else asked for', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'plast-llava-orig-'));
  const dir = join(tmp, 'ckpt');
  cpSync(DIR, dir, { recursive: true });
  cpSync(TOWER, join(tmp, 'clip'), { recursive: true });
  await expectCode('ERR_INVALID', () => Model.load(dir, { backend: 'cpu', vision: true }), /mm_vision_tower "openai\/clip-vit-large-patch14-336".*--vision-tower DIR/);
  await expectCode('ERR_IO', () => Model.load(dir, { backend: 'cpu', vision: true, visionTower: join(tmp, 'nope') }), /not a CLIP checkpoint directory/);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, mm_vision_tower: '../clip' }));
  const m = await Model.load(dir, { backend: 'cpu', vision: true });
  m.dispose();
  assert.ok(hasVisionTower(dir));
  for (const [field, value, c] of [
    ['mm_projector_type', 'linear', 'ERR_UNSUPPORTED'],
    ['mm_use_im_start_end', true, 'ERR_UNSUPPORTED'],
    ['mm_vision_select_feature', 'cls', 'ERR_UNSUPPORTED'],
    ['mm_hidden_size', 1024, 'ERR_MISMATCH'],
  ] as const) {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, mm_vision_tower: '../clip', [field]: value }));
    await expectCode(c, () => Model.load(dir, { backend: 'cpu', vision: true }), new RegExp(field));
  }
  // The language model alone loads as before, and "<image>" is then ordinary text.
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const lm = await Model.load(dir, { backend: 'cpu' });
  assert.not.ok(lm.tokenizer.encode('a <image> b').includes(IMAGE_TOKEN_INDEX));
  lm.dispose();
});

test('projector names of the original layout map to the native ones', () => {
  assert.is(visionTensorName('model.mm_projector.0.weight'), 'multi_modal_projector.linear_1.weight');
  assert.is(visionTensorName('model.mm_projector.2.bias'), 'multi_modal_projector.linear_2.bias');
  assert.is(visionTensorName('model.mm_projector.1.weight'), null);
});

test.run();
