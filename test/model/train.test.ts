// PLAST training end to end on the bundled mini-ml (bf16, two shards + index): the export reloads
// with identical logits and leaves every other tensor byte-identical; a run stopped and resumed
// repeats the uninterrupted run bit for bit; NaN stops the run without applying the update; bad
// rows are counted and reported; and a short training lowers the English-target NLL on held-out
// pairs.
import { cpSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePairs, loadPairs } from '../../src/data/pairs';
import { translationNll } from '../../src/eval/nll';
import { Model } from '../../src/model/model';
import { f32ToBf16, readSafetensorsHeader } from '../../src/model/safetensors';
import { epochOrder } from '../../src/train/rng';
import { train } from '../../src/train/train';
import { ASSETS, FIXTURES, rejects } from '../helpers';

const MINI = join(ASSETS, 'mini-ml');
const tmp = mkdtempSync(join(tmpdir(), 'plast-train-'));
const PAPER_LANGS = ['ar', 'tr', 'ru', 'pt', 'zh'];

const xquad = readFileSync(join(ASSETS, 'data', 'xquad_questions_train.jsonl'), 'utf8').trim().split('\n');
const ntrex = readFileSync(join(ASSETS, 'data', 'ntrex128_train.jsonl'), 'utf8').trim().split('\n');

function writeLines(name: string, lines: string[]): string {
  const p = join(tmp, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

/** Pairs-format lines for the paper languages: XQuAD questions (ar, tr, ru, zh) + NTREX Portuguese. */
function paperPairs(xRows: string[], ptRows: string[]): string[] {
  const out: string[] = [];
  for (const l of xRows) {
    const r = JSON.parse(l) as Record<string, string>;
    for (const lang of ['ar', 'tr', 'ru', 'zh']) out.push(JSON.stringify({ lang, source: r[lang], target: r['en'] }));
  }
  for (const l of ptRows) {
    const r = JSON.parse(l) as Record<string, string>;
    out.push(JSON.stringify({ lang: 'pt', source: r['por'], target: r['eng'] }));
  }
  return out;
}

const SMALL = writeLines('small.jsonl', xquad.slice(0, 6)); // parallel layout: 6 rows x (ar, ru, tr, zh, hi, ro, th)

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

function f32Bytes(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

test('export: reloads with identical logits; tuned tensors = bf16(master); every other tensor bit-identical in memory and in the files, every other byte too; delta holds the tuned ones', async () => {
  const out = join(tmp, 'export');
  const m = await Model.load(MINI, { backend: 'cpu' });
  const r = await train(m, { out, data: SMALL, langs: PAPER_LANGS, limit: 16, layers: [1, 3], batch: 8, epochs: 1, lr: 1e-3, warmup: 0 });
  assert.is(r.status, 'completed');
  assert.is(r.step, 2);
  const probe = [m.tokenizer.encode('Translate this from Turkish to English:\nTurkish: Panthers savunması kaç sayı bırakmıştır?\nEnglish:'), m.tokenizer.encode('Сколько очков')];
  const seqs = probe.map((ids) => ({ ids, logitAt: ids.map((_, t) => t) }));
  const mem = await m.forward(seqs);
  const e = await Model.load(join(out, 'model'), { backend: 'cpu' });
  const got = await e.forward(seqs);
  let maxDiff = 0;
  probe.forEach((_, b) => {
    const x = mem.logits[b]!;
    const y = got.logits[b]!;
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
  });
  console.log(`  export reload: max |logit difference| ${maxDiff} over ${probe.reduce((a, p) => a + p.length, 0)} positions`);
  assert.is(maxDiff, 0, 'logits of the reloaded export must equal the in-memory model exactly');

  const tuned = new Set(m.trainable());
  assert.is(tuned.size, 18);
  // In memory too: every weight outside the trained layers is still the loaded one, bit for bit.
  const fresh = await Model.load(MINI, { backend: 'cpu' });
  let frozen = 0;
  for (const { name } of m.native.expectedWeights()) {
    if (tuned.has(name)) continue;
    assert.ok(f32Bytes(await m.read(name)).equals(f32Bytes(await fresh.read(name))), `${name}: not trained, but changed in memory`);
    frozen++;
  }
  assert.is(frozen, 75 - 18);
  let same = 0;
  let changed = 0;
  for (const f of readdirSync(MINI)) {
    const a = readFileSync(join(MINI, f));
    const b = readFileSync(join(out, 'model', f));
    if (!f.endsWith('.safetensors')) {
      assert.ok(bytesEqual(a, b), `${f} must be copied byte for byte`);
      continue;
    }
    const h = readSafetensorsHeader(join(MINI, f));
    assert.is(b.length, a.length, `${f}: size`);
    assert.ok(bytesEqual(a.subarray(0, h.dataStart), b.subarray(0, h.dataStart)), `${f}: header`);
    const masked = [Buffer.from(a), Buffer.from(b)];
    for (const t of h.tensors.values()) {
      const x = a.subarray(t.begin, t.end);
      const y = b.subarray(t.begin, t.end);
      if (!tuned.has(t.name)) {
        assert.ok(bytesEqual(x, y), `${t.name}: not trained, must be bit-identical`);
        same++;
        continue;
      }
      const want = f32ToBf16(await m.read(t.name, 'master'));
      assert.ok(bytesEqual(y, new Uint8Array(want.buffer)), `${t.name}: must be the master rounded to bf16`);
      if (!bytesEqual(x, y)) changed++;
      for (const buf of masked) buf.fill(0, t.begin, t.end);
    }
    assert.ok(bytesEqual(masked[0]!, masked[1]!), `${f}: bytes outside the tuned tensors must be identical`);
  }
  assert.is(same, 75 - 18);
  assert.ok(changed >= 14, `${changed} of 18 tuned tensors changed (bf16 can swallow tiny updates of the norm weights)`);
  const dh = readSafetensorsHeader(join(out, 'delta.safetensors'));
  assert.equal([...dh.tensors.keys()].sort(), [...tuned].sort());
  const delta = readFileSync(join(out, 'delta.safetensors'));
  for (const t of dh.tensors.values()) {
    assert.is(t.dtype, 'BF16');
    const want = f32ToBf16(await m.read(t.name, 'master'));
    assert.ok(bytesEqual(delta.subarray(t.begin, t.end), new Uint8Array(want.buffer)), `delta ${t.name}`);
  }
  for (const f of ['train.jsonl', 'summary.json', 'loss.svg', 'loss.png', 'checkpoint-000002/state.json', 'checkpoint-000002/state.safetensors']) assert.ok(existsSync(join(out, f)), f);
});

test('export of a LLaVA checkpoint (F32, language_model.* names, vision tower): tuned tensors under their source names, everything else byte-identical', async () => {
  const src = join(FIXTURES, 'llava');
  const out = join(tmp, 'llava');
  const data = writeLines('llava-pairs.jsonl', ['a big dog', 'the sun was hot', 'she ran home', 'a red ball'].map((t, i) => JSON.stringify({ lang: 'ru', source: `${t} ${i}`, target: t })));
  const m = await Model.load(src, { backend: 'cpu' });
  // The plain format: the fixture has 128 positions, fewer than a vicuna prompt with its system
  // message, and pairs past the model's positions are too-long rows.
  await train(m, { out, data, layers: [1], batch: 2, epochs: 1, lr: 1e-2, warmup: 0, template: 'plain' });
  const ids = [1, 45, 99, 310, 7, 200];
  const seq = [{ ids, logitAt: ids.map((_, t) => t) }];
  const mem = (await m.forward(seq)).logits[0]!;
  const got = (await (await Model.load(join(out, 'model'), { backend: 'cpu' })).forward(seq)).logits[0]!;
  assert.ok(f32Bytes(mem).equals(f32Bytes(got)), 'reloaded logits identical');
  const h = readSafetensorsHeader(join(src, 'model.safetensors'));
  const a = readFileSync(join(src, 'model.safetensors'));
  const b = readFileSync(join(out, 'model', 'model.safetensors'));
  let vision = 0;
  let tuned = 0;
  for (const t of h.tensors.values()) {
    const same = bytesEqual(a.subarray(t.begin, t.end), b.subarray(t.begin, t.end));
    if (t.name.startsWith('language_model.model.layers.1.')) {
      tuned++;
      const master = await m.read(t.name.replace('language_model.', ''), 'master');
      assert.ok(bytesEqual(b.subarray(t.begin, t.end), new Uint8Array(master.buffer)), `${t.name}: the F32 master as is`);
      assert.not.ok(same, `${t.name} trained`);
    } else {
      assert.ok(same, `${t.name} untouched`);
      if (!t.name.startsWith('language_model.')) vision++;
    }
  }
  assert.is(tuned, 9);
  assert.ok(vision > 0, 'the vision tower and projector are in the shard');
  const dh = readSafetensorsHeader(join(out, 'delta.safetensors'));
  assert.ok([...dh.tensors.keys()].every((k) => k.startsWith('language_model.model.layers.1.')));
  assert.is(dh.tensors.size, 9);
});

test('resume: 6 steps straight == 4 steps + resume (per-step losses and final masters/moments bitwise); micro-batching and the first loss agree with the eval NLL', async () => {
  const common = { data: SMALL, langs: ['ar', 'ru', 'tr', 'zh'], limit: 12, layers: [2, 5], batch: 4, epochs: 2, lr: 1e-3, warmup: 0.25, seed: 3, export: false };
  const m1 = await Model.load(MINI, { backend: 'cpu' });
  const r1 = await train(m1, { ...common, out: join(tmp, 'straight') });
  assert.is(r1.totalSteps, 6);
  assert.is(r1.warmupSteps, 2);

  const o2 = join(tmp, 'interrupted');
  const m2 = await Model.load(MINI, { backend: 'cpu' });
  const r2 = await train(m2, { ...common, out: o2, stopAfter: 4 });
  assert.is(r2.status, 'stopped');
  assert.is(r2.step, 4);
  assert.ok(existsSync(join(o2, 'checkpoint-000004', 'state.json')));
  cpSync(join(o2, 'checkpoint-000004'), join(tmp, 'nan', 'checkpoint-000004'), { recursive: true }); // for the NaN test
  // a resumed run keeps its settings
  await rejects(train(await Model.load(MINI, { backend: 'cpu' }), { out: o2, resume: o2, lr: 2e-3 }), 'ERR_MISMATCH', /lr/);
  const m3 = await Model.load(MINI, { backend: 'cpu' });
  const r3 = await train(m3, { out: o2, resume: o2, export: false });
  assert.is(r3.status, 'completed');
  console.log(`  straight: ${r1.losses.map((l) => l.toFixed(6)).join(' ')}`);
  console.log(`  resumed:  ${r3.losses.map((l) => l.toFixed(6)).join(' ')}`);
  assert.equal(r3.losses, r1.losses, 'per-step losses must be identical');
  assert.equal(r3.records.map((x) => x.step), [5, 6]);
  for (const name of m1.trainable()) {
    for (const part of ['master', 'm', 'v'] as const) {
      assert.ok(f32Bytes(await m1.read(name, part)).equals(f32Bytes(await m3.read(name, part))), `${name} ${part} must be bitwise equal`);
    }
  }
  const logged = readFileSync(join(o2, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number; loss?: number });
  assert.equal(logged.filter((x) => x.type === 'step').map((x) => x.loss), r1.losses);

  // The loss is normalised by the label tokens of the whole effective batch: splitting the batch
  // into micro-batches of 1 changes only rounding, and step 1's loss is the eval NLL of its batch.
  const m4 = await Model.load(MINI, { backend: 'cpu' });
  const d = loadPairs(SMALL, { langs: common.langs, limit: common.limit });
  const ex = encodePairs(m4.tokenizer, d.pairs, { template: 'plain', eosId: 2, maxLen: 2048 }).examples;
  const first = epochOrder(ex.length, common.seed, 0).slice(0, common.batch).map((i) => ex[i]!);
  const nll = await translationNll(m4, first);
  const r4 = await train(m4, { ...common, out: join(tmp, 'micro'), microBatch: 1, stopAfter: 3 });
  console.log(`  micro-batch 1: ${r4.losses.map((l) => l.toFixed(6)).join(' ')}; eval NLL of batch 1: ${nll.overall.nll.toFixed(6)}`);
  assert.is(r4.records[0]!.microBatches, 4);
  r4.losses.forEach((l, i) => assert.ok(Math.abs(l - r1.losses[i]!) <= 1e-5 * r1.losses[i]!, `step ${i + 1}: ${l} vs ${r1.losses[i]}`));
  assert.ok(Math.abs(nll.overall.nll - r1.losses[0]!) <= 1e-5 * r1.losses[0]!, `step 1 loss ${r1.losses[0]} vs eval NLL ${nll.overall.nll}`);
});

test('NaN: a non-finite loss or grad norm stops the run with ERR_NUMERIC naming the step; the last good checkpoint stays, no update, no export', async () => {
  const dir = join(tmp, 'nan');
  const st = join(dir, 'checkpoint-000004', 'state.safetensors');
  const pristine = readFileSync(st);
  // A huge finite value (not NaN: resume refuses non-finite masters up front, below) overflows
  // in the forward, so the run meets the NaN mid-step.
  const corrupt = (tensor: string, value = 3e38): Buffer => {
    writeFileSync(st, pristine);
    const t = readSafetensorsHeader(st).tensors.get(tensor)!;
    const fd = openSync(st, 'r+');
    writeSync(fd, Buffer.from(new Float32Array(16).fill(value).buffer), 0, 64, t.begin);
    closeSync(fd);
    return readFileSync(st);
  };
  // NaN in a norm weight reaches the loss through the residual stream.
  let before = corrupt('master.model.layers.5.post_attention_layernorm.weight');
  await rejects(
    train(await Model.load(MINI, { backend: 'cpu' }), { out: dir, resume: dir }),
    'ERR_NUMERIC',
    /step 5 of 6: the loss is NaN; the update was not applied\. The last good checkpoint is .*checkpoint-000004 \(step 4\)/,
  );
  assert.ok(readFileSync(st).equals(before), 'the checkpoint is untouched');
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('checkpoint-')), ['checkpoint-000004']);
  assert.not.ok(existsSync(join(dir, 'model')));
  const log = readFileSync(join(dir, 'train.jsonl'), 'utf8');
  assert.ok(log.includes('"type":"error","code":"ERR_NUMERIC","step":5'), log.slice(-300));
  // Huge values in a few q_proj weights: infinite scores, NaN attention rows (the CPU kernel
  // propagates them), caught by the loss or the gradient norm.
  before = corrupt('master.model.layers.2.self_attn.q_proj.weight');
  await rejects(train(await Model.load(MINI, { backend: 'cpu' }), { out: dir, resume: dir }), 'ERR_NUMERIC', /step 5 of 6: the (loss is NaN|gradient norm is NaN)/);
  assert.ok(readFileSync(st).equals(before));
  // A NaN in the checkpoint itself is refused before anything is touched.
  before = corrupt('master.model.layers.5.post_attention_layernorm.weight', NaN);
  await rejects(train(await Model.load(MINI, { backend: 'cpu' }), { out: dir, resume: dir }), 'ERR_FORMAT', /state\.safetensors: tensor 'master\.model\.layers\.5\.post_attention_layernorm\.weight' holds NaN/);
  assert.ok(readFileSync(st).equals(before));
  writeFileSync(st, pristine);
});

test('bad rows: counted per reason in the summary and listed in train.jsonl; --strict rejects the file naming the line', async () => {
  const rows = [
    JSON.stringify({ lang: 'ar', source: 'كم نقطة؟', target: 'How many points?' }),
    JSON.stringify({ lang: 'ru', source: 'Сколько очков?' }),
    JSON.stringify({ lang: 'tr', source: 'Kaç sayı?', target: '' }),
    JSON.stringify({ lang: 'qq', source: 'x', target: 'y' }),
    JSON.stringify({ lang: 'zh', source: '多少分'.repeat(40), target: 'How many points?' }),
    JSON.stringify({ lang: 'pt', source: 'Quantos pontos?', target: 'How many points?' }),
  ];
  const file = writeLines('bad.jsonl', rows);
  const out = join(tmp, 'bad');
  const m = await Model.load(MINI, { backend: 'cpu' });
  const said: string[] = [];
  const r = await train(m, { out, data: file, layers: [7], batch: 2, epochs: 1, maxLen: 64, lr: 1e-4, export: false, log: (msg) => said.push(msg) });
  assert.is(r.data.examples, 2);
  // the run says so too (the CLI prints these lines to stderr)
  const line = said.find((l) => l.startsWith('data: 4 bad row(s) skipped: '));
  assert.ok(line, said.join('\n'));
  for (const x of ['missing-field 1', 'empty-target 1', 'unknown-language 1', 'too-long 1', '--strict rejects them']) assert.ok(line!.includes(x), line);
  assert.equal(r.data.bad, { 'missing-field': 1, 'empty-target': 1, 'unknown-language': 1, 'too-long': 1 });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { data: { bad: Record<string, number> } };
  assert.equal(summary.data.bad, r.data.bad);
  const logged = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; line?: number; reason?: string });
  assert.equal(logged.filter((x) => x.type === 'bad-row').map((x) => [x.line, x.reason]), [[2, 'missing-field'], [3, 'empty-target'], [4, 'unknown-language'], [5, 'too-long']]);
  await rejects(train(await Model.load(MINI, { backend: 'cpu' }), { out: join(tmp, 'strict'), data: file, layers: [7], strict: true }), 'ERR_DATA', /bad\.jsonl:2: missing field\(s\) target/);
  assert.not.ok(existsSync(join(tmp, 'strict', 'train.jsonl')));
  // an --out that holds a run is not silently overwritten
  await rejects(train(await Model.load(MINI, { backend: 'cpu' }), { out, data: file, layers: [7] }), 'ERR_INVALID', /already holds a training run/);
});

test('mini-ml: a short CPU training on paper-language pairs lowers the English-target NLL on held-out pairs', async () => {
  // mini-ml was pretrained on every bundled pair with the plain prompt (assets/mini-ml/SOURCE.md),
  // so it already models that format; the LLaVA/Vicuna chat frame is new to it. Fine-tuning layers
  // 0-1 on 72 pairs in that frame must lower the NLL of pairs it did not train on.
  const trainFile = writeLines('nll-train.jsonl', paperPairs(xquad.slice(0, 16), ntrex.slice(0, 8)));
  const heldFile = writeLines('nll-held.jsonl', paperPairs(xquad.slice(-12), ntrex.slice(-8)));
  const m = await Model.load(MINI, { backend: 'cpu' });
  const held = encodePairs(m.tokenizer, loadPairs(heldFile).pairs, { template: 'vicuna', eosId: 2, maxLen: 512 }).examples;
  let t0 = Date.now();
  const before = await translationNll(m, held);
  const evalSecs = (Date.now() - t0) / 1000;
  t0 = Date.now();
  const r = await train(m, { out: join(tmp, 'nll'), data: trainFile, layers: [0, 1], template: 'vicuna', batch: 8, epochs: 1, lr: 5e-4, warmup: 0.1, seed: 0, export: false });
  const trainSecs = (Date.now() - t0) / 1000;
  const after = await translationNll(m, held);
  console.log(`  trained ${r.data.examples} pairs, ${r.step} steps of 8, layers 0-1, lr 5e-4, vicuna: ${trainSecs.toFixed(1)} s (${Math.round(r.data.tokens / trainSecs)} tok/s); eval ${evalSecs.toFixed(1)} s`);
  console.log(`  train loss ${r.losses.map((l) => l.toFixed(3)).join(' ')}`);
  for (const l of Object.keys(before.perLang)) console.log(`  held-out ${l}: ${before.perLang[l]!.pairs} pairs, NLL/token ${before.perLang[l]!.nll.toFixed(4)} -> ${after.perLang[l]!.nll.toFixed(4)}`);
  console.log(`  held-out all: ${before.overall.nll.toFixed(4)} -> ${after.overall.nll.toFixed(4)} (${before.overall.tokens} target tokens)`);
  assert.equal(Object.keys(before.perLang), PAPER_LANGS.slice().sort());
  assert.ok(after.overall.nll < before.overall.nll - 0.1, `held-out NLL ${before.overall.nll} -> ${after.overall.nll}`);
  for (const l of PAPER_LANGS) assert.ok(after.perLang[l]!.nll < before.perLang[l]!.nll, `${l}: ${before.perLang[l]!.nll} -> ${after.perLang[l]!.nll}`);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
