// config.json parsing across the supported families, and RoPE inverse frequencies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/model/config';
import { ropeInvFreq } from '../../src/model/rope';
import { rejects } from '../helpers';

const base = { vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4 };

test('llama: defaults, attention_bias applies to q/k/v/o, head_dim derived', () => {
  const c = parseConfig({ ...base, model_type: 'llama', attention_bias: true, mlp_bias: true });
  assert.is(c.architecture, 'llama');
  assert.is(c.numKvHeads, 4);
  assert.is(c.headDim, 16);
  assert.ok(c.qkvBias && c.oBias && c.mlpBias);
  assert.is(c.tieWordEmbeddings, false);
  assert.equal(c.rope, { type: 'default', theta: 10000 });
});

test('mistral: GQA and sliding window', () => {
  const c = parseConfig({ ...base, model_type: 'mistral', num_key_value_heads: 2, sliding_window: 4096, rope_theta: 1e6 });
  assert.is(c.numKvHeads, 2);
  assert.is(c.slidingWindow, 4096);
  assert.is(c.rope.theta, 1e6);
  assert.not.ok(c.qkvBias);
});

test('qwen2: q/k/v bias, no o bias; use_sliding_window refused', async () => {
  const c = parseConfig({ ...base, model_type: 'qwen2', num_key_value_heads: 2, tie_word_embeddings: true });
  assert.ok(c.qkvBias);
  assert.not.ok(c.oBias);
  assert.ok(c.tieWordEmbeddings);
  await rejects(() => parseConfig({ ...base, model_type: 'qwen2', use_sliding_window: true }), 'ERR_UNSUPPORTED', /use_sliding_window/);
});

test('llava: text_config with LlamaConfig defaults (llava-1.5-7b-hf style)', () => {
  const c = parseConfig({
    model_type: 'llava',
    text_config: { model_type: 'llama', vocab_size: 32064, max_position_embeddings: 4096, rms_norm_eps: 1e-5 },
    vision_config: { model_type: 'clip_vision_model' },
  });
  assert.is(c.modelType, 'llava');
  assert.ok(c.isMultimodal);
  assert.is(c.vocabSize, 32064);
  assert.is(c.hiddenSize, 4096);
  assert.is(c.intermediateSize, 11008);
  assert.is(c.numLayers, 32);
  assert.is(c.numKvHeads, 32);
  assert.is(c.maxPositions, 4096);
});

test('llava_llama (original LLaVA repo layout) is read as llama', () => {
  const c = parseConfig({ ...base, model_type: 'llava_llama', mm_vision_tower: 'openai/clip-vit-large-patch14-336' });
  assert.is(c.architecture, 'llama');
  assert.ok(c.isMultimodal);
});

test('rope: transformers 5 rope_parameters and 4.x rope_scaling', () => {
  const v5 = parseConfig({ ...base, model_type: 'llama', rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 500000 } });
  assert.equal(v5.rope, { type: 'linear', theta: 500000, factor: 2 });
  const v4 = parseConfig({ ...base, model_type: 'llama', rope_theta: 500000, rope_scaling: { type: 'linear', factor: 4 } });
  assert.equal(v4.rope, { type: 'linear', theta: 500000, factor: 4 });
});

test('rope: default inverse frequencies and llama3 scaling bands', () => {
  const d = ropeInvFreq({ type: 'default', theta: 10000 }, 8);
  assert.equal(Array.from(d), [1, 0.10000000149011612, 0.009999999776482582, 0.0010000000474974513]);
  // llama3 (factor 8, original 8192): high frequencies kept, low frequencies divided by 8.
  const l3 = ropeInvFreq({ type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 }, 128);
  const plain = ropeInvFreq({ type: 'default', theta: 500000 }, 128);
  assert.is(l3[0], plain[0]);
  assert.ok(Math.abs(l3[63]! - plain[63]! / 8) < 1e-12);
  // Every frequency, the blend band included, against transformers' _compute_llama3_parameters:
  // wavelen < 8192/4 kept; > 8192/1 divided by 8; between, (1 - s) * f / 8 + s * f with
  // s = (8192 / wavelen - 1) / (4 - 1).
  let blended = 0;
  for (let i = 0; i < 64; i++) {
    const f = plain[i]!;
    const wavelen = (2 * Math.PI) / f;
    let want: number;
    if (wavelen < 8192 / 4) want = f;
    else if (wavelen > 8192 / 1) want = f / 8;
    else {
      const s = (8192 / wavelen - 1) / (4 - 1);
      want = (1 - s) * (f / 8) + s * f;
      blended++;
    }
    assert.ok(Math.abs(l3[i]! - want) <= 1e-6 * want, `inv_freq[${i}]: ${l3[i]} vs ${want}`);
  }
  assert.ok(blended > 0, 'the band between the two wavelengths is not empty at 128 dims');
});

test('bad configs are typed errors naming the field', async () => {
  await rejects(() => parseConfig({ ...base, model_type: 'falcon' }), 'ERR_UNSUPPORTED', /unsupported architecture "falcon"/);
  await rejects(() => parseConfig({ ...base }), 'ERR_FORMAT', /required field "model_type" is missing/);
  await rejects(() => parseConfig({ ...base, model_type: 'llama', hidden_size: -1 }), 'ERR_FORMAT', /positive integer for "hidden_size"/);
  await rejects(() => parseConfig({ ...base, model_type: 'llama', num_key_value_heads: 3 }), 'ERR_FORMAT', /not a multiple of num_key_value_heads 3/);
  await rejects(() => parseConfig({ ...base, model_type: 'llama', hidden_act: 'gelu' }), 'ERR_UNSUPPORTED', /hidden_act "gelu"/);
  await rejects(() => parseConfig({ ...base, model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 4 } }), 'ERR_UNSUPPORTED', /rope_scaling type "yarn"/);
  await rejects(() => parseConfig({ model_type: 'llava' }), 'ERR_FORMAT', /needs a "text_config" object/);
});

test.run();
