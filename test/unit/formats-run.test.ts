// One conversation format per run and per training: plast run refuses a profile format that
// differs from the training's, and train() refuses a profile selection made in another format,
// unless mixing is asked for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveRunConfig } from '../../src/run/run';
import { resolveConfig } from '../../src/train/options';
import { rejects } from '../helpers';

test('plast run: one format unless --mix-formats; the profile follows --template by default', async () => {
  await rejects(() => resolveRunConfig({ out: '/tmp/x', template: 'vicuna', profileTemplate: 'plain' }), 'ERR_MISMATCH', /--mix-formats/);
  const c = resolveRunConfig({ out: '/tmp/x', template: 'vicuna' });
  assert.is(c.profileTemplate, 'vicuna');
  assert.is(resolveRunConfig({ out: '/tmp/x' }).template, 'auto');
  assert.is(resolveRunConfig({ out: '/tmp/x', template: 'vicuna', profileTemplate: 'plain', mixFormats: true }).profileTemplate, 'plain');
});

test('train: a profile made in another format is refused unless mixFormats', async () => {
  const model = { dir: '/m', config: { numLayers: 4 } };
  const base = { data: '/d.jsonl', layers: [0], template: 'vicuna' as const };
  await rejects(() => resolveConfig(model, { ...base, profileFormat: 'plain' }), 'ERR_MISMATCH', /profile made with the plain format, but the training uses vicuna/);
  assert.is(resolveConfig(model, { ...base, profileFormat: 'vicuna' }).template, 'vicuna');
  assert.is(resolveConfig(model, { ...base, profileFormat: 'plain', mixFormats: true }).template, 'vicuna');
});

test.run();
