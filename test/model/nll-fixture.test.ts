// The translation NLL per language against HF: the llama fixture's three sequences as pairs of two
// languages (their target spans as the English side), scored by translationNll, and the same
// numbers computed here from HF's logits of those sequences. Fails if a language is given another
// language's NLL or the overall one, or if the scored span is off by a token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EncodedPair } from '../../src/data/pairs';
import { translationNll } from '../../src/eval/nll';
import { Model } from '../../src/model/model';
import { f32, fixture, logSoftmax } from '../helpers';

test('per-language, overall and macro NLL equal the values from HF logits and the target spans', async () => {
  const { dir, meta, expected } = fixture('llama');
  const langs = ['ar', 'tr', 'ar'];
  const examples: EncodedPair[] = meta.ids.map((ids, b) => ({
    pair: { lang: langs[b]!, source: '', target: '', file: 'fixture', line: b + 1 },
    ids,
    targetStart: meta.target_spans[b]![0],
  }));
  const model = await Model.load(dir, { backend: 'cpu' });
  try {
    const r = await translationNll(model, examples);
    const V = model.config.vocabSize;
    const acc: Record<string, { sum: number; n: number }> = {};
    meta.ids.forEach((ids, b) => {
      const logits = f32(expected[`logits.${b}`], `logits.${b}`);
      const [s, e] = meta.target_spans[b]!;
      assert.is(e, ids.length, 'the target runs to the end');
      const a = (acc[langs[b]!] ??= { sum: 0, n: 0 });
      for (let t = s; t < e; t++) {
        a.sum -= logSoftmax(logits.subarray((t - 1) * V, t * V), ids[t]!);
        a.n++;
      }
    });
    const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `${what}: ${got} vs HF ${want}`);
    for (const l of ['ar', 'tr']) {
      assert.is(r.perLang[l]!.tokens, acc[l]!.n, `${l} tokens`);
      assert.is(r.perLang[l]!.pairs, langs.filter((x) => x === l).length);
      close(r.perLang[l]!.nll, acc[l]!.sum / acc[l]!.n, `${l} NLL`);
    }
    const all = acc['ar']!.sum + acc['tr']!.sum;
    const n = acc['ar']!.n + acc['tr']!.n;
    close(r.overall.nll, all / n, 'overall NLL');
    close(r.macro, (acc['ar']!.sum / acc['ar']!.n + acc['tr']!.sum / acc['tr']!.n) / 2, 'macro NLL');
    assert.ok(Math.abs(r.perLang['ar']!.nll - r.perLang['tr']!.nll) > 1e-3, 'the two languages differ on this fixture');
  } finally {
    model.dispose();
  }
});

test.run();
