// `plast run` holds one model at a time: the base model's weights and training state are freed
// (Model.dispose) before the tuned export is loaded, and nothing is left when the run returns.
// The backend's bytes in use are read at the moment the stage after training starts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backendMemory } from '../../src/native';
import { runPlast } from '../../src/run/run';
import { ASSETS } from '../helpers';

test('run: the base model is freed before the tuned export loads; nothing is held after the run', async () => {
  const baseline = backendMemory('cpu').inUse;
  const seen: Record<string, number> = {};
  const r = await runPlast({
    out: join(mkdtempSync(join(tmpdir(), 'plast-run-mem-')), 'run'),
    model: join(ASSETS, 'mini-ml'),
    data: join(ASSETS, 'data'),
    langs: ['en', 'ar'],
    backend: 'cpu',
    profileLimit: 8,
    trainLimit: 8,
    evalPerLang: 2,
    batch: 4,
    epochs: 1,
    progress: false,
    log: (line: string) => {
      const stage = /^\[(\w+)\]/.exec(line)?.[1];
      if (stage) seen[stage] = backendMemory('cpu').inUse;
    },
  });
  assert.is(r.status, 'completed');
  assert.ok(seen['train'] !== undefined && seen['evalAfter'] !== undefined, JSON.stringify(seen));
  // Training made trainable copies, fp32 masters and moments (megabytes); by the time the next
  // stage starts they are gone with the base model, before the tuned export is loaded.
  assert.ok(seen['evalAfter']! <= baseline, `in use at evalAfter ${seen['evalAfter']} > baseline ${baseline}`);
  assert.ok(backendMemory('cpu').inUse <= baseline, 'nothing held after the run');
});

test.run();
