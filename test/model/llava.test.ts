// A whole LLaVA model with images against HF transformers (test/fixtures/llava-image, made by
// scripts/make_fixtures.py --only image): the <image> placeholder expanded as LlavaProcessor
// expands it, the tower's features spliced into the decoder's input, and then every position's
// logits, every layer's gate counts over the image / text / all tokens, the loss and every
// decoder-layer gradient with labels on the answers, and greedy decoding with the image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Sequence } from '../../src/model/batch';
import { generateGreedy } from '../../src/model/generate';
import { countImages, expandImageTokens, imageEmbeds } from '../../src/model/llava';
import { Model } from '../../src/model/model';
import { FIXTURES, expectCode, f32, readTensors, relErr } from '../helpers';

const DIR = join(FIXTURES, 'llava-image');
const meta = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  image_token_id: number;
  patches: number;
  prompts: { prompt: string; answer: string }[];
  lengths: number[];
  prompt_lengths: number[];
  greedy: { prompt: number; max_new_tokens: number; ids: number[] };
};
const expected = readTensors(join(DIR, 'expected.safetensors'));
const hfIds = expected['input_ids'] as BigInt64Array;
const pixels = f32(expected['pixel_values'], 'pixel_values');
const B = meta.prompts.length;
const T = hfIds.length / B;
const idsOf = (b: number): number[] => Array.from(hfIds.subarray(b * T, b * T + meta.lengths[b]!), Number);
const pixelsOf = (b: number): Float32Array => pixels.subarray((b * pixels.length) / B, ((b + 1) * pixels.length) / B);

let model: Model;

test.before(async () => {
  model = await Model.load(DIR, { backend: 'cpu', vision: true });
});
test.after(() => model.dispose());

async function imageSeqs(extra: (b: number, ids: number[]) => Partial<Sequence> = () => ({})): Promise<Sequence[]> {
  const feats = await model.encodeImages([pixelsOf(0), pixelsOf(1)]);
  return [0, 1].map((b) => {
    const ids = idsOf(b);
    return { ids, embeds: model.imageEmbeds(ids, [feats[b]!]), ...extra(b, ids) };
  });
}

test('the prompt is tokenized and its <image> expanded as LlavaProcessor does', () => {
  assert.is(model.imageTokenId, meta.image_token_id);
  for (let b = 0; b < B; b++) {
    const p = meta.prompts[b]!;
    const ids = model.expandImages(model.tokenizer.encode(p.prompt + p.answer));
    assert.equal(ids, idsOf(b), `prompt ${b}`);
    assert.is(countImages(ids, meta.image_token_id, meta.patches), 1);
  }
});

test('the PNG files through the checkpoint\'s processor config give HF\'s pixel_values exactly', async () => {
  for (let b = 0; b < B; b++) {
    const px = await model.imagePixels(join(DIR, `image${b}.png`));
    assert.equal(Array.from(px), Array.from(pixelsOf(b)), `image${b}.png`);
  }
  // Relative to a data file's directory, as data rows name them.
  const px = await model.imagePixels('image1.png', { file: join(DIR, 'rows.jsonl'), line: 3 });
  assert.equal(Array.from(px), Array.from(pixelsOf(1)));
});

test('the tower features equal HF get_image_features', async () => {
  const feats = await model.encodeImages([pixelsOf(0), pixelsOf(1)]);
  const ref = f32(expected['features'], 'features');
  const got = new Float32Array(ref.length);
  got.set(feats[0]!, 0);
  got.set(feats[1]!, feats[0]!.length);
  assert.ok(relErr(got, ref) < 1e-5, `features ${relErr(got, ref)}`);
});

test('logits at every position with the image spliced in equal HF within 1e-5', async () => {
  const seqs = await imageSeqs((b) => ({ logitAt: Array.from({ length: meta.lengths[b]! }, (_, t) => t) }));
  const r = await model.forward(seqs);
  const ref = f32(expected['logits'], 'logits');
  const V = model.config.vocabSize;
  for (let b = 0; b < B; b++) {
    const n = meta.lengths[b]!;
    const want = ref.subarray(b * T * V, (b * T + n) * V);
    const e = relErr(r.logits[b]!, want);
    assert.ok(e < 1e-5, `sequence ${b}: logits relative error ${e}`);
  }
  // Without the features (the placeholder's own embedding) the logits differ: the splice matters.
  const plain = await model.forward([{ ids: idsOf(0), logitAt: [meta.lengths[0]! - 1] }]);
  const last = ref.subarray((meta.lengths[0]! - 1) * V, meta.lengths[0]! * V);
  assert.ok(relErr(plain.logits[0]!, last) > 1e-3, 'the image must change the logits');
});

test('gate counts over the image, text and all tokens equal HF hooks (gate_proj > 0)', async () => {
  const layers = model.config.numLayers;
  const inter = model.config.intermediateSize;
  const scopes: Record<string, (id: number, t: number) => boolean> = {
    image: (id) => id === meta.image_token_id,
    text: (id, t) => id !== meta.image_token_id && t > 0,
    all: () => true,
  };
  for (const [scope, pick] of Object.entries(scopes)) {
    const seqs = await imageSeqs((_, ids) => ({ count: ids.map((id, t) => (pick(id, t) ? 1 : 0)) }));
    const r = await model.forward(seqs);
    let counted = 0;
    const want = new Array<number>(layers * inter).fill(0);
    for (let l = 0; l < layers; l++) {
      const g = f32(expected[`gates.${l}`], `gates.${l}`);
      for (let b = 0; b < B; b++) {
        const ids = idsOf(b);
        ids.forEach((id, t) => {
          if (!pick(id, t)) return;
          if (l === 0) counted++;
          for (let j = 0; j < inter; j++) if (g[(b * T + t) * inter + j]! > 0) want[l * inter + j]!++;
        });
      }
    }
    assert.is(r.countedTokens, counted, scope);
    assert.equal(Array.from(r.counts!, Number), want, `${scope} counts`);
  }
});

test('loss and every decoder-layer gradient with an image equal HF (tower frozen)', async () => {
  const seqs = await imageSeqs((b, ids) => {
    const p = meta.prompt_lengths[b]!;
    const logitAt: number[] = [];
    const labels: number[] = [];
    for (let t = p - 1; t < ids.length - 1; t++) {
      logitAt.push(t);
      labels.push(ids[t + 1]!);
    }
    return { logitAt, labels };
  });
  const labelled = seqs.reduce((n, s) => n + s.labels!.length, 0);
  const names = Object.keys(expected).filter((k) => k.startsWith('grad.')).map((k) => k.slice('grad.'.length));
  assert.ok(names.length >= 2 * 9, `${names.length} gradients`);
  await model.setTrainable(names);
  await model.zeroGrad();
  const r = await model.forwardBackward(seqs, 1 / labelled);
  assert.is(r.labelTokens, labelled);
  const loss = r.lossSum / r.labelTokens;
  const ref = f32(expected['loss'], 'loss')[0]!;
  assert.ok(Math.abs(loss - ref) / ref < 1e-5, `loss ${loss} vs HF ${ref}`);
  for (const name of names) {
    const e = relErr(await model.read(name, 'grad'), f32(expected[`grad.${name}`], name));
    assert.ok(e < 1e-4, `${name}: gradient relative error ${e}`);
  }
  await model.setTrainable([]);
});

test('greedy decoding with the image equals HF generate', async () => {
  const p = meta.prompts[meta.greedy.prompt]!;
  const ids = model.expandImages(model.tokenizer.encode(p.prompt));
  const [feats] = await model.encodeImages([pixelsOf(meta.greedy.prompt)]);
  const out = await generateGreedy(model, ids, { maxNewTokens: meta.greedy.max_new_tokens, embeds: model.imageEmbeds(ids, [feats!]) });
  assert.equal(out, meta.greedy.ids);
});

test('bad image inputs are typed errors', async () => {
  const ids = idsOf(0);
  const [feats] = await model.encodeImages([pixelsOf(0)]);
  await expectCode('ERR_INVALID', () => model.imageEmbeds(ids, []), /1 <image> placeholder but 0 images/);
  await expectCode('ERR_INVALID', () => model.imageEmbeds([...ids, ...model.expandImages([meta.image_token_id])], [feats!]), /2 <image> placeholders but 1 image was/);
  await expectCode('ERR_INVALID', () => countImages([meta.image_token_id, 5], meta.image_token_id, meta.patches), /not a multiple/);
  await expectCode('ERR_SHAPE', () => imageEmbeds(ids, meta.image_token_id, [feats!.subarray(1)], meta.patches, model.config.hiddenSize));
  await expectCode('ERR_SHAPE', () => model.encodeImages([new Float32Array(5)]), /pixel values of shape \[3, 32, 32\]/);
  // Native checks: a width that is not the hidden size, a row given twice.
  await expectCode('ERR_SHAPE', () => model.forward([{ ids, embeds: { at: [1], values: new Float32Array(model.config.hiddenSize + 1) } }]));
  await expectCode('ERR_INVALID', () => model.forward([{ ids, embeds: { at: [1, 1], values: new Float32Array(2 * model.config.hiddenSize) } }]), /given twice/);
  assert.equal(expandImageTokens([1, 7, 2], 7, 3), [1, 7, 7, 7, 2]);
});

test('the features of an image met again come from the cache (one tower pass per image)', async () => {
  const count = (m: Model) => {
    const v = m.vision!;
    const orig = v.encode.bind(v);
    const calls: number[] = [];
    v.encode = async (px, batch, o) => {
      calls.push(batch);
      return orig(px, batch, o);
    };
    return calls;
  };
  const seq = (b: number) => ({ ids: idsOf(b), logitAt: [meta.lengths[b]! - 1], images: [{ source: join(DIR, `image${b}.png`) }] });
  const m = await Model.load(DIR, { backend: 'cpu', vision: true });
  try {
    const calls = count(m);
    const a = await m.forward([seq(0), seq(1)]);
    const b = await m.forward([seq(1)]);
    const c = await m.forward([seq(0)]);
    assert.equal(calls, [2]); // the second and third calls found both images cached
    assert.equal(Array.from(b.logits[0]!), Array.from(a.logits[1]!));
    assert.equal(Array.from(c.logits[0]!), Array.from(a.logits[0]!));
  } finally {
    m.dispose();
  }
  const off = await Model.load(DIR, { backend: 'cpu', vision: true, imageCacheBytes: 0 });
  try {
    const calls = count(off);
    await off.forward([seq(0)]);
    await off.forward([seq(0)]);
    assert.equal(calls, [1, 1]);
  } finally {
    off.dispose();
  }
});

test('a model loaded without vision says how to get it', async () => {
  const m = await Model.load(DIR, { backend: 'cpu' });
  try {
    assert.is(m.vision, undefined);
    assert.throws(() => m.imageTokenId, /vision: true/);
  } finally {
    m.dispose();
  }
});

test.run();
