// --overwrite that fails leaves the old run whole: the old log, checkpoints and export move aside
// and come back when the new run fails before a checkpoint of its own; once the new run has one,
// the old run is gone (it would be a mix of two runs otherwise).
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { train } from '../../src/train/train';
import { ASSETS } from '../helpers';

const MINI = join(ASSETS, 'mini-ml');
const DATA = join(ASSETS, 'data', 'xquad_questions_train.jsonl');

/** Every file under `dir` (relative path -> bytes as hex digest-free string). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), join(rel, e.name));
      else out.set(join(rel, e.name), readFileSync(join(d, e.name)));
    }
  };
  walk(dir, '');
  return out;
}

test('a failed --overwrite restores the old run byte for byte; a new checkpoint retires it', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'plast-overwrite-')), 'run');
  const m = await Model.load(MINI, { backend: 'cpu' });
  try {
    const common = { data: DATA, langs: ['ar', 'tr'], limit: 8, batch: 4, epochs: 1, lr: 1e-3, warmup: 0, template: 'plain' as const };
    await train(m, { ...common, out, layers: [7] });
    const before = snapshot(out);
    assert.ok(before.has('train.jsonl') && [...before.keys()].some((k) => k.startsWith('model')));
    // The new run fails at its first step, before any checkpoint of its own.
    await m.setTrainable([]);
    let failed: unknown;
    try {
      await train(m, { ...common, out, layers: [6], overwrite: true, onStep: () => { throw new Error('planted failure'); } });
    } catch (err) {
      failed = err;
    }
    assert.match(String(failed), /planted failure/);
    const after = snapshot(out);
    assert.equal([...after.keys()].sort(), [...before.keys()].sort());
    for (const [k, v] of before) assert.ok(after.get(k)!.equals(v), `${k} changed`);
    assert.not.ok(existsSync(join(out, '.replaced')));
    // A new run that gets to its checkpoints replaces the old one for good.
    await m.setTrainable([]);
    await train(m, { ...common, out, layers: [6], overwrite: true });
    const log = readFileSync(join(out, 'train.jsonl'), 'utf8');
    assert.match(log, /"layers":\[6\]/);
    assert.not.match(log, /"layers":\[7\]/);
    assert.not.ok(existsSync(join(out, '.replaced')));
  } finally {
    m.dispose();
  }
});

test.run();
