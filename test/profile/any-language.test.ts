// Any language, not a fixed table: codes Intl.DisplayNames can name, and a made-up language named
// in a languages.json beside the data, carried end to end through profile, train and eval on the
// bundled model with small generated data; the training prompt says its name.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findLanguage, language, parseLanguageList, parseLanguageOption, registerLanguage } from '../../src/data/languages';
import { encodePair, loadPairs } from '../../src/data/pairs';
import { evaluate } from '../../src/eval/evaluate';
import { Model } from '../../src/model/model';
import { runProfile } from '../../src/profile/profile';
import { train } from '../../src/train/train';
import { ASSETS, rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-lang-'));

test('codes beyond the table: ISO 639-1/639-3 and BCP-47 named by Intl; the table keeps its codes', async () => {
  assert.is(language('fil').name, 'Filipino');
  assert.is(language('yue').name, 'Cantonese');
  assert.is(language('sw-KE').name, 'Swahili (Kenya)');
  assert.is(language('cat').code, 'ca'); // ISO 639-3 -> Intl's canonical code
  assert.is(language('cat'), language('ca'));
  assert.is(language('arb').code, 'ar'); // the table first
  assert.equal(parseLanguageList('en,fil,hu'), ['en', 'fil', 'hu']);
  await rejects(() => parseLanguageList('en,xq'), 'ERR_LANG', /languages\.json beside the data .*--language xq=Name/);
  assert.is(findLanguage('source'), undefined);
});

test('--language CODE=Name and a second name for a code', async () => {
  assert.is(parseLanguageOption('xq=Quillish').name, 'Quillish');
  assert.equal(parseLanguageList('en,xq'), ['en', 'xq']);
  assert.is(registerLanguage('xq', 'Quillish').name, 'Quillish');
  await rejects(() => registerLanguage('xq', 'Other'), 'ERR_LANG', /already Quillish/);
  await rejects(() => registerLanguage('ar', 'Arabish'), 'ERR_LANG', /already Arabic/);
  await rejects(() => parseLanguageOption('xq'), 'ERR_LANG', /CODE=Name/);
});

test('a made-up language from languages.json: profile, train and eval on the bundled model', async () => {
  const dir = join(tmp, 'data');
  mkdirSync(dir);
  writeFileSync(join(dir, 'languages.json'), JSON.stringify([{ code: 'xa', name: 'Vessic' }]));
  // Vessic: each English word reversed, with a suffix (enough to differ from English in the model).
  const words = ['the', 'river', 'city', 'market', 'opened', 'early', 'today', 'with', 'new', 'boats', 'many', 'people', 'came', 'from', 'north'];
  const rows: string[] = [];
  for (let i = 0; i < 16; i++) {
    const en = Array.from({ length: 5 + (i % 4) }, (_, k) => words[(i * 7 + k * 3) % words.length]!).join(' ');
    const xa = en.split(' ').map((w) => [...w].reverse().join('') + 'ek').join(' ');
    rows.push(JSON.stringify({ id: `s${i}`, en: en[0]!.toUpperCase() + en.slice(1) + '.', xa: xa + '.' }));
  }
  const file = join(dir, 'vessic.jsonl');
  writeFileSync(file, rows.join('\n') + '\n');

  const m = await Model.load(join(ASSETS, 'mini-ml'), { backend: 'cpu' });
  try {
    const p = await runProfile(m, { data: file, langs: ['en', 'xa'], limit: 12, progress: false });
    assert.equal(p.json.params.langs, ['en', 'xa']);
    assert.is(p.json.params.template, 'plain'); // mini-ml has no chat template and is no LLaVA
    assert.ok(p.json.selection.selected.length > 0);

    const pairs = loadPairs(file).pairs;
    assert.ok(pairs.length > 0 && pairs.every((x) => x.lang === 'xa'));
    const enc = encodePair(m.tokenizer, 'plain', pairs[0]!, 2);
    assert.match(m.tokenizer.decode(enc.ids.slice(0, enc.targetStart)), /Translate this from Vessic to English:\nVessic: /);

    const r = await train(m, { out: join(tmp, 'train'), data: file, layers: p.json.selection.selected, batch: 4, epochs: 1, limit: 8, lr: 1e-4, export: false, profileFormat: p.json.params.template, progress: false });
    assert.is(r.status, 'completed');
    assert.equal(r.data.perLang, { xa: 8 });
    assert.is(r.config.template, 'plain');
    await rejects(() => train(m, { out: join(tmp, 'train2'), data: file, layers: [0], template: 'vicuna', profileFormat: 'plain', limit: 4, batch: 4, export: false, progress: false }), 'ERR_MISMATCH', /--mix-formats/);

    const e = await evaluate(m, { data: file, kind: 'pairs', limit: 4 });
    assert.is(e.template, 'plain');
    assert.ok(e.nll && e.nll.perLang['xa'] && e.nll.perLang['xa'].pairs === 4);
  } finally {
    m.dispose();
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
