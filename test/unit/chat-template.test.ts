// Conversation formats against HF transformers (test/fixtures/templates, from
// scripts/make_template_fixtures.py): the tokenizer's own chat template renders as
// apply_chat_template renders it and tokenizes to its ids; a profile prompt and a training pair
// built from segments give the same ids, with the question and the English target on exact spans;
// 'auto' resolves per model; tokenizer_config's add_bos_token/add_eos_token do what transformers
// 5.18 does with them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChatMessage } from '../../src/data/chat-template';
import { encodePair } from '../../src/data/pairs';
import { encodeSegments } from '../../src/data/segments';
import { PromptFormat, resolveFormat, translationPrompt, userPromptIds, userTurn } from '../../src/data/templates';
import { TextTokenizer } from '../../src/model/tokenizer';
import { ASSETS, FIXTURES, rejects } from '../helpers';

interface Case {
  name: string;
  messages: ChatMessage[];
  generation: boolean;
  text?: string;
  ids?: number[];
  error?: string;
}
interface Expected {
  template: 'jinja' | 'config' | 'json';
  eos_id: number;
  cases: Case[];
  plain: { text: string; ids: number[]; noSpecial: number[] }[];
}

const NAMES = ['chatml', 'llama3', 'mistral', 'mistral-llama', 'llava'];
// llava-hf's processor template ends the assistant turn with a space, not EOS (LLaVA's own trainer
// closes it with </s>, which the engine appends).
const TURN_ENDS_WITH_EOS = new Set(['chatml', 'llama3', 'mistral', 'mistral-llama']);
const FILES = { jinja: 'chat_template.jinja', config: 'tokenizer_config.json', json: 'chat_template.json' };
const load = (name: string): { dir: string; tok: TextTokenizer; e: Expected; format: PromptFormat } => {
  const dir = join(FIXTURES, 'templates', name);
  const tok = TextTokenizer.load(dir);
  const format = resolveFormat('auto', { dir, tokenizer: tok, config: { modelType: 'llama' } });
  return { dir, tok, e: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected, format };
};

const SOURCE = 'Panterler savunması kaç puan verdi?';
const TARGET = 'How many points did the Panthers defense give up?';

for (const name of NAMES) {
  test(`${name}: the chat template renders every conversation as HF apply_chat_template, and tokenizes to its ids`, () => {
    const { dir, tok, e, format } = load(name);
    assert.is(format.name, 'chat');
    assert.ok(e.cases.length >= 14);
    assert.is(tok.chatTemplate!.file, join(dir, FILES[e.template]));
    for (const c of e.cases) {
      if (c.error !== undefined) {
        assert.throws(() => tok.chatTemplate!.renderContaining(c.messages, c.generation, c.messages[0]!.content), (err: Error & { code?: string }) => err.code === 'ERR_UNSUPPORTED' && err.message.includes('alternate'));
        continue;
      }
      // llava's template reads content as parts: the string form prints no text, the parts form does
      const text = tok.chatTemplate!.renderContaining(c.messages, c.generation, c.messages[0]!.content);
      assert.is(text, c.text, `${name} ${c.name} generation=${c.generation}: text`);
      assert.equal(tok.encode(text, { addSpecialTokens: false }), c.ids, `${name} ${c.name}: ids`);
    }
  });

  test(`${name}: a profile prompt from segments has HF's ids, with the question on its exact tokens`, () => {
    const { tok, e, format } = load(name);
    for (const c of e.cases.filter((x) => x.generation && x.text !== undefined && x.messages.length === 1)) {
      const q = c.messages[0]!.content;
      if (q !== q.trim()) {
        // llama3's template trims the content: the question's own text is no longer in the prompt
        if (name === 'llama3') assert.throws(() => userTurn(format, [{ text: q, tag: 'question' }], 'frame'), /changes the text/);
        continue;
      }
      const enc = encodeSegments(tok, userTurn(format, [{ text: q, tag: 'question' as const }], 'frame'));
      assert.equal(enc.ids, c.ids, `${name} ${c.name}: ids`);
      assert.equal(userPromptIds(tok, format, q), c.ids, `${name} ${c.name}: generation prompt`);
      const span = enc.ids.filter((_, k) => enc.tags[k] === 'question');
      assert.is(tok.decode(span), q, `${name} ${c.name}: question span`);
    }
  });

  test(`${name}: a training pair has HF's ids up to the end of the target, then EOS; the loss span is exactly the English tokens`, () => {
    const { tok, e, format } = load(name);
    const ref = e.cases.find((c) => c.name === 'pair')!;
    const p = encodePair(tok, format, { lang: 'tr', source: SOURCE, target: TARGET, file: 'x', line: 1 }, e.eos_id);
    assert.equal(p.ids.slice(0, -1), ref.ids!.slice(0, p.ids.length - 1), 'prefix of HF ids');
    assert.is(p.ids[p.ids.length - 1], e.eos_id);
    if (TURN_ENDS_WITH_EOS.has(name)) assert.is(ref.ids![p.ids.length - 1], e.eos_id, "the template's end of turn is the tokenizer's EOS");
    assert.is(tok.decode(p.ids.slice(p.targetStart, -1)), TARGET);
    // the target's tokens are those of the English sentence alone, as the template renders it
    const seg = encodeSegments(tok, translationPrompt(format, 'Turkish', SOURCE, TARGET));
    const target = seg.ids.filter((_, k) => seg.tags[k] === 'target');
    assert.equal(p.ids.slice(p.targetStart, -1), target);
    assert.is(seg.tags.filter((t) => t === 'source').length > 0, true);
  });

  test(`${name}: plain text ids as HF's (tokenizer_config add_bos_token/add_eos_token as transformers 5.18 treats them)`, () => {
    const { tok, e } = load(name);
    for (const c of e.plain) {
      assert.equal(tok.encode(c.text), c.ids, JSON.stringify(c.text));
      assert.equal(tok.encode(c.text, { addSpecialTokens: false }), c.noSpecial, JSON.stringify(c.text));
    }
  });
}

test("the English cue: 'user' keeps \"\\nEnglish:\" at the end of the user turn, 'assistant' leaves it out", () => {
  const { tok, e, format } = load('chatml');
  const withCue = e.cases.find((c) => c.name === 'translation-cue' && c.generation)!;
  const segs = translationPrompt({ ...format, englishCue: 'user' }, 'Turkish', SOURCE, TARGET);
  const prompt = segs.filter((s) => s.tag !== 'target').map((s) => s.text).join('');
  assert.is(prompt, withCue.text);
  const plainSegs = translationPrompt({ ...format, englishCue: 'assistant' }, 'Turkish', SOURCE, TARGET);
  assert.is(plainSegs.map((s) => s.text).join('').includes('\nEnglish:'), false);
  assert.ok(tok.decode(encodeSegments(tok, segs).ids).includes('\nEnglish:'));
});

test('plain and vicuna: the loss span is exactly the target tokens, with and without the cue', () => {
  const tok = TextTokenizer.load(join(ASSETS, 'mini-ml'));
  for (const f of ['plain', 'vicuna'] as const) {
    for (const englishCue of ['user', 'assistant'] as const) {
      const p = encodePair(tok, { name: f, englishCue }, { lang: 'tr', source: SOURCE, target: TARGET, file: 'x', line: 1 }, 2);
      assert.is(tok.decode(p.ids.slice(p.targetStart, -1)).trim(), TARGET, `${f} ${englishCue}`);
      assert.ok(!tok.decode(p.ids.slice(0, p.targetStart)).includes(TARGET.slice(0, 8)), `${f} ${englishCue}: no target text in the prompt`);
      const prompt = tok.decode(p.ids.slice(0, p.targetStart));
      assert.is(prompt.trimEnd().endsWith('English:') || prompt.trimEnd().endsWith('ASSISTANT:'), true, prompt);
      assert.is(prompt.includes('\nEnglish:'), f === 'plain' || englishCue === 'user', `${f} ${englishCue}: ${JSON.stringify(prompt)}`);
    }
  }
});

test('auto: chat with a template, vicuna for LLaVA / Vicuna checkpoints without one, else plain; chat without a template is refused', async () => {
  const tok = TextTokenizer.load(join(ASSETS, 'mini-ml'));
  const m = (dir: string, modelType: string) => ({ dir, tokenizer: tok, config: { modelType } });
  assert.is(resolveFormat('auto', m('/m/mini-ml', 'llama')).name, 'plain');
  assert.is(resolveFormat('auto', m('/m/llava-1.5-7b-hf', 'llava')).name, 'vicuna');
  assert.is(resolveFormat('auto', m('/m/vicuna-7b-v1.5', 'llama')).name, 'vicuna');
  assert.is(resolveFormat('plain', m('/m/llava', 'llava')).name, 'plain');
  await rejects(() => resolveFormat('chat', m('/m/mini-ml', 'llama')), 'ERR_UNSUPPORTED', /no chat_template/);
  const chat = TextTokenizer.load(join(FIXTURES, 'templates', 'chatml'));
  assert.is(resolveFormat('auto', { dir: '/m/llava', tokenizer: chat, config: { modelType: 'llava' } }).name, 'chat');
});

test.run();
