// plast run's stored configuration against a rerun's, without running a model: the vision options
// (--image-aspect, --vision-tower) are settings like the others, so changing one between two runs
// into one --out is refused (or, with --overwrite, redoes the stages that ran a model) rather than
// mixing images fitted two ways; a run.json written before they were recorded still matches a
// rerun that does not give them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { changedSettings, invalidatedStages, openRun } from '../../src/run/open';
import { resolveRunConfig } from '../../src/run/run';
import { RunConfig, RunState, STAGES } from '../../src/run/types';
import { rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-run-settings-'));
const config = (o: { imageAspect?: 'crop' | 'pad'; visionTower?: string } = {}): RunConfig => resolveRunConfig({ out: join(tmp, 'x'), ...o });
/** A finished run as run.json records it (every stage done, the models ran on the CPU). */
const done = (c: RunConfig): RunState => ({ format: 'plast-run', formatVersion: 1, config: c, stages: Object.fromEntries(STAGES.map((s) => [s, { done: true, seconds: 1 }])), backendUsed: 'cpu' });
/** run.json from an engine that did not record the vision options. */
function older(c: RunConfig): RunConfig {
  const { imageAspect: _a, visionTower: _t, ...rest } = c;
  return rest as RunConfig;
}

test('the vision options are recorded as given (null: not given, the tower as an absolute path)', () => {
  const c = config();
  assert.is(c.imageAspect, null);
  assert.is(c.visionTower, null);
  assert.is(config({ imageAspect: 'pad' }).imageAspect, 'pad');
  assert.is(config({ visionTower: 'clip' }).visionTower, resolve('clip'));
});

test('a changed --image-aspect or --vision-tower is a changed setting; an older run.json without them matches a rerun without them', () => {
  const out = join(tmp, 'compare');
  assert.equal(changedSettings(done(older(config())), config(), 'cpu'), []);
  assert.equal(changedSettings(done(config({ imageAspect: 'pad' })), config({ imageAspect: 'pad' }), 'cpu'), []);
  assert.equal(changedSettings(done(older(config())), config({ imageAspect: 'pad' }), 'cpu'), [{ key: 'imageAspect', from: null, to: 'pad' }]);
  assert.equal(changedSettings(done(config({ imageAspect: 'crop' })), config({ imageAspect: 'pad' }), 'cpu'), [{ key: 'imageAspect', from: 'crop', to: 'pad' }]);
  assert.equal(changedSettings(done(config({ visionTower: 'clip-a' })), config({ visionTower: 'clip-b' }), 'cpu'), [{ key: 'visionTower', from: resolve('clip-a'), to: resolve('clip-b') }]);
  // Every stage that runs a model depends on them; the split (text only) does not.
  for (const key of ['imageAspect', 'visionTower'] as const) {
    const stages = invalidatedStages(done(config()), out, [{ key, from: null, to: 'x' }]);
    assert.equal(
      stages.map((s) => s.stage),
      ['profile', 'evalBefore', 'train', 'evalAfter', 'profileAfter', 'report'],
    );
    assert.ok(stages.filter((s) => s.stage !== 'report').every((s) => s.because.includes(key)), key);
  }
});

test('rerunning into one --out: the same vision options resume, another is refused naming it, --overwrite keeps the split', async () => {
  const out = join(tmp, 'run');
  mkdirSync(out, { recursive: true });
  const stored = done(older(config()));
  const save = (): void => writeFileSync(join(out, 'run.json'), JSON.stringify(stored));
  save();
  const logs: string[] = [];
  const same = openRun(out, config(), 'cpu', false, (m) => logs.push(m));
  assert.equal(Object.keys(same.stages), STAGES);
  assert.equal(logs, []);
  await rejects(() => openRun(out, config({ imageAspect: 'pad' }), 'cpu', false, () => {}), 'ERR_MISMATCH', /imageAspect: null -> "pad"/);
  await rejects(() => openRun(out, config({ visionTower: 'clip' }), 'cpu', false, () => {}), 'ERR_MISMATCH', /visionTower: null -> ".*clip"/);
  save();
  const again = openRun(out, config({ imageAspect: 'pad' }), 'cpu', true, () => {});
  assert.equal(Object.keys(again.stages), ['split']);
  assert.is(again.config.imageAspect, 'pad');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
