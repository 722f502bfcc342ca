// Model.dispose(): the weights, training state and mapped checkpoint files are freed at once, not
// when the garbage collector gets to the wrapper; later calls throw a typed error; disposing twice
// is harmless; a call in flight finishes first. On the CPU the loaded weights reference the mapped
// file (not counted as allocated), so the memory check makes a tensor trainable first: its owned
// copy, gradient and moments are allocated bytes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastError } from '../../src/errors';
import { Model } from '../../src/model/model';
import { BackendName, backendMemory, listBackends } from '../../src/native';
import { ASSETS, ROOT } from '../helpers';

const SRC = join(ASSETS, 'stories260K');

/** A private copy of the model, so that its mappings in /proc/self/maps are this test's alone. */
function modelCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'plast-dispose-'));
  for (const f of readdirSync(SRC)) copyFileSync(join(SRC, f), join(dir, f));
  return dir;
}

/** How many mappings of files under `dir` this process holds (null where /proc is absent). */
function mappings(dir: string): number | null {
  if (!existsSync('/proc/self/maps')) return null;
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(dir)).length;
}

/** Bytes a trainable f32 tensor allocates: its owned copy (also the master), gradient, m and v. */
function trainableBytes(m: Model, names: string[]): number {
  return 16 * m.parameterCount(names);
}

function assertDisposedError(err: unknown): void {
  assert.instance(err, PlastError);
  assert.is((err as PlastError).code, 'ERR_INVALID');
  assert.match((err as PlastError).message, /model was disposed/);
}

const BACKENDS = listBackends().filter((b) => b.available).map((b) => b.name as BackendName);

for (const backend of BACKENDS) {
  test(`${backend}: dispose frees the training state and the mapped files; later calls throw ERR_INVALID; twice is harmless`, async () => {
    const dir = modelCopy();
    try {
      const base = backendMemory(backend).inUse;
      const m = await Model.load(dir, { backend });
      if (backend === 'cpu') assert.ok((mappings(dir) ?? 1) > 0, 'the CPU weights reference the mapped file');
      const names = m.layerTensorNames(0);
      await m.setTrainable(names);
      // Other suites' models may be garbage-collected at any point in this process, which only
      // lowers the count: so the checks here are upper bounds (the exact accounting is checked in
      // a fresh process below).
      const trained = backendMemory(backend).inUse;
      const out = await m.forward([{ ids: [1, 403, 407], logitAt: [2] }]);
      assert.is(out.logits[0]!.length, m.config.vocabSize);

      assert.is(m.disposed, false);
      m.dispose();
      assert.is(m.disposed, true);
      const after = backendMemory(backend).inUse;
      assert.ok(after <= trained - trainableBytes(m, names), `dispose freed only ${trained - after} bytes`);
      assert.ok(after <= base, `in use ${after} > baseline ${base} after dispose`);
      if (mappings(dir) !== null) assert.is(mappings(dir), 0, 'the checkpoint is unmapped');

      for (const call of [() => m.forward([{ ids: [1, 2] }]), () => m.setTrainable(names), () => m.read(names[0]!), () => m.zeroGrad()]) {
        try {
          await call();
          assert.unreachable('a call after dispose must throw');
        } catch (err) {
          assertDisposedError(err);
        }
      }
      for (const call of [() => m.trainable(), () => m.memory()]) assert.throws(call, (err: unknown) => (assertDisposedError(err), true));
      m.dispose();
      m[Symbol.dispose]();
      assert.is(m.disposed, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${backend}: dispose while a call is in flight frees the model when that call ends, and the call completes`, async () => {
    const dir = modelCopy();
    try {
      const base = backendMemory(backend).inUse;
      const m = await Model.load(dir, { backend });
      await m.setTrainable(m.layerTensorNames(1));
      const pending = m.forward([{ ids: [1, 403, 407, 300], logitAt: [3] }]);
      m.dispose();
      assert.not.throws(() => m.dispose());
      const out = await pending;
      assert.is(out.logits[0]!.length, m.config.vocabSize);
      assert.ok(backendMemory(backend).inUse <= base, 'in use back to the baseline once the call ended');
      if (mappings(dir) !== null) assert.is(mappings(dir), 0, 'the checkpoint is unmapped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('cpu, fresh process: memory in use returns exactly to its baseline after dispose', () => {
  const dist = join(ROOT, 'dist', 'src');
  const script = `
    const { Model } = require(${JSON.stringify(join(dist, 'model', 'model.js'))});
    const { backendMemory } = require(${JSON.stringify(join(dist, 'native.js'))});
    (async () => {
      const base = backendMemory('cpu').inUse;
      const m = await Model.load(${JSON.stringify(SRC)}, { backend: 'cpu' });
      await m.setTrainable(m.layerTensorNames(0));
      await m.forwardBackward([{ ids: [1, 403, 407], logitAt: [1], labels: [407] }], 1);
      await m.adamw({ lr: 1e-3, step: 1 });
      const trained = backendMemory('cpu').inUse;
      m.dispose();
      console.log(JSON.stringify({ base, trained, after: backendMemory('cpu').inUse, params: m.parameterCount(m.layerTensorNames(0)) }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const { base, trained, after, params } = JSON.parse(r.stdout) as Record<string, number>;
  assert.ok(trained - base >= 16 * params, `in use grew by ${trained - base} bytes`);
  assert.is(after, base);
});

test.run();
