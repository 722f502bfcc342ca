// Fault cases through the real CLI process (a sample of the classes the in-process suites cover):
// each must exit non-zero within the time limit with one `plast: error [ERR_...]` line naming the
// file and the field or line, no stack trace, and leave its --out absent or as it was.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { readCounts, writeCounts } from '../../src/profile/counts';
import { runProfile, writeProfile } from '../../src/profile/profile';
import { OutputLock, lockOutput } from '../../src/util/lock';
import { ASSETS, ROOT } from '../helpers';
import { cleanup, report, snapshot, tempDir } from './harness';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const SRC = join(ASSETS, 'stories260K');
const root = tempDir('cli');
const BASE = JSON.parse(readFileSync(join(SRC, 'config.json'), 'utf8')) as Record<string, unknown>;

let n = 0;
function model(patch: Record<string, unknown> = {}, tokenizer?: (tj: Record<string, any>) => void): string {
  const d = join(root, `m${n++}`);
  mkdirSync(d);
  for (const f of ['tokenizer_config.json', 'model.safetensors']) copyFileSync(join(SRC, f), join(d, f));
  const tj = JSON.parse(readFileSync(join(SRC, 'tokenizer.json'), 'utf8')) as Record<string, any>;
  tokenizer?.(tj);
  writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(tj));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...BASE, ...patch }));
  return d;
}
function data(lines: (string | Buffer)[]): string {
  const f = join(root, `d${n++}.jsonl`);
  writeFileSync(f, Buffer.concat(lines.map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\n')]))));
  return f;
}
const WIDE = data([0, 1, 2].map((i) => JSON.stringify({ id: `q${i}`, en: `Who is number ${i}?`, ar: `من هو رقم ${i}؟` })));
const PAIRS = data([0, 1, 2].map((i) => JSON.stringify({ lang: 'ar', source: `من هو رقم ${i}؟`, target: `Who is number ${i}?` })));
const out = (): string => join(root, `out${n++}`);

interface CliCase {
  name: string;
  args: string[];
  code: string;
  mentions: (string | RegExp)[];
  outs?: string[];
  limit?: number;
}

function runCli(c: CliCase): Promise<string> {
  const before = (c.outs ?? []).map(snapshot);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...c.args], { env: { ...process.env, PLAST_NO_PROGRESS: '1', PLAST_DEBUG: '' } });
    let err = '';
    p.stderr.on('data', (b) => (err += b));
    p.stdout.on('data', () => {});
    const limit = (c.limit ?? 60) * 1000;
    const timer = setTimeout(() => p.kill('SIGKILL'), limit);
    p.on('close', (status) => {
      clearTimeout(timer);
      const problems: string[] = [];
      if (Date.now() - t0 >= limit) problems.push('killed at the time limit');
      if (status === 0) problems.push('exit status 0');
      const m = /plast: error \[(ERR_[A-Z_]+)\]: (.*)/.exec(err);
      if (!m) problems.push('no "plast: error [ERR_...]" line');
      else {
        if (m[1] !== c.code) problems.push(`code ${m[1]}, expected ${c.code}`);
        for (const w of c.mentions) if (!(typeof w === 'string' ? m[2]!.includes(w) : w.test(m[2]!))) problems.push(`does not mention ${w}`);
      }
      if (/\n\s+at /.test(err)) problems.push('a stack trace on stderr');
      (c.outs ?? []).forEach((o, i) => {
        if (snapshot(o) !== before[i]) problems.push(`${o} changed`);
      });
      resolve(problems.length ? `${c.name}: ${problems.join('; ')} [stderr: ${err.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}]` : '');
    });
  });
}

const cases: CliCase[] = [];
const profileWith = (name: string, m: string, mentions: (string | RegExp)[], code = 'ERR_FORMAT', dataFile = WIDE): void => {
  const o = out();
  cases.push({ name: `profile: ${name}`, args: ['profile', '--model', m, '--data', dataFile, '--langs', 'en,ar', '--out', o, '--no-plots'], code, mentions, outs: [o] });
};
profileWith('rope_scaling "linear"', model({ rope_scaling: 'linear', rope_parameters: null }), ['config.json', 'rope_scaling']);
profileWith('rms_norm_eps -1', model({ rms_norm_eps: -1 }), ['config.json', 'rms_norm_eps']);
profileWith('max_position_embeddings "512"', model({ max_position_embeddings: '512' }), ['config.json', 'max_position_embeddings']);
profileWith('max_position_embeddings 0', model({ max_position_embeddings: 0 }), ['config.json', 'max_position_embeddings']);
profileWith('num_hidden_layers 1000000', model({ num_hidden_layers: 1000000 }), ['config.json', 'num_hidden_layers']);
profileWith('head_dim 2^40', model({ head_dim: 2 ** 40 }), ['config.json', 'head_dim']);
profileWith('pad_token_id 99999', model({ pad_token_id: 99999 }), ['config.json', 'pad_token_id']);
profileWith('an empty tokenizer', model({}, (tj) => {
  tj['model'].vocab = {};
  tj['model'].merges = [];
}), ['tokenizer.json', 'empty vocabulary']);
profileWith('invalid UTF-8 in the data', model(), [':2:', 'invalid UTF-8'], 'ERR_DATA', data([JSON.stringify({ id: 'a', en: 'x', ar: 'y' }), Buffer.from([0x7b, 0x22, 0x65, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])]));
{
  const fifo = join(root, 'fifo.jsonl');
  execFileSync('mkfifo', [fifo]);
  profileWith('--data a FIFO', model(), ['fifo.jsonl', 'FIFO'], 'ERR_IO', fifo);
}
profileWith('--out under /proc', model(), ['/proc/plast-fault-cli'], 'ERR_IO');
cases[cases.length - 1]!.args.splice(cases[cases.length - 1]!.args.indexOf('--out') + 1, 1, '/proc/plast-fault-cli/out');
// Outputs this process writes (holds the lock on) while the CLI is run on them.
const held: OutputLock[] = [];
{
  const o = out();
  mkdirSync(o);
  writeFileSync(join(o, 'keep.txt'), 'mine');
  held.push(lockOutput(o, 'profile'));
  cases.push({ name: 'profile: --out locked by a running writer', args: ['profile', '--model', model(), '--data', WIDE, '--langs', 'en,ar', '--out', o], code: 'ERR_IO', mentions: [`pid ${process.pid}`], outs: [o] });
  const o2 = out();
  mkdirSync(o2);
  held.push(lockOutput(o2, 'train'));
  cases.push({ name: 'train: --out locked by a running writer', args: ['train', '--model', model(), '--data', PAIRS, '--layers', '0', '--out', o2], code: 'ERR_IO', mentions: [`pid ${process.pid}`], outs: [o2] });
}
const trainWith = (name: string, m: string, dataFile: string, mentions: (string | RegExp)[], code = 'ERR_FORMAT', extra: string[] = []): void => {
  const o = out();
  cases.push({ name: `train: ${name}`, args: ['train', '--model', m, '--data', dataFile, '--layers', '0', '--batch', '2', '--out', o, ...extra], code, mentions, outs: [o] });
};
trainWith('num_hidden_layers 2^40', model({ num_hidden_layers: 2 ** 40 }), PAIRS, ['config.json', 'num_hidden_layers']);
trainWith('a non-string source (--strict)', model(), data([JSON.stringify({ lang: 'ar', source: 'a', target: 'b' }), JSON.stringify({ lang: 'ar', source: 42, target: 'b' })]), [':2:', 'expected a string'], 'ERR_DATA', ['--strict']);
trainWith('--data a directory', model(), root, [root, 'directory'], 'ERR_IO');
cases.push({ name: 'eval: --out under /proc', args: ['eval', '--model', model(), '--data', WIDE, '--langs', 'ar', '--out', '/proc/plast-fault-cli/r.json'], code: 'ERR_IO', mentions: ['/proc/plast-fault-cli'] });
cases.push({ name: 'eval: sliding_window -1', args: ['eval', '--model', model({ model_type: 'mistral', sliding_window: -1 }), '--data', WIDE, '--langs', 'ar'], code: 'ERR_FORMAT', mentions: ['config.json', 'sliding_window'] });

test.before(async () => {
  // A profile of stories260K for `select`, and two damaged copies of a training checkpoint.
  const m = await Model.load(SRC, { backend: 'cpu' });
  const p = await runProfile(m, { data: WIDE, langs: ['en', 'ar'], progress: false });
  m.dispose();
  const prof = join(root, 'profile');
  await writeProfile(prof, p, { plots: false });
  const good = join(root, 'profile-good');
  await writeProfile(good, p, { plots: false });
  const c = readCounts(join(prof, 'counts.safetensors'));
  c.counts['ar']![7] = c.tokens['ar']! + 5;
  writeCounts(join(prof, 'counts.safetensors'), c);
  cases.push({ name: 'select: a count above the token total', args: ['select', '--profile', prof], code: 'ERR_FORMAT', mentions: ['counts.safetensors', 'counts.ar'], outs: [prof] });
  cases.push({ name: 'select: --min-layers 99', args: ['select', '--profile', good, '--min-layers', '99'], code: 'ERR_INVALID', mentions: ['minLayers'], outs: [good] });
  for (const [name, patch] of [
    ['lr "abc"', (s: any) => void (s.config.lr = 'abc')],
    ['step 99 of 2', (s: any) => void (s.step = 99)],
    ['losses "x"', (s: any) => void (s.losses = 'x')],
  ] as const) {
    const ck = join(root, `run${n++}`, 'checkpoint-000001');
    mkdirSync(ck, { recursive: true });
    const state: any = {
      format: 'plast-train-state', version: 1, step: 1, totalSteps: 2, stepsPerEpoch: 1, warmupSteps: 0,
      config: { model: SRC, data: [PAIRS], layers: [0], modules: 'all', epochs: 2, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1, batch: 3, microBatch: null, microTokens: 4096, maxLen: 512, warmup: 0, template: 'plain', langs: null, seed: 1, limit: null },
      data: { fingerprint: 'x', examples: 3, labelTokens: 10 }, rng: { algorithm: 'mulberry32', seed: 1, epoch: 1 }, base: { fingerprint: 'y', dtypes: {} },
      trainable: ['model.layers.0.mlp.up_proj.weight'], losses: [2], savedAt: '', engine: '0.1.0',
    };
    patch(state);
    writeFileSync(join(ck, 'state.json'), JSON.stringify(state));
    copyFileSync(join(SRC, 'model.safetensors'), join(ck, 'state.safetensors'));
    cases.push({ name: `train --resume: ${name}`, args: ['train', '--resume', ck], code: 'ERR_FORMAT', mentions: ['state.json'], outs: [join(ck, '..')] });
  }
});

test('CLI sample: typed one-line errors, no stack, in time, outputs untouched', async () => {
  report('CLI', cases.length);
  const problems: string[] = [];
  const queue = [...cases];
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const p = await runCli(c);
        if (p) problems.push(p);
      }
    }),
  );
  assert.ok(cases.length >= 20, `${cases.length} CLI cases`);
  if (problems.length) throw new Error(`${problems.length} of ${cases.length} CLI case(s) wrong:\n  ${problems.join('\n  ')}`);
});

test.after(() => {
  held.forEach((l) => l.release());
  cleanup(root)();
});
test.run();
