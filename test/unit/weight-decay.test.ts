// Weight decay as HF Trainer applies it: the exempt names are those of transformers 5.18's
// get_decay_parameter_names on a qwen2 model (printed from HF, listed below), and the exempt
// tensors end a step as if undecayed while the others keep the native step's decay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decayExempt, stepWithoutDecayOnExempt } from '../../src/train/decay';
import { ParamPart } from '../../src/native';

// name -> decayed, from HF (qwen2: q/k/v biases; RMSNorm weights)
const HF: [string, boolean][] = [
  ['model.embed_tokens.weight', true],
  ['model.layers.0.self_attn.q_proj.weight', true],
  ['model.layers.0.self_attn.q_proj.bias', false],
  ['model.layers.0.self_attn.k_proj.bias', false],
  ['model.layers.0.self_attn.v_proj.bias', false],
  ['model.layers.0.self_attn.o_proj.weight', true],
  ['model.layers.0.mlp.gate_proj.weight', true],
  ['model.layers.0.mlp.down_proj.weight', true],
  ['model.layers.0.input_layernorm.weight', false],
  ['model.layers.0.post_attention_layernorm.weight', false],
  ['model.norm.weight', false],
  ['lm_head.weight', true],
  ['model.language_model.layers.3.input_layernorm.weight', false], // LLaVA as transformers 5 saves it
];

test('exempt names: as get_decay_parameter_names', () => {
  for (const [n, decayed] of HF) assert.is(decayExempt(n), !decayed, n);
});

test('a step: decayed tensors keep the decay, exempt ones end as p0 - update (float32)', async () => {
  const masters = new Map<string, Float32Array>([
    ['model.layers.0.mlp.up_proj.weight', Float32Array.from([0.5, -1.25, 3])],
    ['model.layers.0.input_layernorm.weight', Float32Array.from([1, 0.999, -2.5])],
  ]);
  const u = Float32Array.from([1e-3, -2e-3, 5e-4]);
  const lr = 1e-3;
  const wd = 0.1;
  const d = Math.fround(1 - lr * wd);
  // what the native step does to every master: p = fl(fl(p·d) − u)
  const native = async (): Promise<void> => {
    for (const [n, p] of masters) masters.set(n, p.map((x, i) => Math.fround(Math.fround(x * d) - u[i]!)));
  };
  const model = {
    trainable: () => [...masters.keys()],
    read: async (n: string, _part?: ParamPart) => Float32Array.from(masters.get(n)!),
    write: async (n: string, _part: ParamPart, v: Float32Array) => void masters.set(n, Float32Array.from(v)),
  };
  const up0 = Float32Array.from(masters.get('model.layers.0.mlp.up_proj.weight')!);
  const norm0 = Float32Array.from(masters.get('model.layers.0.input_layernorm.weight')!);
  await stepWithoutDecayOnExempt(model, lr, wd, native);
  const up = masters.get('model.layers.0.mlp.up_proj.weight')!;
  up0.forEach((x, i) => assert.is(up[i], Math.fround(Math.fround(x * d) - u[i]!)));
  const norm = masters.get('model.layers.0.input_layernorm.weight')!;
  norm0.forEach((x, i) => {
    const want = Math.fround(x - u[i]!);
    assert.ok(Math.abs(norm[i]! - want) <= 2 ** -23 * Math.abs(want) * 2, `${norm[i]} vs ${want}`);
  });
  // no decay: nothing read or written
  let reads = 0;
  await stepWithoutDecayOnExempt({ ...model, read: async (n: string) => (reads++, masters.get(n)!) }, lr, 0, async () => {});
  assert.is(reads, 0);
});

test.run();
