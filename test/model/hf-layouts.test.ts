// Checkpoint layouts as they come from HF: a LLaVA checkpoint (language_model.* prefix, a vision
// tower and projector that are skipped), the transformers-5 prefix (model.language_model.*), and
// the bundled bf16, sharded mini-ml model against HF logits.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors';
import { ASSETS, FIXTURES, f32, nextTokenNll, readTensors, relErr } from '../helpers';

test('llava: text-only logits through a LLaVA checkpoint match HF', async () => {
  const dir = join(FIXTURES, 'llava');
  const meta = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { ids: number[][] };
  const expected = readTensors(join(dir, 'expected.safetensors'));
  const model = await Model.load(dir, { backend: 'cpu' });
  assert.ok(model.config.isMultimodal);
  assert.ok(model.checkpoint.ignored.some((n) => n.startsWith('vision_tower.')), 'vision tower tensors are skipped');
  const r = await model.forward(meta.ids.map((ids) => ({ ids, logitAt: ids.map((_, t) => t) })));
  meta.ids.forEach((_, b) => {
    const err = relErr(r.logits[b]!, f32(expected[`logits.${b}`], `logits.${b}`));
    assert.ok(err <= 1e-5, `sequence ${b}: rel err ${err}`);
  });
});

test('llava: the transformers-5 prefix model.language_model.* loads the same', async () => {
  const src = join(FIXTURES, 'llava');
  const dir = mkdtempSync(join(tmpdir(), 'plast-llava5-'));
  try {
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(src, f), join(dir, f));
    const h = readSafetensorsHeader(join(src, 'model.safetensors'));
    const bytes = readFileSync(join(src, 'model.safetensors'));
    writeSafetensors(
      join(dir, 'model.safetensors'),
      [...h.tensors.values()].map((t) => ({
        name: t.name.replace(/^language_model\.model\./, 'model.language_model.').replace(/^vision_tower\./, 'model.vision_tower.'),
        dtype: t.dtype,
        shape: t.shape,
        data: bytes.subarray(t.begin, t.end),
      })),
    );
    const a = await Model.load(src, { backend: 'cpu' });
    const b = await Model.load(dir, { backend: 'cpu' });
    const ids = [1, 40, 77, 300, 12];
    const ra = await a.forward([{ ids, logitAt: [4] }]);
    const rb = await b.forward([{ ids, logitAt: [4] }]);
    assert.equal(Array.from(rb.logits[0]!), Array.from(ra.logits[0]!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mini-ml (bf16, two shards): per-token NLL and last logits match HF float32', async () => {
  const meta = JSON.parse(readFileSync(join(FIXTURES, 'mini-ml-ref', 'expected.json'), 'utf8')) as { prompts: string[]; ids: number[][] };
  const expected = readTensors(join(FIXTURES, 'mini-ml-ref', 'expected.safetensors'));
  const model = await Model.load(join(ASSETS, 'mini-ml'), { backend: 'cpu' });
  assert.is(model.checkpoint.files.length, 2);
  for (const [b, prompt] of meta.prompts.entries()) {
    const ids = model.tokenizer.encode(prompt);
    assert.equal(ids, meta.ids[b], `tokenizer ids of prompt ${b}`);
    const r = await model.forward([{ ids, logitAt: ids.map((_, t) => t) }]);
    const V = model.config.vocabSize;
    const logits = r.logits[0]!;
    const nll = nextTokenNll(logits, ids, V);
    const e1 = relErr(nll, f32(expected[`nll.${b}`], 'nll'));
    const e2 = relErr(logits.subarray((ids.length - 1) * V), f32(expected[`last.${b}`], 'last'));
    assert.ok(e1 <= 1e-5 && e2 <= 1e-5, `prompt ${b}: nll rel err ${e1}, logits rel err ${e2}`);
  }
});

test.run();
