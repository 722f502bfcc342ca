// `plast run` before it writes anything, and which stages a changed configuration invalidates: a
// run that cannot work (no such backend, model or layer) fails at once and leaves --out as it was;
// a changed setting is refused only when a stage holding output depends on it, and --overwrite
// runs just those stages again, reusing the others.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listBackends } from '../../src/native';
import { runPlast } from '../../src/run/run';
import { RunOptions } from '../../src/run/types';
import { ASSETS, plastCli, rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-run-open-'));

const plast = plastCli({ cwd: tmp });

function small(out: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    out: join(tmp, out),
    model: join(ASSETS, 'mini-ml'),
    data: join(ASSETS, 'data'),
    langs: ['en', 'ar', 'zh'],
    backend: 'cpu',
    profileLimit: 16,
    trainLimit: 16,
    evalPerLang: 2,
    batch: 8,
    epochs: 1,
    lr: 1e-3,
    progress: false,
    ...extra,
  };
}

/** Runs until the log says `at`, then aborts: the run ends with ERR_INTERRUPTED at the next stage
 * boundary (or inside a profile). Returns the log. */
async function runUntil(o: RunOptions, at: RegExp): Promise<string[]> {
  const ctl = new AbortController();
  const log: string[] = [];
  await rejects(runPlast({ ...o, signal: ctl.signal, log: (m) => (log.push(m), at.test(m) && ctl.abort()) }), 'ERR_INTERRUPTED');
  return log;
}

const stagesDone = (out: string): string[] => Object.keys(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).stages);

test('plast run: no such backend, model or layer fails at once and writes nothing', () => {
  const out = join(tmp, 'walk');
  const cuda = listBackends().find((b) => b.name === 'cuda');
  if (!cuda?.available) {
    const r = plast('run', '--backend', 'cuda', '--out', out);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /ERR_NO_DEVICE/);
    assert.not.ok(existsSync(out), '--out is not created');
  }
  const m = plast('run', '--model', '/does/not/exist', '--out', out);
  assert.is(m.status, 1, m.stderr);
  assert.match(m.stderr, /ERR_IO.*\/does\/not\/exist/);
  assert.not.ok(existsSync(out));
  const l = plast('run', '--layers', '0-99', '--out', out);
  assert.is(l.status, 2, l.stderr);
  assert.match(l.stderr, /ERR_INVALID.*the model has 8 layers/);
  assert.not.ok(existsSync(out));
  const d = plast('run', '--eval-data', join(tmp, 'nope.tsv'), '--out', out);
  assert.is(d.status, 1, d.stderr);
  assert.match(d.stderr, /ERR_IO.*nope\.tsv/);
  assert.not.ok(existsSync(out));
});

test('run: a setting no finished stage depends on is taken over; one a finished stage depends on is refused, and --overwrite redoes just that stage', async () => {
  const o = small('split-only');
  // The split is done, the profile interrupted.
  await runUntil(o, /^\[profile\]$/);
  assert.equal(stagesDone(o.out), ['split']);
  // tau: only the profile depends on it, and it is not done: taken over, the split reused.
  const log = await runUntil({ ...o, tau: 0.3 }, /^\[profile\]$/);
  assert.ok(log.includes('[split] done in an earlier run; reusing its output'), log.join('\n'));
  assert.ok(log.some((m) => /run\.json: tau: null -> 0\.3 \(no stage done so far depends on it\)/.test(m)), log.join('\n'));
  assert.is(JSON.parse(readFileSync(join(o.out, 'run.json'), 'utf8')).config.tau, 0.3);
  // seed: the split depends on it.
  const split = statSync(join(o.out, 'data', 'train.jsonl')).mtimeMs;
  const err = await rejects(runPlast({ ...o, tau: 0.3, seed: 1 }), 'ERR_MISMATCH', /seed: 0 -> 1/);
  assert.match(err.message, /stages split \(seed\) depend on it/);
  assert.is(statSync(join(o.out, 'data', 'train.jsonl')).mtimeMs, split, 'a refused run changes nothing');
  const again = await runUntil({ ...o, tau: 0.3, seed: 1, overwrite: true }, /^\[profile\]$/);
  assert.ok(again.includes('[split] to run again (seed changed); its output is removed'), again.join('\n'));
  assert.ok(again.includes('[split]'));
});

test('run: a finished profile is reused when the training settings change, refused when its own change; a started training is refused its settings', async () => {
  const o = small('profiled', { layers: [6, 7] });
  // Split and profile done; stopped before evalBefore.
  await runUntil(o, /selected layers/);
  assert.equal(stagesDone(o.out), ['split', 'profile']);
  const profiled = statSync(join(o.out, 'profile', 'profile.json')).mtimeMs;
  await rejects(runPlast({ ...o, layers: [0, 99] }), 'ERR_INVALID', /the model has 8 layers/);
  // lr: nothing done depends on it. The training starts and stops after one step.
  const r = await runPlast({ ...o, lr: 2e-3, stopAfter: 1 });
  assert.is(r.status, 'stopped');
  assert.equal(r.skipped, ['split', 'profile']);
  // Now a training with a checkpoint depends on lr, and on the split's settings.
  await rejects(runPlast({ ...o, lr: 3e-3 }), 'ERR_MISMATCH', /train \(lr\)/);
  const both = await rejects(runPlast({ ...o, lr: 2e-3, evalPerLang: 3 }), 'ERR_MISMATCH');
  assert.match(both.message, /split \(evalPerLang\), evalBefore \(the split stage\), train \(the split stage\)/);
  // tau changes the profile, which the training does not read (--layers): --overwrite redoes the
  // profile alone; the split, the evaluation and the started training are kept.
  const t = await runPlast({ ...o, lr: 2e-3, tau: 0.3, overwrite: true, stopAfter: 1 });
  assert.equal(t.skipped, ['split', 'evalBefore']);
  assert.ok(statSync(join(o.out, 'profile', 'profile.json')).mtimeMs > profiled, 'the profile ran again');
  assert.is(t.train.step, 1, 'the training continued from its checkpoint (stopAfter 1: nothing more to do)');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
