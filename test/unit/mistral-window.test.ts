// A mistral config.json without sliding_window: HF's MistralConfig default (4096) applies; an
// explicit null means full attention.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/model/config';

const base = { vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, model_type: 'mistral' };

test('mistral: sliding_window absent -> 4096 (MistralConfig default), null -> none, a number as given', () => {
  assert.is(parseConfig({ ...base }).slidingWindow, 4096);
  assert.is(parseConfig({ ...base, sliding_window: null }).slidingWindow, 0);
  assert.is(parseConfig({ ...base, sliding_window: 256 }).slidingWindow, 256);
  assert.is(parseConfig({ ...base, model_type: 'llama' }).slidingWindow, 0);
});

test.run();
