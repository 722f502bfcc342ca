// The CLI end to end: `plast train` (layers from a profile.json) on a tiny run -> exit 0 and every
// output file; `plast eval` on the export; `--strict` on a bad file -> exit 1 with ERR_DATA and
// the line; bad arguments -> exit 2.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cosineWithWarmup } from '../../src/train/schedule';
import { ASSETS, CLI, plast } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-cli-'));

test('plast train: tiny run with --profile, then plast eval on the export', () => {
  const prof = join(tmp, 'prof');
  mkdirSync(prof, { recursive: true });
  writeFileSync(join(prof, 'profile.json'), JSON.stringify({ selection: { selected: [6, 7] } }));
  const out = join(tmp, 'run');
  const t0 = Date.now();
  const r = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--langs', 'ar,tr,ru,zh',
    '--limit', '8', '--batch', '4', '--epochs', '1', '--lr', '1e-3', '--profile', prof, '--save-every', '1', '--keep', '2', '--backend', 'cpu', '--out', out);
  console.log(`  plast train: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /trained step 2\/2/);
  assert.match(r.stderr, /layer\(s\) 6,7/);
  for (const f of ['train.jsonl', 'summary.json', 'loss.svg', 'loss.png', 'delta.safetensors', 'checkpoint-000001/state.json', 'checkpoint-000002/state.safetensors',
    'model/config.json', 'model/tokenizer.json', 'model/generation_config.json', 'model/model.safetensors.index.json', 'model/model-00001-of-00002.safetensors', 'model/model-00002-of-00002.safetensors']) {
    assert.ok(existsSync(join(out, f)), `${f} missing`);
  }
  const recs = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; lr?: number; loss?: number; labelTokens?: number; tokensPerSecond?: number; gradNorm?: number });
  assert.equal(recs.map((x) => x.type), ['config', 'data', 'step', 'checkpoint', 'step', 'checkpoint', 'export', 'end']);
  const steps = recs.filter((x) => x.type === 'step');
  for (const s of steps) {
    for (const k of ['loss', 'lr', 'gradNorm', 'tokensPerSecond', 'labelTokens'] as const) assert.ok(Number.isFinite(s[k]), k);
  }
  // Values: one epoch of 8 pairs in batches of 4 covers every target token once; the learning
  // rates are the schedule's (2 steps, warmup 3% -> 0 steps: cosine from 1e-3); the losses are
  // mean target NLLs of a model that has not learnt these pairs yet (near the untrained NLL).
  const data = recs.find((x) => x.type === 'data') as { labelTokens?: number } | undefined;
  assert.is(steps.reduce((a, s) => a + s.labelTokens!, 0), data!.labelTokens);
  const cfg = recs.find((x) => x.type === 'config') as unknown as { warmupSteps: number; totalSteps: number };
  steps.forEach((s, i) => assert.is(s.lr, cosineWithWarmup(i, cfg.warmupSteps, cfg.totalSteps, 1e-3), `lr of step ${i + 1}`));
  for (const s of steps) assert.ok(s.loss! > 0.5 && s.loss! < 8, `loss ${s.loss}`);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string; config: { layers: number[] } };
  assert.is(summary.status, 'completed');
  assert.equal(summary.config.layers, [6, 7]);

  const e = plast('eval', '--model', join(out, 'model'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--langs', 'ar,ru', '--limit', '6', '--json');
  assert.is(e.status, 0, e.stderr);
  const rep = JSON.parse(e.stdout) as { kind: string; nll: { perLang: Record<string, { nll: number }> } };
  assert.is(rep.kind, 'pairs');
  assert.equal(Object.keys(rep.nll.perLang), ['ar', 'ru']);
});

test('plast train: Ctrl-C stops after the current step with a checkpoint (exit 130); --resume finishes the run', async () => {
  const out = join(tmp, 'sigint');
  const args = [CLI, 'train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--langs', 'ar,zh',
    '--limit', '200', '--batch', '4', '--epochs', '1', '--layers', '7', '--backend', 'cpu', '--out', out];
  const child = spawn(process.execPath, args, { env: { ...process.env, PLAST_NO_PROGRESS: '1' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Interrupt once the first step is in the log: a real SIGINT, as from a terminal.
  const log = join(out, 'train.jsonl');
  const timer = setInterval(() => {
    if (existsSync(log) && readFileSync(log, 'utf8').includes('"type":"step"')) {
      clearInterval(timer);
      child.kill('SIGINT');
    }
  }, 50);
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearInterval(timer);
  assert.is(code, 130, stderr);
  assert.match(stderr, /interrupted: stopping at the next safe point/);
  const sum = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string; step: number; totalSteps: number };
  assert.is(sum.status, 'stopped');
  assert.ok(sum.step >= 1 && sum.step < sum.totalSteps, JSON.stringify(sum));
  assert.ok(existsSync(join(out, `checkpoint-${String(sum.step).padStart(6, '0')}`, 'state.json')), 'a checkpoint at the step it stopped');
  assert.not.ok(existsSync(join(out, 'model')), 'no export from a stopped run');
  const r = plast('train', '--model', join(ASSETS, 'mini-ml'), '--resume', out, '--backend', 'cpu', '--out', out);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`trained step ${sum.totalSteps}/${sum.totalSteps}`));
  const steps = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number }).filter((x) => x.type === 'step').map((x) => x.step);
  assert.equal(steps, Array.from({ length: sum.totalSteps }, (_, i) => i + 1), 'every step once');
});

test('plast train: the resume hint works as printed (--resume DIR alone continues with the checkpoint\'s model, data and settings)', () => {
  const out = join(tmp, 'hint');
  const r = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--langs', 'ar,zh',
    '--limit', '8', '--batch', '4', '--epochs', '1', '--lr', '1e-3', '--layers', '7', '--stop-after', '1', '--backend', 'cpu', '--out', out);
  assert.is(r.status, 0, r.stderr);
  const hint = /continue with: plast (.*)$/m.exec(r.stdout);
  assert.ok(hint, r.stdout);
  assert.is(hint![1], `train --resume ${out}`);
  const c = plast(...hint![1]!.split(' '));
  assert.is(c.status, 0, c.stderr);
  assert.match(c.stdout, /trained step 2\/2/);
  assert.ok(existsSync(join(out, 'model', 'config.json')), 'exported into the run directory');
});

test('plast train, stderr not a terminal: a plain progress line at the start, every PLAST_PROGRESS_INTERVAL seconds and at the end; none with PLAST_NO_PROGRESS', () => {
  const args = [CLI, 'train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--langs', 'ar,zh',
    '--limit', '8', '--batch', '4', '--epochs', '1', '--layers', '7', '--backend', 'cpu', '--no-export'];
  const env: NodeJS.ProcessEnv = { ...process.env, PLAST_PROGRESS_INTERVAL: '0' };
  delete env.PLAST_NO_PROGRESS;
  const r = spawnSync(process.execPath, [...args, '--out', join(tmp, 'lines')], { encoding: 'utf8', env });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('train: '));
  assert.is(lines.length, 4, r.stderr);
  assert.is(lines[0], 'train: 0/2 steps (0%)');
  assert.match(lines[1]!, /^train: 1\/2 steps \(50%\), (-|[\d.]+) steps\/s, ETA (-|\d+s), loss \d\.\d{4}, tokens_per_s \d+$/);
  assert.match(lines[2]!, /^train: 2\/2 steps \(100%\), /);
  assert.match(lines[3]!, /^train: 2\/2 steps \(100%\) in \d+s, loss \d\.\d{4}, tokens_per_s \d+$/);
  const quiet = spawnSync(process.execPath, [...args, '--out', join(tmp, 'quiet')], { encoding: 'utf8', env: { ...env, PLAST_NO_PROGRESS: '1' } });
  assert.is(quiet.status, 0, quiet.stderr);
  assert.not.match(quiet.stderr, /^train: /m);
});

test('plast train: --strict on a bad file exits 1 with ERR_DATA and the line; bad arguments exit 2', () => {
  const bad = join(tmp, 'bad.jsonl');
  writeFileSync(bad, [JSON.stringify({ lang: 'ar', source: 'x', target: 'y' }), JSON.stringify({ lang: 'ar', source: 'x', target: '' })].join('\n') + '\n');
  const r = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', bad, '--layers', '7', '--strict', '--out', join(tmp, 'strict'));
  assert.is(r.status, 1);
  assert.match(r.stderr, /ERR_DATA.*bad\.jsonl:2: empty target text/);
  const a = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', bad, '--layers', '9', '--out', join(tmp, 'badlayer'));
  assert.is(a.status, 2);
  assert.match(a.stderr, /layer indices in \[0, 7\]/);
  const b = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', bad, '--out', join(tmp, 'nolayers'));
  assert.is(b.status, 2);
  assert.match(b.stderr, /--layers or --profile/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
