// kill -9 at several moments of a training run (after some steps, while a checkpoint is being
// written, while the export is being written), then `plast train --resume`: the export (the HF
// checkpoint and the delta file) must be byte for byte the export of the run that was never
// interrupted. The killed run's lock and temp directories must not stand in the way.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ASSETS, ROOT } from '../helpers';
import { cleanup, snapshot, tempDir } from './harness';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const root = tempDir('kill');
const DATA = join(root, 'pairs.jsonl');
writeFileSync(
  DATA,
  Array.from({ length: 16 }, (_, i) => JSON.stringify({ lang: 'ar', source: `once upon a time ${i} there was a cat`, target: `the cat ${i} was happy` })).join('\n') + '\n',
);
const ENV = { ...process.env, PLAST_NO_PROGRESS: '1' };
const args = (out: string): string[] => [CLI, 'train', '--model', join(ASSETS, 'stories260K'), '--data', DATA, '--layers', '0,1', '--batch', '2', '--epochs', '1',
  '--lr', '1e-3', '--save-every', '1', '--keep', '2', '--backend', 'cpu', '--out', out];

/** The export: every file of model/ and delta.safetensors. */
const exported = (out: string): string => `${snapshot(join(out, 'model'))}/${snapshot(join(out, 'delta.safetensors'))}`;

/** Runs a training and kills it (SIGKILL) as soon as `when(out)` holds; says whether it did. */
function killWhen(out: string, when: (out: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(out), { env: ENV, stdio: 'ignore' });
    let killed = false;
    const poll = setInterval(() => {
      try {
        if (!killed && when(out)) {
          killed = true;
          child.kill('SIGKILL');
        }
      } catch {
        // the directory is changing under us: look again
      }
    }, 1);
    child.on('exit', () => {
      clearInterval(poll);
      resolve(killed);
    });
  });
}

const steps = (out: string): number => {
  const f = join(out, 'train.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('"type":"step"')).length : 0;
};
const entries = (out: string): string[] => (existsSync(out) ? readdirSync(out) : []);

let reference = '';
test.before(() => {
  const out = join(root, 'reference');
  const r = spawnSync(process.execPath, args(out), { env: ENV, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  reference = exported(out);
});

const MOMENTS: [string, (out: string) => boolean][] = [
  ['after three steps', (o) => steps(o) >= 3],
  ['while a checkpoint is written', (o) => steps(o) >= 2 && entries(o).some((e) => /^\.checkpoint-\d+\..*\.tmp$/.test(e))],
  ['while the export is written', (o) => entries(o).some((e) => /^\.(model|delta\.safetensors)\..*\.tmp$/.test(e))],
];

for (const [name, when] of MOMENTS) {
  test(`kill -9 ${name}, then --resume: the export is byte-identical to the uninterrupted run's`, async () => {
    const out = join(root, name.replace(/\W+/g, '-'));
    const hit = await killWhen(out, when);
    if (!hit) console.log(`  note: the run ended before the moment "${name}" was seen; resuming a finished run instead`);
    const r = spawnSync(process.execPath, [CLI, 'train', '--resume', out], { env: ENV, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.is(exported(out), reference);
    // Nothing of the killed run is left: no lock, no temp directory.
    assert.equal(entries(out).filter((e) => e.endsWith('.tmp') || e.endsWith('.tmp.old')), []);
    assert.not.ok(existsSync(join(root, `.${out.split('/').pop()}.lock`)), 'the lock is released');
  });
}

test.after(cleanup(root));
test.run();
