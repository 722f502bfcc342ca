// The logit lens on the bundled model (assets/mini-ml, CPU): the lens at the last layer is the
// model's own next-token distribution (logits bit for bit, softmax probabilities, ranks, top
// tokens, entropy); the captured hidden states are the embeddings at slot 0 and, at every slot,
// the state whose final norm + LM head (recomputed here in float64 from the checkpoint) gives the
// lens logits; `plast lens` writes a report whose numbers are those of Model.forward.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { lens } from '../../src/lens/lens';
import { lensPrompt, loadLensData, nextToken } from '../../src/lens/data';
import { ASSETS, ROOT } from '../helpers';

const MODEL = join(ASSETS, 'mini-ml');
const XQUAD = join(ASSETS, 'data', 'xquad_questions_train.jsonl');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'plast-lens-'));
let model: Model;

/** A checkpoint tensor as f32 (mini-ml is bf16). */
function weight(m: Model, name: string): Float32Array {
  const t = m.checkpoint.tensors.get(name)!;
  const buf = Buffer.alloc(t.end - t.begin);
  const fd = openSync(t.file, 'r');
  readSync(fd, buf, 0, buf.length, t.begin);
  closeSync(fd);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  assert.is(t.dtype, 'BF16');
  const u32 = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) u32[i] = buf.readUInt16LE(2 * i) << 16;
  return out;
}

/** softmax probability (float64), rank (1 + strictly larger logits), entropy of one logit row. */
function stats(l: Float32Array, tok: number): { p: number; rank: number; entropy: number } {
  let mx = -Infinity;
  for (const x of l) mx = Math.max(mx, x);
  let sum = 0;
  let dot = 0;
  for (const x of l) {
    const e = Math.exp(x - mx);
    sum += e;
    dot += e * (x - mx);
  }
  let above = 0;
  for (const x of l) if (x > l[tok]!) above++;
  return { p: Math.exp(l[tok]! - mx) / sum, rank: above + 1, entropy: Math.log(sum) - dot / sum };
}

test.before(async () => {
  model = await Model.load(MODEL, { backend: 'cpu' });
});
test.after(() => model.dispose());

test('the lens at the last layer is the model\'s own next-token distribution', async () => {
  const a = model.tokenizer.encode('Chinese: 黑豹队的防守放弃了多少分？\nEnglish:');
  const b = model.tokenizer.encode('Turkish: Panthers savunması kaç sayı bırakmıştır?\nEnglish:');
  const L = model.config.numLayers;
  const V = model.config.vocabSize;
  const fwd = await model.forward([{ ids: a, logitAt: [a.length - 1, 3] }, { ids: b, logitAt: [b.length - 1] }]);
  const own = [fwd.logits[0]!.slice(0, V), fwd.logits[0]!.slice(V), fwd.logits[1]!];
  const want = [[17, 300, 5000], [1, 2, 8191], [42, 4242, 100]];
  const out = await model.lens([{ ids: a, at: [a.length - 1, 3], tokens: [want[0]!, want[1]!] }, { ids: b, at: [b.length - 1], tokens: [want[2]!] }], { topK: 7, logits: true });
  assert.equal(out.layers, Array.from({ length: L + 1 }, (_, i) => i));
  assert.is(out.rows, 3);
  assert.equal(out.spans, [[0, 2], [2, 3]]);
  const R = out.rows;
  for (let r = 0; r < R; r++) {
    const o = L * R + r; // slot L: the output of the last layer
    const lensLogits = out.logits!.subarray(o * V, (o + 1) * V);
    assert.equal(Array.from(lensLogits), Array.from(own[r]!), `row ${r}: lens logits at the last layer equal forward's`);
    for (let k = 0; k < 3; k++) {
      const s = stats(own[r]!, want[r]![k]!);
      assert.is(out.ranks[o * 3 + k], s.rank, `row ${r} token ${want[r]![k]}: rank`);
      assert.ok(Math.abs(out.probs[o * 3 + k]! - s.p) <= 1e-6 * s.p + 1e-12, `row ${r} token ${want[r]![k]}: p ${out.probs[o * 3 + k]} vs ${s.p}`);
    }
    const order = Array.from({ length: V }, (_, i) => i).sort((x, y) => own[r]![y]! - own[r]![x]! || x - y);
    assert.equal(Array.from(out.topIds.subarray(o * 7, o * 7 + 7)), order.slice(0, 7), `row ${r}: top 7`);
    const s0 = stats(own[r]!, order[0]!);
    assert.ok(Math.abs(out.topProbs[o * 7]! - s0.p) < 1e-6, 'top-1 probability');
    assert.ok(Math.abs(out.entropy[o]! - s0.entropy) < 1e-5, `entropy ${out.entropy[o]} vs ${s0.entropy}`);
    // Probabilities of the top tokens fall; ranks of the top tokens are 1, 2, ...
    for (let k = 1; k < 7; k++) assert.ok(out.topProbs[o * 7 + k]! <= out.topProbs[o * 7 + k - 1]!);
  }
});

test('hidden states: slot 0 is the embeddings; each slot through the final norm and the LM head gives its lens logits', async () => {
  const ids = model.tokenizer.encode('Russian: Сколько очков уступила защита Пэнтерс?\nEnglish:');
  const other = model.tokenizer.encode('short one');
  const c = model.config;
  const H = c.hiddenSize;
  const V = c.vocabSize;
  const at = [0, 5, ids.length - 1];
  const out = await model.lens([{ ids: other, at: [1] }, { ids, at }], { hidden: true, logits: true });
  const S = c.numLayers + 1;
  const R = out.rows;
  assert.is(R, 4);
  assert.is(out.hidden!.length, S * R * H);
  const emb = weight(model, 'model.embed_tokens.weight');
  const norm = weight(model, 'model.norm.weight');
  const head = c.tieWordEmbeddings ? emb : weight(model, 'lm_head.weight');
  const rowIds = [other[1]!, ...at.map((t) => ids[t]!)];
  for (let r = 0; r < R; r++) {
    assert.equal(Array.from(out.hidden!.subarray(r * H, (r + 1) * H)), Array.from(emb.subarray(rowIds[r]! * H, (rowIds[r]! + 1) * H)), `row ${r}: slot 0 is the token's embedding`);
  }
  let worst = 0;
  for (let h = 0; h < S; h++) {
    for (let r = 0; r < R; r++) {
      const x = out.hidden!.subarray((h * R + r) * H, (h * R + r + 1) * H);
      let ss = 0;
      for (const v of x) ss += v * v;
      const inv = 1 / Math.sqrt(ss / H + c.rmsNormEps);
      const xn = Array.from(x, (v, i) => v * inv * norm[i]!);
      const got = out.logits!.subarray((h * R + r) * V, (h * R + r + 1) * V);
      let num = 0;
      let den = 0;
      for (let v = 0; v < V; v++) {
        let d = 0;
        for (let i = 0; i < H; i++) d += xn[i]! * head[v * H + i]!;
        num += (got[v]! - d) ** 2;
        den += d * d;
      }
      worst = Math.max(worst, Math.sqrt(num / den));
    }
  }
  assert.ok(worst < 1e-5, `lens logits vs float64 norm + head of the captured states: rel. err ${worst}`);
  // A subset of the layers gives the same slots.
  const some = await model.lens([{ ids: other, at: [1] }, { ids, at }], { layers: [c.numLayers, 3], hidden: true });
  assert.equal(Array.from(some.hidden!.subarray(0, R * H)), Array.from(out.hidden!.subarray(c.numLayers * R * H, (c.numLayers + 1) * R * H)));
  assert.equal(Array.from(some.hidden!.subarray(R * H)), Array.from(out.hidden!.subarray(3 * R * H, 4 * R * H)));
});

async function rejects(fn: () => Promise<unknown>, ok: (e: Error & { code?: string }) => boolean): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.ok(ok(e as Error & { code?: string }), (e as Error).message);
    return;
  }
  assert.unreachable('expected a rejection');
}

test('lens arguments are checked', async () => {
  const ids = model.tokenizer.encode('hello');
  await rejects(() => model.lens([{ ids, at: [ids.length] }]), (e: Error & { code?: string }) => e.code === 'ERR_INVALID');
  await rejects(() => model.lens([{ ids, at: [0] }], { layers: [model.config.numLayers + 1] }), (e: Error & { code?: string }) => e.code === 'ERR_INVALID');
  await rejects(() => model.lens([{ ids, at: [0], tokens: [[model.config.vocabSize]] }]), (e: Error & { code?: string }) => e.code === 'ERR_INVALID' && /vocabulary/.test(e.message));
});

test('translation prompts: the next tokens are the first tokens of the continuations', () => {
  const d = loadLensData(XQUAD, { langs: ['zh', 'tr'], limit: 2 });
  assert.is(d.kind, 'parallel');
  assert.is(d.items.length, 4);
  const first = d.items[0]!;
  assert.is(first.lang, 'zh');
  assert.is(first.prompt, lensPrompt('to-en', 'zh', first.src.slice(1), first.en.slice(1)));
  assert.match(first.prompt, /^Chinese: .*\nEnglish:$/);
  const tok = model.tokenizer;
  const p = tok.encode(first.prompt);
  const en = nextToken(tok, first.prompt, p, first.en);
  assert.is(tok.encode(first.prompt + first.en)[p.length], en);
  assert.is(tok.decode([en]).trim(), 'How');
  const from = loadLensData(XQUAD, { langs: ['tr'], limit: 1, task: 'from-en' });
  assert.match(from.items[0]!.prompt, /^English: How many points.*\nTurkish:$/);
});

test('lens(): the report\'s last layer and its averages are the model\'s own numbers', async () => {
  const r = await lens(model, { data: XQUAD, langs: ['ar', 'zh'], limit: 3, topK: 3, batch: 2, progress: false });
  assert.is(r.items.length, 6);
  assert.equal(r.langs, ['ar', 'zh']);
  const L = model.config.numLayers;
  for (const it of r.items.slice(0, 4)) {
    const ids = model.tokenizer.encode(it.prompt);
    const f = await model.forward([{ ids, logitAt: [ids.length - 1] }]);
    const last = it.positions[0]!.layers[L]!;
    const en = stats(f.logits[0]!, it.enToken.id);
    const src = stats(f.logits[0]!, it.srcToken.id);
    assert.is(last.en.rank, en.rank);
    assert.is(last.src.rank, src.rank);
    assert.ok(Math.abs(last.en.prob - en.p) <= 1e-6 * en.p);
    assert.ok(Math.abs(last.src.prob - src.p) <= 1e-6 * src.p + 1e-12);
  }
  for (const lang of r.langs) {
    const mine = r.items.filter((i) => i.lang === lang);
    for (const row of r.summary[lang]!) {
      const ps = mine.map((i) => i.positions[0]!.layers[row.layer]!.en.prob);
      assert.ok(Math.abs(row.pEn - ps.reduce((a, b) => a + b, 0) / ps.length) < 1e-12);
      assert.is(row.items, 3);
    }
  }
});

test('plast lens: report files, and lens.json agrees with Model.forward', async () => {
  const rows = join(tmp, 'prompts.jsonl');
  writeFileSync(rows, [
    { id: 'a', lang: 'zh', prompt: '中文: 黑豹队\nEnglish:', en: ' Panthers', src: ' 黑豹队' },
    { id: 'b', lang: 'tr', prompt: 'Turkish: Panthers savunması\nEnglish:', en: ' Panthers defense', src: ' Panthers savunması' },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const out = join(tmp, 'lens');
  const r = spawnSync(process.execPath, [CLI, 'lens', '--model', MODEL, '--data', rows, '--positions', 'all', '--top-k', '2', '--backend', 'cpu', '--out', out], { encoding: 'utf8', env: { ...process.env, PLAST_NO_PROGRESS: '1' } });
  assert.is(r.status, 0, r.stderr);
  for (const f of ['lens.json', 'lens.md', 'lens.svg', 'lens.png']) assert.ok(existsSync(join(out, f)), f);
  const j = JSON.parse(readFileSync(join(out, 'lens.json'), 'utf8')) as Awaited<ReturnType<typeof lens>>;
  assert.is(j.kind, 'prompts');
  assert.is(j.items.length, 2);
  const it = j.items[1]!;
  const ids = model.tokenizer.encode(it.prompt);
  assert.is(it.positions.length, ids.length);
  const f = await model.forward([{ ids, logitAt: ids.map((_, i) => i) }]);
  const V = model.config.vocabSize;
  for (const [t, pos] of it.positions.entries()) {
    const s = stats(f.logits[0]!.subarray(t * V, (t + 1) * V), it.enToken.id);
    const last = pos.layers[model.config.numLayers]!;
    assert.is(last.en.rank, s.rank, `position ${t}`);
    assert.ok(Math.abs(last.en.prob - s.p) <= 1e-6 * s.p + 1e-12);
  }
  const md = readFileSync(join(out, 'lens.md'), 'utf8');
  assert.match(md, /## tr/);
  assert.match(md, /as in Fig\. 1/);
});

test.run();
