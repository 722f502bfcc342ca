// Fault cases, config.json: every field the engine reads, each with values of the wrong type, out
// of range, or at odds with the tensors in model.safetensors; the file itself unreadable. Each
// loads stories260K with that config.json and must get a typed error naming config.json and the
// field, before any work.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import { Model } from '../../src/model/model';
import { ASSETS } from '../helpers';
import { FaultCase, checkAll, cleanup, report, tempDir } from './harness';

type Json = Record<string, unknown>;
const SRC = join(ASSETS, 'stories260K');
const BASE = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Json;

const dir = tempDir('config');
for (const f of ['tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) copyFileSync(join(SRC, f), join(dir, f));
const CONFIG = join(dir, 'config.json');

function loadWith(cfg: Json | string): () => Promise<unknown> {
  return async () => {
    rmSync(CONFIG, { recursive: true, force: true });
    writeFileSync(CONFIG, typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
    const m = await Model.load(dir, { backend: 'cpu' });
    m.dispose();
  };
}

const WRONG_TYPES: unknown[] = ['8', true, [8], { n: 8 }];
const cases: FaultCase[] = [];
const add = (name: string, cfg: Json | string, field: string | undefined, code?: string | string[]): void => {
  cases.push({ name, run: loadWith(cfg), file: 'config.json', ...(field !== undefined ? { field } : {}), ...(code ? { code } : {}) });
};
const set = (k: string, v: unknown, base: Json = BASE): Json => ({ ...base, [k]: v });
const without = (k: string, base: Json = BASE): Json => {
  const c = { ...base };
  delete c[k];
  return c;
};

// Integer sizes: wrong types, not positive, fractional, absurd, and plausible values the tensors contradict.
const INTS: Record<string, unknown[]> = {
  vocab_size: [1000, 511],
  hidden_size: [128, 32],
  intermediate_size: [170, 344],
  num_hidden_layers: [4, 6, 1000000],
  num_attention_heads: [16, 4],
  num_key_value_heads: [8, 2, 3],
  head_dim: [16, 4, 7],
  max_position_embeddings: [],
};
for (const [k, plausible] of Object.entries(INTS)) {
  for (const v of [...WRONG_TYPES, -1, 0, 1.5, 2 ** 40, ...plausible]) add(`${k} = ${JSON.stringify(v)}`, set(k, v), k);
}
for (const k of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']) {
  add(`${k} missing`, without(k), k);
  add(`${k} null`, set(k, null), k);
}
// Floats.
for (const v of [...WRONG_TYPES, -1, 0, 2]) add(`rms_norm_eps = ${JSON.stringify(v)}`, set('rms_norm_eps', v), 'rms_norm_eps');
const noParams = without('rope_parameters');
for (const v of [...WRONG_TYPES, 0, -10000]) {
  add(`rope_theta = ${JSON.stringify(v)}`, set('rope_theta', v, noParams), 'rope_theta');
  add(`rope_parameters.rope_theta = ${JSON.stringify(v)}`, set('rope_parameters', { rope_type: 'default', rope_theta: v }), 'rope_theta');
}
// RoPE scaling.
for (const v of ['linear', 5, [1, 2], true]) {
  add(`rope_scaling = ${JSON.stringify(v)}`, set('rope_scaling', v, noParams), 'rope_scaling');
  add(`rope_parameters = ${JSON.stringify(v)}`, set('rope_parameters', v), 'rope_parameters');
}
for (const f of [0, -2, '2', null, [2]]) {
  add(`linear factor ${JSON.stringify(f)}`, set('rope_scaling', { type: 'linear', factor: f }, noParams), 'factor');
}
add('linear without factor', set('rope_scaling', { rope_type: 'linear' }, noParams), 'factor');
add('rope_type 5', set('rope_scaling', { rope_type: 5 }, noParams), 'rope_type');
add('rope_type yarn', set('rope_scaling', { rope_type: 'yarn', factor: 4 }, noParams), 'rope_scaling', 'ERR_UNSUPPORTED');
const l3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 256 };
for (const [k, v] of [['factor', 0], ['low_freq_factor', -1], ['high_freq_factor', 1], ['high_freq_factor', 'x'], ['original_max_position_embeddings', 0], ['original_max_position_embeddings', 1.5]] as const) {
  add(`llama3 ${k} = ${JSON.stringify(v)}`, set('rope_scaling', { ...l3, [k]: v }, noParams), k);
}
for (const k of ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']) {
  const r: Json = { ...l3 };
  delete r[k];
  add(`llama3 without ${k}`, set('rope_scaling', r, noParams), k);
}
// Token ids: outside the vocabulary, or not ids.
for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
  for (const v of [99999, 512, -5, '1', 1.5, true, { id: 1 }]) add(`${k} = ${JSON.stringify(v)}`, set(k, v), k);
}
add('eos_token_id list with one out of range', set('eos_token_id', [2, 99999]), 'eos_token_id');
add('eos_token_id list with a string', set('eos_token_id', [2, 'x']), 'eos_token_id');
// Booleans and the architecture.
for (const k of ['tie_word_embeddings', 'attention_bias', 'mlp_bias']) for (const v of ['true', 1, [true]]) add(`${k} = ${JSON.stringify(v)}`, set(k, v), k);
add('tie_word_embeddings false without lm_head', set('tie_word_embeddings', false), 'tie_word_embeddings');
for (const v of [5, null, 'gpt2', '', ['llama']]) add(`model_type = ${JSON.stringify(v)}`, set('model_type', v), 'model_type');
add('model_type missing', without('model_type'), 'model_type');
for (const v of ['gelu', 5]) add(`hidden_act = ${JSON.stringify(v)}`, set('hidden_act', v), 'hidden_act');
add('partial_rotary_factor 0.5', set('partial_rotary_factor', 0.5), 'partial_rotary_factor', 'ERR_UNSUPPORTED');
// Mistral's sliding window.
const mistral = set('model_type', 'mistral');
for (const v of [-1, 0, '4096', 1.5, true]) add(`sliding_window = ${JSON.stringify(v)}`, set('sliding_window', v, mistral), 'sliding_window');
add('qwen2 use_sliding_window "yes"', set('use_sliding_window', 'yes', set('model_type', 'qwen2')), 'use_sliding_window');
// LLaVA's text_config.
for (const v of ['x', 5, [1]]) add(`llava text_config = ${JSON.stringify(v)}`, { model_type: 'llava', text_config: v }, 'text_config');
add('llava text_config.hidden_size "64"', { model_type: 'llava', text_config: { ...BASE, hidden_size: '64' } }, 'text_config.hidden_size');
// The file itself.
add('not JSON', '{"model_type": "llama",', undefined, 'ERR_FORMAT');
add('empty file', '', undefined, 'ERR_FORMAT');
add('a JSON list', '[]', undefined, 'ERR_FORMAT');
add('JSON null', 'null', undefined, 'ERR_FORMAT');
add('a JSON string', '"llama"', undefined, 'ERR_FORMAT');
cases.push({
  name: 'config.json is a directory',
  run: async () => {
    rmSync(CONFIG, { force: true });
    mkdirSync(CONFIG);
    await Model.load(dir, { backend: 'cpu' });
  },
  file: 'config.json',
  code: 'ERR_IO',
});
cases.push({
  name: 'config.json is a FIFO',
  run: async () => {
    rmSync(CONFIG, { recursive: true, force: true });
    execFileSync('mkfifo', [CONFIG]);
    await Model.load(dir, { backend: 'cpu' });
  },
  file: 'config.json',
  code: 'ERR_IO',
  limit: 2,
});
cases.push({
  name: 'config.json missing',
  run: async () => {
    rmSync(CONFIG, { recursive: true, force: true });
    await Model.load(dir, { backend: 'cpu' });
  },
  file: 'config.json',
  code: 'ERR_IO',
});

test(`config.json: ${cases.length} malformed configs are typed errors naming the field`, async () => {
  report('config', cases.length);
  await checkAll(cases);
});

test('control: the unmodified config loads', async () => {
  await loadWith(BASE)();
});

test.after(cleanup(dir));
test.run();
