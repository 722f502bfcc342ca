// The LLaVA vision tower and projector ("clip_llava", forward only) against HF transformers: the
// hidden state at vision_feature_layer and the projected image features of fixed random
// pixel_values (test/fixtures/llava-vision, made by scripts/make_fixtures.py --only vision), in the
// layouts a LLaVA checkpoint comes in; and the typed errors of bad configs and inputs.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addon, call, callSync, listBackends } from '../../src/native';
import { Model } from '../../src/model/model';
import { readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors';
import { VisionTower, nativeClipConfig, parseVisionConfig, visionTensorName } from '../../src/model/vision';
import { ASSETS, FIXTURES, expectCode, f32, readTensors, relErr } from '../helpers';

const DIR = join(FIXTURES, 'llava-vision');
const HUB = join(FIXTURES, 'llava-vision-hub');
const meta = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as {
  batch: number;
  patches: number;
  vision_layers: number;
  vision_hidden: number;
  text_hidden: number;
  features: { name: string; vision_feature_layer: number; vision_feature_select_strategy: string }[];
};
const expected = readTensors(join(DIR, 'expected.safetensors'));
const pixels = f32(expected['pixel_values'], 'pixel_values');
const B = meta.batch;
const L = meta.vision_layers;


/** A copy of the fixture checkpoint with its config and/or tensor names changed. */
function variant(
  edit: { config?: (c: Record<string, any>) => void; rename?: (name: string) => string | null },
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'plast-vision-'));
  const run = async () => {
    const config = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'));
    edit.config?.(config);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    if (edit.rename) {
      const src = join(DIR, 'model.safetensors');
      const h = readSafetensorsHeader(src);
      const bytes = readFileSync(src);
      const tensors = [];
      for (const t of h.tensors.values()) {
        const name = edit.rename(t.name);
        if (name !== null) tensors.push({ name, dtype: t.dtype, shape: t.shape, data: bytes.subarray(t.begin, t.end) });
      }
      writeSafetensors(join(dir, 'model.safetensors'), tensors);
    } else {
      copyFileSync(join(DIR, 'model.safetensors'), join(dir, 'model.safetensors'));
    }
    await fn(dir);
  };
  return run().finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('config: the fixture parses as LLaVA-1.5 style (quick_gelu tower, layer -2, default, gelu projector)', () => {
  const c = parseVisionConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')));
  assert.equal(
    [c.hiddenSize, c.numLayers, c.numHeads, c.imageSize, c.patchSize, c.textHiddenSize, c.featureLayer, c.strategy, c.hiddenAct, c.projectorAct],
    [meta.vision_hidden, L, 4, 32, 8, meta.text_hidden, -2, 'default', 'quick_gelu', 'gelu'],
  );
  // A llava config without vision_config gets LlavaConfig's tower (CLIP ViT-L/14 at 336: 576 patches).
  const d = parseVisionConfig({ model_type: 'llava', text_config: { model_type: 'llama' } });
  assert.equal([d.hiddenSize, d.numLayers, d.imageSize, d.patchSize, d.textHiddenSize, d.hiddenAct], [1024, 24, 336, 14, 4096, 'quick_gelu']);
});

test('names: hub, transformers-5 saved and in-memory layouts map to one name; others are skipped', () => {
  const want = 'vision_tower.encoder.layers.1.self_attn.q_proj.bias';
  assert.is(visionTensorName('vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.bias'), want);
  assert.is(visionTensorName('vision_tower.encoder.layers.1.self_attn.q_proj.bias'), want);
  assert.is(visionTensorName('model.vision_tower.encoder.layers.1.self_attn.q_proj.bias'), want);
  assert.is(visionTensorName('model.multi_modal_projector.linear_2.bias'), 'multi_modal_projector.linear_2.bias');
  assert.is(visionTensorName('language_model.model.layers.0.mlp.up_proj.weight'), null);
  assert.is(visionTensorName('model.language_model.embed_tokens.weight'), null);
});

test('features and the layer -2 hidden state match HF (transformers-5 layout, batch of 2)', async () => {
  using tower = await VisionTower.load(DIR, { backend: 'cpu' });
  assert.is(tower.native.arch(), 'clip_llava');
  assert.is(tower.featuresPerImage, meta.patches);
  assert.is(tower.featureDim, meta.text_hidden);
  const r = await tower.encode(pixels, B, { hidden: true });
  const want = f32(expected['features.default.-2'], 'features');
  assert.is(r.features.length, B * meta.patches * meta.text_hidden, 'features: [batch, patches (CLS dropped), text hidden]');
  const e = relErr(r.features, want);
  assert.ok(e <= 1e-5, `features rel err ${e}`);
  const hs = f32(expected[`hidden_states.${L - 1}`], 'hidden');
  assert.is(r.hidden!.length, hs.length, 'hidden: [batch, patches + 1, vision hidden]');
  const eh = relErr(r.hidden!, hs);
  assert.ok(eh <= 1e-5, `hidden_states[-2] rel err ${eh}`);
});

test('the hub layout (vision_tower.vision_model.*) and the in-memory one (model.*) give the same features', async () => {
  using a = await VisionTower.load(DIR, { backend: 'cpu' });
  const ra = await a.encode(pixels, B);
  {
    using hub = await VisionTower.load(HUB, { backend: 'cpu' });
    const rh = await hub.encode(pixels, B);
    const e = relErr(rh.features, f32(expected['features.default.-2'], 'features'));
    assert.ok(e <= 1e-5, `hub layout: rel err ${e}`);
    assert.equal(Array.from(rh.features), Array.from(ra.features));
  }
  await variant(
    { rename: (n) => n.replace(/^vision_tower\./, 'model.vision_tower.').replace(/^multi_modal_projector\./, 'model.multi_modal_projector.') },
    async (dir) => {
      using m = await VisionTower.load(dir, { backend: 'cpu' });
      assert.equal(Array.from((await m.encode(pixels, B)).features), Array.from(ra.features));
    },
  );
});

test('every hidden state of the tower matches HF (hidden_states[k], k = 0 .. layers)', async () => {
  for (let k = 0; k <= L; k++) {
    using tower = await VisionTower.load(DIR, { backend: 'cpu', featureLayer: k });
    const r = await tower.encode(pixels, B, { hidden: true });
    const e = relErr(r.hidden!, f32(expected[`hidden_states.${k}`], `hidden_states.${k}`));
    assert.ok(e <= 1e-5, `hidden_states[${k}]: rel err ${e}`);
  }
});

test('other feature layers and the full strategy (CLS kept) match HF', async () => {
  for (const v of meta.features) {
    using tower = await VisionTower.load(DIR, { backend: 'cpu', featureLayer: v.vision_feature_layer, strategy: v.vision_feature_select_strategy });
    const want = f32(expected[v.name], v.name);
    const per = v.vision_feature_select_strategy === 'default' ? meta.patches : meta.patches + 1;
    assert.is(tower.featuresPerImage, per);
    const r = await tower.encode(pixels, B);
    assert.is(r.features.length, want.length, `${v.name}: length`);
    const e = relErr(r.features, want);
    assert.ok(e <= 1e-5, `${v.name}: rel err ${e}`);
  }
});

test('images are independent: one image alone gives its rows of the batch', async () => {
  using tower = await VisionTower.load(DIR, { backend: 'cpu' });
  const all = await tower.encode(pixels, B);
  const per = tower.featuresPerImage * tower.featureDim;
  const one = await tower.encode(pixels.slice(tower.pixelsPerImage), 1);
  const e = relErr(one.features, all.features.subarray(per, 2 * per));
  assert.ok(e <= 1e-6, `rel err ${e}`);
});

test('bad inputs: wrong pixel count is ERR_SHAPE (in TS and natively), a bad batch or array ERR_INVALID', async () => {
  using tower = await VisionTower.load(DIR, { backend: 'cpu' });
  await expectCode('ERR_SHAPE', () => tower.encode(pixels.subarray(1), B), /Expected pixels of shape \[2, 3, 32, 32\] \(6144 values\) but received 6143/);
  await expectCode('ERR_SHAPE', () => tower.encode(pixels, 3));
  await expectCode('ERR_INVALID', () => tower.encode(pixels, 0), /positive integer for batch/);
  await expectCode('ERR_INVALID', () => tower.encode(Array.from(pixels) as never, B), /Float32Array for pixels/);
  // The native check stands on its own (the TS one is a convenience).
  await expectCode('ERR_SHAPE', () => call(() => tower.native.encode({ B, pixels: pixels.subarray(7) })), /\[2, 3, 32, 32\]/);
  await expectCode('ERR_INVALID', () => call(() => tower.native.encode({ B: 0, pixels })));
  // Frozen, and no token pass.
  await expectCode('ERR_UNSUPPORTED', () => call(() => tower.native.setTrainable(['multi_modal_projector.linear_1.weight'])), /frozen/);
  await expectCode('ERR_UNSUPPORTED', () =>
    call(() => tower.native.forward({ B: 1, T: 1, ids: new Int32Array(1), positions: new Int32Array(1), keyMask: new Int32Array([1]) })),
  );
});

test('the same checkpoint still loads as a decoder (the tower and projector are skipped there)', async () => {
  using m = await Model.load(DIR, { backend: 'cpu' });
  assert.is(m.config.hiddenSize, meta.text_hidden);
  assert.ok(m.checkpoint.ignored.includes('vision_tower.encoder.layers.0.mlp.fc1.weight'));
  assert.ok(m.checkpoint.ignored.includes('multi_modal_projector.linear_2.bias'));
});

test('a decoder has no image pass (ERR_UNSUPPORTED)', async () => {
  using m = await Model.load(join(ASSETS, 'stories260K'), { backend: 'cpu' });
  await expectCode('ERR_UNSUPPORTED', () => call(() => m.native.encode({ B: 1, pixels: new Float32Array(3) })), /llama model has no image pass/);
});

test('bad configs: unknown activations and strategies are ERR_UNSUPPORTED naming them and the file', async () => {
  await variant({ config: (c) => (c.vision_config.hidden_act = 'relu') }, async (dir) => {
    const e = await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(dir, { backend: 'cpu' }), /vision_config\.hidden_act "relu" is not supported/);
    assert.is(e.file, join(dir, 'config.json'));
  });
  await variant({ config: (c) => (c.projector_hidden_act = 'silu') }, async (dir) => {
    await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(dir, { backend: 'cpu' }), /projector_hidden_act "silu"/);
  });
  await variant({ config: (c) => (c.vision_feature_select_strategy = 'cls') }, async (dir) => {
    await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(dir, { backend: 'cpu' }), /vision_feature_select_strategy "cls"/);
  });
  await variant({ config: (c) => (c.vision_feature_layer = [-2, -5]) }, async (dir) => {
    await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(dir, { backend: 'cpu' }), /vision_feature_layer \[-2,-5\]/);
  });
  await variant({ config: (c) => (c.vision_config.model_type = 'siglip_vision_model') }, async (dir) => {
    await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(dir, { backend: 'cpu' }), /siglip_vision_model/);
  });
  await expectCode('ERR_INVALID', () => VisionTower.load(DIR, { backend: 'cpu', featureLayer: L + 1 }), /vision_feature_layer 4 is outside/);
  await expectCode('ERR_INVALID', () => VisionTower.load(DIR, { backend: 'cpu', featureLayer: -(L + 2) }));
  await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(join(ASSETS, 'stories260K'), { backend: 'cpu' }), /model_type "llama" has no vision tower/);
});

test('bad checkpoints: a tensor missing is ERR_FORMAT, a shape config.json does not imply ERR_SHAPE', async () => {
  await variant({ rename: (n) => (n.endsWith('layers.1.mlp.fc2.bias') ? null : n) }, async (dir) => {
    await expectCode('ERR_FORMAT', () => VisionTower.load(dir, { backend: 'cpu' }), /vision_tower\.encoder\.layers\.1\.mlp\.fc2\.bias/);
  });
  await variant({ config: (c) => (c.vision_config.image_size = 40) }, async (dir) => {
    await expectCode('ERR_SHAPE', () => VisionTower.load(dir, { backend: 'cpu' }), /position_embedding\.weight' has shape \[17, 32\] but config\.json implies \[26, 32\]/);
  });
  // Layers past the feature layer are neither needed nor loaded (LLaVA never runs them).
  await variant({ rename: (n) => (n.includes('encoder.layers.2.') || n.includes('post_layernorm') ? null : n) }, async (dir) => {
    using tower = await VisionTower.load(dir, { backend: 'cpu' });
    const e = relErr((await tower.encode(pixels, B)).features, f32(expected['features.default.-2'], 'features'));
    assert.ok(e <= 1e-5, `rel err ${e}`);
  });
});

const cuda = listBackends().find((b) => b.name === 'cuda');
if (cuda?.available) {
  test('cuda: the tower reports ERR_UNSUPPORTED (layernorm, gelu and full attention are CPU-only so far)', async () => {
    const c = nativeClipConfig(parseVisionConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'))));
    await expectCode('ERR_UNSUPPORTED', () => callSync(() => new (addon().NativeModel)('cuda', c, 'clip_llava')), /cuda backend cannot run the CLIP vision tower/);
    await expectCode('ERR_UNSUPPORTED', () => VisionTower.load(DIR, { backend: 'cuda' }), /layernorm/);
  });
} else {
  console.log(`  SKIP vision on cuda: ${cuda?.reason ?? "no cuda backend in this build"}; the ERR_UNSUPPORTED check did not run`);
}

test.run();
