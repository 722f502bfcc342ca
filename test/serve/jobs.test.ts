// Jobs over `plast serve` (real server processes): progress notifications in order with
// monotonic counters, the device queue with positions, a profile cancelled mid-way (no output
// directory), a training cancelled mid-way (a checkpoint that resume continues bit-identically),
// select and eval returning what their CLI commands print with --json, and a second job on an
// output a running job writes refused.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProgressValue, connect } from '../../src/client';
import { ASSETS } from '../helpers';
import { ENV, rpcFails } from './helpers';

const MODEL = join(ASSETS, 'mini-ml');
const XQUAD = join(ASSETS, 'data', 'xquad_questions_train.jsonl');
const NTREX = join(ASSETS, 'data', 'ntrex128_train.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'plast-serve-jobs-'));

/** Counters never go back within a stage. */
function assertMonotonic(events: ProgressValue[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    if (e.done === undefined) continue;
    const prev = last.get(e.stage);
    assert.ok(prev === undefined || e.done >= prev, `${e.stage}: ${e.done} after ${prev}`);
    last.set(e.stage, e.done);
  }
}

test('profile: progress in order (load, then profile batches up to the total), the queue tells the second job its position; select re-selects', async () => {
  const c = await connect({ env: ENV });
  try {
    const ev1: ProgressValue[] = [];
    const ev2: ProgressValue[] = [];
    const params = { model: MODEL, data: XQUAD, langs: 'en,ar,tr,ru,zh', limit: 12, batchTokens: 256, backend: 'cpu' as const, plots: false };
    const [a, b] = await Promise.all([
      c.call('profile', { ...params, out: join(tmp, 'p1') }, { onProgress: (v) => ev1.push(v) }),
      c.call('profile', { ...params, out: join(tmp, 'p2') }, { onProgress: (v) => ev2.push(v) }),
    ]);
    const p1 = JSON.parse(readFileSync(join(tmp, 'p1', 'profile.json'), 'utf8')) as { selection: unknown; stats: unknown };
    assert.equal((a as { selection: unknown }).selection, p1.selection, 'the result is profile.json');
    assert.equal((b as { stats: unknown }).stats, p1.stats, 'the same profile twice');
    const stages = ev1.map((e) => e.stage).filter((s, i, xs) => s !== xs[i - 1]);
    assert.equal(stages, ['load', 'profile'], JSON.stringify(ev1));
    assertMonotonic(ev1);
    const lastBatch = ev1.filter((e) => e.stage === 'profile').pop()!;
    assert.is(lastBatch.done, lastBatch.total);
    assert.ok(typeof lastBatch.tokensPerSecond === 'number' && lastBatch.tokensPerSecond > 0);
    assert.ok('etaSeconds' in lastBatch);
    // The second waited behind the first: told position 1 before it loaded anything.
    assert.equal(ev2[0], { stage: 'queued', position: 1 });
    assert.is(ev2.findIndex((e) => e.stage === 'queued'), 0);
    assertMonotonic(ev2);

    const sel = await c.call('select', { profile: join(tmp, 'p1'), minLayers: 2, out: join(tmp, 'p1-sel'), plots: false });
    const written = JSON.parse(readFileSync(join(tmp, 'p1-sel', 'profile.json'), 'utf8')) as { selection: { selected: number[] } };
    assert.equal(sel, written.selection);
    assert.ok(written.selection.selected.length >= 2);
  } finally {
    await c.close();
  }
});

test('cancel a profile mid-way: -32800 ERR_INTERRUPTED, no output directory', async () => {
  const c = await connect({ env: ENV });
  try {
    const out = join(tmp, 'cancelled-profile');
    const ctl = new AbortController();
    let batches = 0;
    const err = await rpcFails(
      c.call('profile', { model: MODEL, data: NTREX, langs: 'en,ar,tr,ru,zh', batchTokens: 64, out, backend: 'cpu', plots: false }, {
        signal: ctl.signal,
        onProgress: (v) => {
          if (v.stage === 'profile' && ++batches === 2) ctl.abort();
        },
      }),
    );
    assert.is(err.rpcCode, -32800);
    assert.is(err.data?.code, 'ERR_INTERRUPTED');
    assert.not.ok(existsSync(out), 'nothing written');
    assert.equal(readdirSync(tmp).filter((f) => f.startsWith('cancelled-profile')), [], 'no temporary directory left');
    // The server goes on serving.
    assert.ok(await c.call('backends', {}));
  } finally {
    await c.close();
  }
});

const TRAIN = { model: MODEL, data: XQUAD, langs: 'ar,zh', limit: 16, batch: 4, epochs: 1, lr: 1e-3, layers: [7], backend: 'cpu' as const };

function stepLosses(out: string): number[] {
  return readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss?: number }).filter((r) => r.type === 'step').map((r) => r.loss!);
}

test('cancel a training mid-way: it stops after its step with a checkpoint; train {resume} continues bit-identically to a run never stopped', async () => {
  const c = await connect({ env: ENV });
  try {
    const straight = join(tmp, 'straight');
    const s = (await c.call('train', { ...TRAIN, out: straight })) as { status: string; step: number; totalSteps: number };
    assert.is(s.status, 'completed');
    assert.is(s.totalSteps, 4);

    const out = join(tmp, 'stopped');
    const ctl = new AbortController();
    const events: ProgressValue[] = [];
    const r = (await c.call('train', { ...TRAIN, out }, {
      signal: ctl.signal,
      onProgress: (v) => {
        events.push(v);
        if (v.stage === 'train' && v.done === 1) ctl.abort();
      },
    })) as { status: string; step: number; checkpoint: string; export: unknown };
    assert.is(r.status, 'stopped', 'a stopped training answers with its summary');
    assert.ok(r.step >= 1 && r.step < 4, String(r.step));
    assert.ok(existsSync(join(r.checkpoint, 'state.json')), 'checkpoint written');
    assert.is(r.export, null);
    assert.not.ok(existsSync(join(out, 'model')));
    const steps = events.filter((e) => e.stage === 'train' && e.done !== undefined);
    assert.ok(steps.every((e) => typeof e.loss === 'number' && typeof e.tokensPerSecond === 'number' && e.total === 4), JSON.stringify(steps));
    assertMonotonic(events);

    const done = (await c.call('train', { resume: out, backend: 'cpu' })) as { status: string; step: number };
    assert.is(done.status, 'completed');
    assert.is(done.step, 4);
    assert.equal(stepLosses(out), stepLosses(straight), 'per-step losses bit-identical');
    assert.ok(readFileSync(join(out, 'delta.safetensors')).equals(readFileSync(join(straight, 'delta.safetensors'))), 'tuned tensors bit-identical');
  } finally {
    await c.close();
  }
});

test('eval: the report `plast eval --json` prints; bad params name the field', async () => {
  const c = await connect({ env: ENV });
  try {
    const r = (await c.call('eval', { model: MODEL, data: XQUAD, langs: ['ar', 'ru'], limit: 6, backend: 'cpu' })) as { kind: string; nll: { perLang: Record<string, unknown> } };
    assert.is(r.kind, 'pairs');
    assert.equal(Object.keys(r.nll.perLang), ['ar', 'ru']);
    const bad = await rpcFails(c.call('train', { ...TRAIN, epochs: 0, out: join(tmp, 'x') }));
    assert.is(bad.rpcCode, -32602);
    assert.is(bad.data?.field, 'epochs');
    const lib = await rpcFails(c.call('train', { ...TRAIN, layers: [99], out: join(tmp, 'x') }));
    assert.is(lib.rpcCode, -32602);
    assert.equal(lib.data, { code: 'ERR_INVALID', field: 'layers' });
  } finally {
    await c.close();
  }
});

test('two jobs writing one out at once: the second is refused (ERR_IO, another job of this process), the first writes it', async () => {
  const c = await connect({ env: ENV });
  try {
    const out = join(tmp, 'one-out');
    const params = { model: MODEL, data: XQUAD, langs: 'en,ar', limit: 4, batchTokens: 256, backend: 'cpu' as const, plots: false, out };
    const first = c.call('profile', params);
    const second = await rpcFails(c.call('profile', params));
    assert.is(second.rpcCode, -32000);
    assert.is(second.data?.code, 'ERR_IO');
    assert.match(second.message, /another job of this process .*plast profile/);
    await first;
    assert.ok(existsSync(join(out, 'profile.json')));
    assert.not.ok(existsSync(join(tmp, '.one-out.lock')), 'released when the job ended');
  } finally {
    await c.close();
  }
});

test('run: stopped after a step ({status: "stopped"}), then the same call finishes and returns report.json; progress follows its stages', async () => {
  const c = await connect({ env: ENV });
  try {
    const out = join(tmp, 'run');
    const params = { out, model: MODEL, langs: 'en,ar', profileLimit: 8, trainLimit: 8, evalPerLang: 2, batch: 4, epochs: 1, lr: 1e-3, layers: '7', template: 'plain' as const, backend: 'cpu' as const };
    const stages: string[] = [];
    const s = await c.call('run', { ...params, stopAfter: 1 }, { onProgress: (v) => stages.at(-1) !== v.stage && stages.push(v.stage) });
    assert.equal(s, { status: 'stopped', step: 1, totalSteps: 2, out });
    assert.equal(stages, ['split', 'profile', 'evalBefore', 'train']);
    const r = (await c.call('run', params)) as { config: unknown; train: { step: number } };
    assert.equal(r, JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    assert.is(r.train.step, 2);
  } finally {
    await c.close();
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
