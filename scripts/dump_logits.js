#!/usr/bin/env node
// Dumps the engine's logits for a few prompts, for scripts/check_export.py to compare with HF:
//   node scripts/dump_logits.js --model DIR --out FILE.safetensors [--prompt TEXT]... [--backend cpu]
// Writes ids.<i> (I32) and logits.<i> (F32, every position x vocab) per prompt. Needs `npm run build`.
'use strict';
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'src');
const { Model } = require(path.join(dist, 'model', 'model'));
const { writeSafetensors, bytesOf } = require(path.join(dist, 'model', 'safetensors'));

const DEFAULT_PROMPTS = [
  'Translate this from Russian to English:\nRussian: Сколько очков уступила защита Пэнтерс?\nEnglish: How many points did the Panthers defense surrender?',
  'Translate this from Arabic to English:\nArabic: كم نقطة تخلى عنها دفاع البانثرز؟\nEnglish:',
  '黑豹队的防守丢了多少分？ The Panthers defense',
];

function args() {
  const a = process.argv.slice(2);
  const o = { prompts: [], backend: 'cpu' };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--model') o.model = a[++i];
    else if (a[i] === '--out') o.out = a[++i];
    else if (a[i] === '--prompt') o.prompts.push(a[++i]);
    else if (a[i] === '--backend') o.backend = a[++i];
    else throw new Error(`unknown argument ${a[i]}`);
  }
  if (!o.model || !o.out) throw new Error('usage: dump_logits.js --model DIR --out FILE.safetensors [--prompt TEXT]...');
  if (o.prompts.length === 0) o.prompts = DEFAULT_PROMPTS;
  return o;
}

(async () => {
  const o = args();
  const model = await Model.load(o.model, { backend: o.backend });
  const V = model.config.vocabSize;
  const tensors = [];
  for (const [i, p] of o.prompts.entries()) {
    const ids = model.tokenizer.encode(p);
    const r = await model.forward([{ ids, logitAt: ids.map((_, t) => t) }]);
    tensors.push(
      { name: `ids.${i}`, dtype: 'I32', shape: [ids.length], data: bytesOf(Int32Array.from(ids)) },
      { name: `logits.${i}`, dtype: 'F32', shape: [ids.length, V], data: bytesOf(r.logits[0]) },
    );
  }
  writeSafetensors(o.out, tensors, { model: path.resolve(o.model), prompts: JSON.stringify(o.prompts) });
  console.log(`wrote ${o.prompts.length} prompts' logits (${model.backend}) to ${o.out}`);
})().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
