// Padded batches through the whole model on the CPU backend: a row with left padding (its first
// queries see no key at all), a row that is nothing but padding, and a row with right padding.
// Every real token's logits must equal those of the sequence run alone, bit for bit, and the
// training step's loss and gradients must be finite and equal to the per-sequence ones: a fully
// masked attention row gives zeros, never a NaN that 0 x NaN would carry into the weight grads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Model } from '../../src/model/model';
import { NativeBatch } from '../../src/native';
import { ASSETS, relErr } from '../helpers';

const MINI = join(ASSETS, 'mini-ml');

interface Row {
  ids: number[];
  pad: 'left' | 'right' | 'all';
}

/** A batch with each row placed left/right in T columns (positions 0.. on the real tokens); every
 * next-token prediction of a real token is a labelled logit row. */
function batchOf(rows: Row[], T: number, padId: number): NativeBatch {
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const positions = new Int32Array(B * T);
  const keyMask = new Int32Array(B * T);
  const logitRows: number[] = [];
  const labels: number[] = [];
  rows.forEach((r, b) => {
    if (r.pad === 'all') return;
    const off = r.pad === 'left' ? T - r.ids.length : 0;
    r.ids.forEach((id, t) => {
      ids[b * T + off + t] = id;
      positions[b * T + off + t] = t;
      keyMask[b * T + off + t] = 1;
      if (t + 1 < r.ids.length) {
        logitRows.push(b * T + off + t);
        labels.push(r.ids[t + 1]!);
      }
    });
  });
  return { B, T, ids, positions, keyMask, logitRows: Int32Array.from(logitRows), labels: Int32Array.from(labels) };
}

test('padded batch (left padding, an all-padding row, right padding): real-token logits identical to unpadded; loss and grads finite and equal to the per-sequence ones', async () => {
  const m = await Model.load(MINI, { backend: 'cpu' });
  const trainable = [...m.layerTensorNames(0), ...m.layerTensorNames(5)];
  await m.setTrainable(trainable);
  const a = m.tokenizer.encode('Translate this from Russian to English:\nRussian: Сколько очков уступила защита?\nEnglish: How many points did the defense give up?');
  const b = a.slice(0, 11);
  const rows: Row[] = [{ ids: b, pad: 'left' }, { ids: a, pad: 'right' }, { ids: a, pad: 'all' }, { ids: b, pad: 'right' }];
  const T = a.length;
  const batch = batchOf(rows, T, m.padId());
  // the left-padded row's first T - |b| queries see no key; the all-padding row's none
  assert.is(batch.keyMask.slice(0, T - b.length).reduce((x, y) => x + y, 0), 0);

  const V = m.config.vocabSize;
  const got = (await m.native.forward(batch)).logits!;
  assert.ok(got.every(Number.isFinite), 'no NaN/inf logits');
  const alone = async (ids: number[]): Promise<Float32Array> => (await m.forward([{ ids, logitAt: ids.slice(0, -1).map((_, t) => t) }])).logits[0]!;
  const [la, lb] = [await alone(a), await alone(b)];
  const want = [lb, la, lb]; // the labelled rows in batch order: row 0 (b), row 1 (a), row 3 (b)
  let k = 0;
  let maxDiff = 0;
  for (const w of want) for (let i = 0; i < w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(w[i]! - got[k++]!));
  assert.is(k, got.length);
  console.log(`  padded vs unpadded logits: max |difference| ${maxDiff} over ${k / V} positions`);
  assert.is(maxDiff, 0, 'padding must not change a real token\'s logits');

  // One step on the padded batch vs the three sequences one by one (grads accumulate).
  await m.zeroGrad();
  const r = await m.native.forwardBackward(batch, 1);
  const gPadded = await Promise.all(trainable.map((n) => m.read(n, 'grad')));
  await m.zeroGrad();
  let lossSum = 0;
  for (const ids of [b, a, b]) lossSum += (await m.forwardBackward([{ ids, logitAt: ids.slice(0, -1).map((_, t) => t), labels: ids.slice(1) }], 1)).lossSum;
  const gAlone = await Promise.all(trainable.map((n) => m.read(n, 'grad')));
  assert.is(r.labelTokens, 2 * (b.length - 1) + a.length - 1);
  assert.ok(Number.isFinite(r.lossSum));
  assert.ok(Math.abs(r.lossSum - lossSum) <= 1e-6 * lossSum, `loss ${r.lossSum} vs ${lossSum}`);
  let worst = 0;
  trainable.forEach((n, i) => {
    assert.ok(gPadded[i]!.every(Number.isFinite), `${n}: non-finite gradient`);
    assert.ok(gPadded[i]!.some((x) => x !== 0), `${n}: all-zero gradient`);
    worst = Math.max(worst, relErr(gPadded[i]!, gAlone[i]!));
  });
  console.log(`  padded vs per-sequence: loss ${r.lossSum.toFixed(6)} vs ${lossSum.toFixed(6)}; worst grad rel err ${worst.toExponential(2)} over ${trainable.length} tensors`);
  assert.ok(worst <= 1e-5, `grad rel err ${worst}`);
});

test.run();
