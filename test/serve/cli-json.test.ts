// `--json` on every command: exactly one JSON document on stdout (the result), progress and logs on
// stderr (progress lines forced on here), exit codes as without it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ASSETS, plastCli } from '../helpers';

const MODEL = join(ASSETS, 'mini-ml');
const XQUAD = join(ASSETS, 'data', 'xquad_questions_train.jsonl');
const tmp = mkdtempSync(join(tmpdir(), 'plast-json-'));
const env: NodeJS.ProcessEnv = { ...process.env, PLAST_PROGRESS_INTERVAL: '0' };
delete env.PLAST_NO_PROGRESS;

const plast = plastCli({ env });

/** The one JSON document stdout holds (fails on anything else there). */
function json(args: string[]): Record<string, unknown> {
  const r = plast(...args, '--json');
  assert.is(r.status, 0, `plast ${args.join(' ')}: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`plast ${args.join(' ')} --json: stdout is not one JSON document:\n${r.stdout}`);
  }
}

/** Every command and subcommand, from the help. */
function commands(prefix: string[] = []): string[][] {
  const help = plast(...prefix, '--help').stdout;
  const at = help.indexOf('Commands:');
  if (at < 0) return [];
  const names = [...help.slice(at).matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  return names.flatMap((n) => [[...prefix, n], ...commands([...prefix, n])]);
}

test('every command has --json', () => {
  const all = commands();
  assert.ok(all.length >= 10, JSON.stringify(all));
  const without = all.filter((c) => !/--json\b/.test(plast(...c, '--help').stdout)).map((c) => c.join(' '));
  assert.equal(without, [], `no --json: ${without.join(', ')}`);
});

test('--json: one JSON document on stdout for info, generate, profile (+ shards and merge), select, train, eval, bench, run (stopped), serve --schema', () => {
  assert.ok(Array.isArray(json(['info']).backends));
  assert.ok(Array.isArray(json(['generate', '--model', MODEL, '--prompt', 'Merhaba', '--max-new-tokens', '3', '--backend', 'cpu']).ids));
  const common = ['--model', MODEL, '--data', XQUAD, '--langs', 'en,ar,zh', '--limit', '8', '--backend', 'cpu', '--no-plots'];
  const p = plast('profile', ...common, '--out', join(tmp, 'p'), '--json');
  assert.is(p.status, 0, p.stderr);
  assert.ok((JSON.parse(p.stdout) as { selection: unknown }).selection);
  assert.match(p.stderr, /^profile: /m, 'progress on stderr');
  json(['profile', ...common, '--shard', '0/2', '--out', join(tmp, 's0')]);
  json(['profile', ...common, '--shard', '1/2', '--out', join(tmp, 's1')]);
  assert.ok(json(['profile', 'merge', join(tmp, 'merged'), join(tmp, 's0'), join(tmp, 's1'), '--no-plots']).selection);
  assert.ok(Array.isArray(json(['select', '--profile', join(tmp, 'p'), '--no-plots']).selected));
  const t = json(['train', '--model', MODEL, '--data', XQUAD, '--langs', 'ar,zh', '--limit', '8', '--batch', '4', '--epochs', '1', '--layers', '7', '--no-export', '--backend', 'cpu', '--out', join(tmp, 't')]);
  assert.is(t.status, 'completed');
  assert.is(json(['eval', '--model', MODEL, '--data', XQUAD, '--langs', 'ar', '--limit', '4', '--backend', 'cpu']).kind, 'pairs');
  assert.ok(Array.isArray(json(['bench', '--model', MODEL, '--batch', '1', '--seq-len', '8', '--iters', '1', '--warmup', '0', '--train-layers', '', '--backend', 'cpu']).results));
  const r = json(['run', '--model', MODEL, '--langs', 'en,ar', '--profile-limit', '8', '--train-limit', '8', '--eval-per-lang', '2', '--batch', '4', '--epochs', '1',
    '--lr', '1e-3', '--layers', '7', '--template', 'plain', '--stop-after', '1', '--backend', 'cpu', '--out', join(tmp, 'run')]);
  assert.equal(r, { status: 'stopped', step: 1, totalSteps: 2, out: join(tmp, 'run') });
  assert.ok(json(['serve', '--schema']).methods);
  // Errors: nothing on stdout, the message on stderr, exit codes as without --json.
  const bad = plast('train', '--model', MODEL, '--data', XQUAD, '--layers', '99', '--out', join(tmp, 'x'), '--json');
  assert.is(bad.status, 2);
  assert.is(bad.stdout, '');
  assert.match(bad.stderr, /ERR_INVALID/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
