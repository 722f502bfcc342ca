// `plast profile` counts against HF transformers (scripts/make_fixtures.py, build_profile): for
// each fixture model, parallel questions in three languages, two templates and every scope, the
// engine's prompt ids and scope masks equal those the Python side derived from the tokenizer's
// character offsets, and runProfile's per-layer per-neuron counts of gate_proj(x) > 0 and counted
// tokens equal the counts taken with forward hooks, exactly. Also the masks under the mini-ml
// tokenizer, whose pieces straddle the template/question boundaries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { TextTokenizer } from '../../src/model/tokenizer';
import { profilePrompt, runProfile } from '../../src/profile/profile';
import { SCOPES, Scope } from '../../src/profile/types';

// The fixtures are text prompts: the image scope is tested on LLaVA (test/model/llava*.test.ts).
const TEXT_SCOPES = SCOPES.filter((s) => s !== 'image');
import { TemplateName } from '../../src/data/templates';
import { loadParallel } from '../../src/data/parallel';
import { ASSETS, FIXTURES, readTensors } from '../helpers';

interface ExpectedPrompt {
  id: string;
  ids: number[];
  masks: Record<Scope, number[]>;
}
interface ExpectedSet {
  template: TemplateName;
  langs: string[];
  data: string;
  layout: string;
  questions: number;
  languages: Record<string, { tokens: Record<Scope, number>; prompts: ExpectedPrompt[] }>;
}
interface Expected {
  layers: number;
  intermediate: number;
  sets: Record<string, ExpectedSet>;
}

const MODELS = ['llama', 'mistral', 'qwen2'];

function load(name: string): { dir: string; exp: Expected; counts: ReturnType<typeof readTensors> } {
  const dir = join(FIXTURES, name);
  return {
    dir,
    exp: JSON.parse(readFileSync(join(dir, 'profile-expected.json'), 'utf8')) as Expected,
    counts: readTensors(join(dir, 'profile-expected.safetensors')),
  };
}

const mask = (m: Uint8Array): number[] => Array.from(m);

for (const name of MODELS) {
  const { dir, exp, counts } = load(name);

  test(`${name}: prompt ids and scope masks equal those from the HF tokenizer's offsets (${Object.keys(exp.sets).join(', ')})`, () => {
    const tok = TextTokenizer.load(dir);
    for (const [setName, set] of Object.entries(exp.sets)) {
      const data = loadParallel(join(dir, set.data), set.langs);
      assert.is(data.questions.length, set.questions);
      for (const l of set.langs) {
        set.languages[l]!.prompts.forEach((want, qi) => {
          const q = data.questions[qi]!;
          assert.is(q.id, want.id);
          for (const scope of TEXT_SCOPES) {
            const p = profilePrompt(tok, q.texts[l]!, set.template, scope);
            const where = `${setName}/${l}/${q.id}/${scope}`;
            assert.equal(p.ids, want.ids, `${where}: ids`);
            assert.equal(mask(p.count), want.masks[scope], `${where}: mask`);
            assert.is(p.counted, want.masks[scope].reduce((a, b) => a + b, 0), `${where}: counted`);
          }
        });
      }
    }
  });

  for (const [setName, set] of Object.entries(exp.sets)) {
    test(`${name}: runProfile counts equal HF forward-hook counts (${setName} template, ${set.layout} data, every scope)`, async () => {
      const model = await Model.load(dir, { backend: 'cpu' });
      for (const scope of TEXT_SCOPES) {
        // A small budget for some runs: padded multi-row batches must count as one prompt per pass.
        for (const batchTokens of scope === 'question' ? [4096, 64] : [4096]) {
          const p = await runProfile(model, { data: join(dir, set.data), langs: set.langs, template: set.template, scope, batchTokens, progress: false });
          assert.is(p.json.data.layout, set.layout.startsWith('wide') ? 'wide' : 'long');
          for (const l of set.langs) {
            const where = `${setName}/${scope}/${l} (batch tokens ${batchTokens})`;
            assert.is(p.counts.tokens[l], set.languages[l]!.tokens[scope], `${where}: counted tokens`);
            assert.is(p.json.languages[l]!.tokens, set.languages[l]!.tokens[scope]);
            const want = counts[`counts.${setName}.${scope}.${l}`] as BigInt64Array;
            assert.ok(want, `fixture tensor counts.${setName}.${scope}.${l}`);
            const got = p.counts.counts[l]!;
            assert.is(got.length, exp.layers * exp.intermediate);
            let diff = 0;
            let fired = 0;
            for (let k = 0; k < want.length; k++) {
              if (got[k] !== Number(want[k]!)) diff++;
              fired += got[k]!;
            }
            assert.is(diff, 0, `${where}: ${diff} of ${want.length} neuron counts differ from HF's`);
            assert.ok(fired > 0, `${where}: some gate fired`); // a vacuous all-zero match proves nothing
          }
        }
      }
    });
  }
}

test('mini-ml tokenizer: ids and scope masks of both templates equal those from the HF offsets, boundary-straddling pieces included', () => {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'mini-ml-ref', 'profile-masks.json'), 'utf8')) as {
    cases: { template: TemplateName; question: string; ids: number[]; masks: Record<Scope, number[]> }[];
  };
  const tok = TextTokenizer.load(join(ASSETS, 'mini-ml'));
  assert.ok(ref.cases.length >= 40);
  let straddling = 0;
  for (const c of ref.cases) {
    for (const scope of TEXT_SCOPES) {
      const p = profilePrompt(tok, c.question, c.template, scope);
      assert.equal(p.ids, c.ids, `${c.template} ${JSON.stringify(c.question)}: ids`);
      assert.equal(mask(p.count), c.masks[scope], `${c.template} ${JSON.stringify(c.question)} ${scope}: mask`);
    }
    // "USER: How" -> "▁How": the frame's space and the question's first letters in one piece.
    if (c.template === 'vicuna' && tok.tokens(c.ids).some((t, k) => c.masks.question[k] === 1 && c.masks.question[k - 1] === 0 && t.startsWith('▁') && t.length > 1)) {
      straddling++;
    }
  }
  assert.ok(straddling >= 5, `expected prompts with a piece straddling the frame/question boundary; found ${straddling}`);
});

test.run();
