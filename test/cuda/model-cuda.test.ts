// The engine's model tests on the CUDA backend: logits, gate counts, loss, grads, AdamW and
// training steps of the HF fixture models (test/fixtures/{llama,mistral,qwen2} with head dim 16,
// qwen2-hd64 and mistral-hd128 with head dims 64 and 128, plus their long batch), mini-ml's NLL,
// and stories260K's greedy ids.
//
// Kernels reached (the "auto" choices; the conditions are written out at HD_CONFIGS in
// scripts/make_fixtures.py): head dim 16 runs the generic attention kernels; head dims 64 and 128
// run the flash-attention forward and backward (sm_80 and sm_90). The main inputs of every fixture
// are too few rows to fill the GPU, so the GEMMs take the small mma.sync tiles; the head-dim
// fixtures' long batch (80 x 128 = 10240 rows, forward only) takes wgmma for every linear forward
// and the fused FFN on sm_90 (H100/H200), and the large mma.sync tiles on an A100.
//
// Tolerances. On CUDA the weights live in bf16 (fp32 checkpoints are rounded on load) and every
// activation is bf16 with fp32 accumulation, so results are held to DESIGN.md's rule: "within 2x
// the error PyTorch bf16 shows against fp32 on the same inputs". That error was measured once by
// scripts/bf16_reference.py (HF models cast to bf16, same inputs, same fp32 references) and is
// committed as test/fixtures/bf16-reference.json; each bound below is 2x the largest value it
// shows over the model's group (one noise level for models of this size and shape; per tensor
// name for grads and parameters): the head-dim-16 models (llama, mistral, qwen2) form one group,
// the head-dim 64/128 models another, so that adding models of another shape leaves the first
// group's bounds as they were. Every measured error is printed with its bound.
//  - logits, loss, grads, grad norms, parameters after 10 steps, mini-ml NLL, the long batch's
//    per-token NLL: as above.
//  - AdamW alone (torch's own fp32 gradients written in, fp32 masters and moments): no bf16 is
//    involved, so DESIGN.md's fp32 tolerance applies: 1e-5.
//  - gate counts: exact where the math allows it. The forward returns the gate values the backend
//    computed (batch.wantGates) and the counts must equal the counts of those values (> 0 on the
//    counted tokens) exactly. Against HF's fp32 counts exact equality is not achievable: bf16
//    weights and activations move gate values near 0 across the sign. So (a) the fraction of
//    counted (token, neuron) decisions that differ, summed |count - HF count| / decisions, is held
//    to 2x the flip fraction PyTorch bf16 shows (about 0.2% there), and (b) per neuron, |count - HF
//    count| may not exceed the number of counted tokens whose gate lies within delta of 0, delta =
//    2x PyTorch bf16's largest gate error (in units of the layer's gate rms): a decision can only
//    flip where the gate is that close to 0.
//  - stories260K: greedy ids from BOS must equal the 40 recorded ids exactly (PyTorch bf16 does:
//    the smallest fp32 top-1/top-2 margin over those steps is 0.13, see the JSON); its
//    teacher-forced logits are compared with the CPU backend's.
//
// Without a usable CUDA device every test is skipped (uvu's "Skipped" total; the suite's name says
// SKIPPED and the reason from the native backend list is printed). PLAST_CUDA_TEST_BACKEND=cpu runs
// the same suite on the CPU backend with the same bounds, which checks the test itself on a machine
// without a GPU.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { packBatch } from '../../src/model/batch';
import { generateGreedy } from '../../src/model/generate';
import { Model } from '../../src/model/model';
import { call, listBackends } from '../../src/native';
import { ASSETS, FIXTURES, f32, fixture, gateCountCheck, longForward, nextTokenNll, readTensors, relErr, targetSequences } from '../helpers';

type Backend = 'cpu' | 'cuda';

interface ModelRef {
  logits_rel: number;
  gate_rel: number;
  gate_absmax_over_rms: number;
  count_flips: number;
  count_decisions: number;
  loss_rel: number;
  grads_rel: Record<string, number>;
  steps_loss_rel: number;
  steps_grad_norm_rel: number;
  after_rel: Record<string, number>;
  /** The head-dim fixtures' long batch (forward only). */
  long?: { nll_rel: number; gate_absmax_over_rms: number; count_flips: number; count_decisions: number };
}

interface Bf16Reference {
  torch: string;
  models: Record<string, ModelRef>;
  'mini-ml': { nll_rel: number; last_logits_rel: number };
  stories260K: { fp32_ids: number[]; bf16_ids: number[]; fp32_min_margin: number; teacher_logits_rel: number };
}

/** The backend to test on, or the reason the suite is skipped. */
function target(): { backend: Backend; skip?: string } {
  const forced = process.env.PLAST_CUDA_TEST_BACKEND;
  if (forced === 'cpu') return { backend: 'cpu' };
  try {
    const info = listBackends().find((b) => b.name === 'cuda');
    if (!info) return { backend: 'cuda', skip: 'the native addon lists no cuda backend' };
    if (!info.available) return { backend: 'cuda', skip: (info.reason ?? 'unavailable').replace(/^no CUDA device:\s*/, '') };
    return { backend: 'cuda' };
  } catch (err) {
    return { backend: 'cuda', skip: (err as Error).message };
  }
}

const { backend, skip } = target();
const REF = JSON.parse(readFileSync(join(FIXTURES, 'bf16-reference.json'), 'utf8')) as Bf16Reference;
// Models that share a noise level (see the header): bounds are 2x the max over the group.
const GROUPS = [
  ['llama', 'mistral', 'qwen2'],
  ['qwen2-hd64', 'mistral-hd128'],
];
const MODELS = GROUPS.flat();
const twiceMax = (xs: number[]): number => 2 * Math.max(...xs);

function tolerances(group: string[]) {
  const refs = group.map((m) => {
    const r = REF.models[m];
    if (!r) throw new Error(`bf16-reference.json has no entry for ${m}; rerun scripts/bf16_reference.py --only ${m}`);
    return r;
  });
  const perTensor = (key: 'grads_rel' | 'after_rel', name: string): number => {
    const xs = refs.filter((r) => name in r[key]).map((r) => r[key][name]!);
    if (xs.length === 0) throw new Error(`bf16-reference.json has no ${key} for ${name}; rerun scripts/bf16_reference.py`);
    return twiceMax(xs);
  };
  const longs = refs.map((r) => r.long).filter((l) => l !== undefined);
  return {
    logits: twiceMax(refs.map((r) => r.logits_rel)),
    loss: twiceMax(refs.map((r) => r.loss_rel)),
    flipFraction: twiceMax(refs.map((r) => r.count_flips / r.count_decisions)),
    gateErrOverRms: twiceMax(refs.map((r) => r.gate_absmax_over_rms)),
    stepsLoss: twiceMax(refs.map((r) => r.steps_loss_rel)),
    stepsGradNorm: twiceMax(refs.map((r) => r.steps_grad_norm_rel)),
    grad: (name: string) => perTensor('grads_rel', name),
    // k_proj biases get analytically zero gradients (softmax is shift invariant), so Adam steps them
    // on rounding noise alone, which no two bf16 implementations share (fixtures.test.ts holds them
    // 100x looser on the CPU for the same reason): 5x PyTorch's instead of 2x.
    after: (name: string) => (name.endsWith('k_proj.bias') ? 2.5 : 1) * perTensor('after_rel', name),
    // the long batch (head-dim fixtures): the same measures on its own inputs
    long: longs.length === 0 ? undefined : {
      nll: twiceMax(longs.map((l) => l.nll_rel)),
      flipFraction: twiceMax(longs.map((l) => l.count_flips / l.count_decisions)),
      gateErrOverRms: twiceMax(longs.map((l) => l.gate_absmax_over_rms)),
    },
  };
}
const MODEL_TOL = Object.fromEntries(GROUPS.flatMap((g) => g.map((m) => [m, tolerances(g)] as const)));

const TOL = {
  ...MODEL_TOL['llama']!, // the head-dim-16 group: also the bound of llava-image's logits
  adamwAlone: 1e-5, // fp32 end to end (DESIGN.md: fp32 <= 1e-5)
  gradNormAlone: 1e-6, // a sum of squares of fp32 values, accumulated in double
  miniNll: 2 * REF['mini-ml'].nll_rel,
  miniLast: 2 * REF['mini-ml'].last_logits_rel,
  storiesLogits: 2 * REF.stories260K.teacher_logits_rel,
};

function within(what: string, value: number, bound: number): void {
  const ok = value <= bound;
  console.log(`    ${ok ? 'ok  ' : 'FAIL'} ${what}: ${value.toExponential(2)} (bound ${bound.toExponential(2)})`);
  assert.ok(ok, `${what}: ${value.toExponential(3)} > ${bound.toExponential(3)}`);
}

const title = skip ? `model tests on CUDA: SKIPPED (no CUDA device)` : `model tests on ${backend}`;
const s = suite(title);
const add = (name: string, fn: () => Promise<void>): void => {
  if (skip) s.skip(name, fn);
  else s(name, fn);
};
if (skip) console.log(`  skip: no CUDA device (${skip})`);
else if (backend === 'cpu') console.log('  PLAST_CUDA_TEST_BACKEND=cpu: the CUDA model tests run on the CPU backend (a check of the test itself)');

for (const name of MODELS) {
  const { dir, meta, expected } = fixture(name);
  const tol = MODEL_TOL[name]!;

  add(`${name}: logits vs HF fp32; counts == counts of the returned gates; counts near HF's`, async () => {
    const model = await Model.load(dir, { backend });
    const seqs = meta.ids.map((ids, b) => ({ ids, count: meta.count_mask[b]!, logitAt: ids.map((_, t) => t) }));
    const batch = packBatch(seqs, model.padId());
    batch.wantGates = true;
    const r = await call(() => model.native.forward(batch));
    const V = model.config.vocabSize;
    batch.logitSpans.forEach(([s0, e0], b) => {
      const got = r.logits!.subarray(s0 * V, e0 * V);
      within(`${name} sequence ${b} logits rel err`, relErr(got, f32(expected[`logits.${b}`], `logits.${b}`)), tol.logits);
    });
    assert.is(r.countedTokens, meta.counted_tokens);
    const L = model.config.numLayers;
    const I = model.config.intermediateSize;
    const { selfDiff, hfDiff, unexplained } = gateCountCheck(batch, r, expected['counts'] as BigInt64Array, L, I, tol.gateErrOverRms);
    console.log(`    ${name}: ${selfDiff} neuron counts differ from the counts of the returned gates (must be 0)`);
    assert.is(selfDiff, 0, `${selfDiff} neuron counts differ from the counts of the gate values the ${backend} backend computed`);
    within(`${name} gate decisions differing from HF fp32 (fraction of ${L * I * meta.counted_tokens})`, hfDiff / (L * I * meta.counted_tokens), tol.flipFraction);
    console.log(`    ${name}: ${unexplained} neurons whose count differs from HF's by more than their near-zero gates (must be 0)`);
    assert.is(unexplained, 0, `${unexplained} neurons differ from HF by more than their near-zero (|g| <= ${tol.gateErrOverRms.toFixed(3)} rms) tokens`);
  });

  const long = meta.long;
  const longTol = tol.long;
  if (long) {
    // Enough rows to fill an H100/H200 with 128-row tiles: wgmma for every linear forward and the
    // fused FFN on sm_90 (make_fixtures.py, HD_CONFIGS); flash forward over 80 padded sequences.
    add(`${name}: long batch (${long.lengths.length} sequences, ${long.rows} rows): per-token NLL vs HF fp32; counts == counts of the returned gates; counts near HF's`, async () => {
      if (!longTol) throw new Error(`bf16-reference.json has no long-batch entry for ${name}; rerun scripts/bf16_reference.py --only ${name}`);
      const model = await Model.load(dir, { backend });
      const { batch, r, nllErr } = await longForward(model, name, meta, expected);
      within(`${name} long batch per-token NLL rel err`, nllErr, longTol.nll);
      assert.is(r.countedTokens, long.counted_tokens);
      const L = model.config.numLayers;
      const I = model.config.intermediateSize;
      const { selfDiff, hfDiff, unexplained } = gateCountCheck(batch, r, expected['long.counts'] as BigInt64Array, L, I, longTol.gateErrOverRms);
      console.log(`    ${name} long batch: ${selfDiff} neuron counts differ from the counts of the returned gates (must be 0)`);
      assert.is(selfDiff, 0, `${selfDiff} neuron counts differ from the counts of the gate values the ${backend} backend computed`);
      within(`${name} long batch gate decisions differing from HF fp32 (fraction of ${L * I * long.counted_tokens})`, hfDiff / (L * I * long.counted_tokens), longTol.flipFraction);
      console.log(`    ${name} long batch: ${unexplained} neurons whose count differs from HF's by more than their near-zero gates (must be 0)`);
      assert.is(unexplained, 0, `${unexplained} neurons differ from HF by more than their near-zero (|g| <= ${longTol.gateErrOverRms.toFixed(3)} rms) tokens`);
    });
  }

  add(`${name}: masked translation loss and grads of layers ${meta.train_layers.join(',')} vs HF fp32`, async () => {
    const model = await Model.load(dir, { backend });
    await model.setTrainable(meta.trainable);
    const r = await model.forwardBackward(targetSequences(meta), 1 / meta.label_tokens);
    assert.is(r.labelTokens, meta.label_tokens);
    within(`${name} loss rel err`, Math.abs(r.lossSum / r.labelTokens - meta.loss) / meta.loss, tol.loss);
    for (const n of meta.trainable) {
      within(`${name} grad ${n}`, relErr(await model.read(n, 'grad'), f32(expected[`grad.${n}`], n)), tol.grad(n));
    }
  });

  add(`${name}: AdamW (warmup + cosine, clipping) on torch's gradients, fp32 masters`, async () => {
    const model = await Model.load(dir, { backend });
    const o = meta.optim;
    const a = meta.adamw;
    await model.setTrainable(o.tensors);
    for (const n of o.tensors) await model.write(n, 'master', f32(expected[`optim.init.${n}`], n));
    let worst = 0;
    let worstNorm = 0;
    for (const [i, step] of o.steps.entries()) {
      for (const n of o.tensors) await model.write(n, 'grad', f32(expected[`optim.grad.${i}.${n}`], n));
      const norm = await model.gradNorm();
      const normErr = Math.abs(norm - step.grad_norm) / step.grad_norm;
      worstNorm = Math.max(worstNorm, normErr);
      assert.ok(normErr <= TOL.gradNormAlone, `step ${i}: grad norm ${norm} vs ${step.grad_norm}`);
      const clip = a.clip / (norm + 1e-6);
      await model.adamw({ lr: step.lr, beta1: a.beta1, beta2: a.beta2, eps: o.eps, weightDecay: a.weight_decay, step: i + 1, gradScale: clip < 1 ? clip : 1 });
      for (const n of o.tensors) {
        const err = relErr(await model.read(n, 'master'), f32(expected[`optim.after.${i}.${n}`], n));
        worst = Math.max(worst, err);
        assert.ok(err <= TOL.adamwAlone, `step ${i}, ${n}: rel err ${err.toExponential(2)} > ${TOL.adamwAlone}`);
      }
    }
    within(`${name} AdamW grad norm (clipping input), worst over 10 steps`, worstNorm, TOL.gradNormAlone);
    within(`${name} AdamW masters, worst over 10 steps`, worst, TOL.adamwAlone);
  });

  add(`${name}: 10 training steps (own grads, clipping, AdamW on fp32 masters) track torch`, async () => {
    const model = await Model.load(dir, { backend });
    await model.setTrainable(meta.trainable);
    const a = meta.adamw;
    const seqs = targetSequences(meta);
    let worstLoss = 0;
    let worstNorm = 0;
    for (const [i, step] of meta.steps.entries()) {
      await model.zeroGrad();
      const r = await model.forwardBackward(seqs, 1 / meta.label_tokens);
      worstLoss = Math.max(worstLoss, Math.abs(r.lossSum / r.labelTokens - step.loss) / step.loss);
      const norm = await model.gradNorm();
      worstNorm = Math.max(worstNorm, Math.abs(norm - step.grad_norm) / step.grad_norm);
      const clip = a.clip / (norm + 1e-6);
      await model.adamw({ lr: step.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay, step: i + 1, gradScale: clip < 1 ? clip : 1 });
    }
    within(`${name} loss per step, worst rel err`, worstLoss, tol.stepsLoss);
    within(`${name} grad norm per step, worst rel err`, worstNorm, tol.stepsGradNorm);
    for (const n of meta.trainable) {
      within(`${name} after 10 steps ${n}`, relErr(await model.read(n, 'master'), f32(expected[`after.${n}`], n)), tol.after(n));
    }
  });
}

add('mini-ml (bf16 weights): per-token NLL and last logits vs HF fp32', async () => {
  const meta = JSON.parse(readFileSync(join(FIXTURES, 'mini-ml-ref', 'expected.json'), 'utf8')) as { prompts: string[]; ids: number[][] };
  const expected = readTensors(join(FIXTURES, 'mini-ml-ref', 'expected.safetensors'));
  const model = await Model.load(join(ASSETS, 'mini-ml'), { backend });
  const V = model.config.vocabSize;
  for (const [b, ids] of meta.ids.entries()) {
    const r = await model.forward([{ ids, logitAt: ids.map((_, t) => t) }]);
    const logits = r.logits[0]!;
    const nll = nextTokenNll(logits, ids, V);
    within(`mini-ml prompt ${b} NLL rel err`, relErr(nll, f32(expected[`nll.${b}`], 'nll')), TOL.miniNll);
    within(`mini-ml prompt ${b} last logits rel err`, relErr(logits.subarray((ids.length - 1) * V), f32(expected[`last.${b}`], 'last')), TOL.miniLast);
  }
});

function recordedIds(dir: string): number[] {
  const src = readFileSync(join(dir, 'SOURCE.md'), 'utf8');
  const m = /First 40 greedy token ids after `<s>` \(id 1\):\s*`\[([0-9, ]+)\]`/.exec(src);
  if (!m) throw new Error('SOURCE.md no longer lists the first 40 greedy ids');
  return m[1]!.split(',').map((x) => Number(x.trim()));
}

add('stories260K: greedy ids from BOS equal the 40 recorded ids; logits near the CPU backend', async () => {
  const dir = join(ASSETS, 'stories260K');
  const want = recordedIds(dir);
  assert.equal(want, REF.stories260K.fp32_ids, 'SOURCE.md and bf16-reference.json agree on the ids');
  const model = await Model.load(dir, { backend });
  const ids = await generateGreedy(model, [1], { maxNewTokens: 40, stopIds: [1, 2] });
  const first = ids.findIndex((id, i) => id !== want[i]);
  console.log(`    stories260K: ${first < 0 && ids.length === 40 ? 'all 40 greedy ids match' : `first difference at step ${first} of ${ids.length}`}`);
  assert.equal(ids, want);
  const cpu = backend === 'cpu' ? model : await Model.load(dir, { backend: 'cpu' });
  const seq = [{ ids: [1, ...want], logitAt: [1, ...want].map((_, t) => t) }];
  const [a, b] = [await model.forward(seq), await cpu.forward(seq)];
  within('stories260K teacher-forced logits vs the CPU backend', relErr(a.logits[0]!, b.logits[0]!), TOL.storiesLogits);
  assert.is(model.tokenizer.decode(ids), model.tokenizer.decode(want));
});

// LLaVA with images (test/fixtures/llava-image): the tower and projector have no device kernels
// yet, so they run on the CPU and their features are copied to the device (Model.load falls back);
// the decoder's splice and forward run on the backend under test. Held to the decoder's logits bound.
add('llava-image: logits with the image spliced in vs HF fp32 (tower on the CPU)', async () => {
  const dir = join(FIXTURES, 'llava-image');
  const meta = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { lengths: number[] };
  const expected = readTensors(join(dir, 'expected.safetensors'));
  const ids = expected['input_ids'] as BigInt64Array;
  const pixels = f32(expected['pixel_values'], 'pixel_values');
  const B = meta.lengths.length;
  const T = ids.length / B;
  const model = await Model.load(dir, { backend, vision: true });
  try {
    assert.is(model.vision!.backend, 'cpu');
    const per = pixels.length / B;
    const seqs = meta.lengths.map((n, b) => {
      const row = Array.from(ids.subarray(b * T, b * T + n), Number);
      return { ids: row, logitAt: row.map((_, t) => t), images: [{ pixels: pixels.subarray(b * per, (b + 1) * per) }] };
    });
    const r = await model.forward(seqs);
    const ref = f32(expected['logits'], 'logits');
    const V = model.config.vocabSize;
    meta.lengths.forEach((n, b) => within(`sequence ${b} logits`, relErr(r.logits[b]!, ref.subarray(b * T * V, (b * T + n) * V)), TOL.logits));
  } finally {
    model.dispose();
  }
});

s.run();
