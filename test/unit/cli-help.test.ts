// `plast <command> --help`, as a new user reads it: every default in one format, "(default: …)",
// on every option that has one (run included: --tau, --min-layers, --max-layers, --max-len,
// --warmup, --seed), required options marked, and the errors a first try meets worded for it
// (bare `plast train` asks for --model first; a layer list out of range is named as typed).
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ASSETS, ROOT, plast } from '../helpers';

/** The options of a command's help: flags -> description, wrapped lines joined. */
function options(command: string[]): Map<string, string> {
  const r = plast(...command, '--help');
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const start = lines.indexOf('Options:');
  const out = new Map<string, string>();
  let flags = '';
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '' || !l.startsWith(' ')) break;
    const m = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(l);
    if (m && l.startsWith('  -')) {
      flags = m[1]!;
      out.set(flags, m[2] ?? '');
    } else out.set(flags, `${out.get(flags)} ${l.trim()}`);
  }
  return out;
}

const COMMANDS = [['train'], ['run'], ['eval'], ['sweep'], ['profile'], ['select'], ['profile', 'merge'], ['generate'], ['bench']];

test('every command writes defaults as "(default: …)" and marks required options', () => {
  for (const c of COMMANDS) {
    const r = plast(...c, '--help');
    assert.not.match(r.stdout, /\[default/, `${c.join(' ')}: [default: …]`);
    assert.not.match(r.stdout, /\(default [^:]/, `${c.join(' ')}: (default …) without a colon`);
  }
  const train = options(['train']);
  assert.match(train.get('--epochs <n>')!, /\(default: 2\)$/);
  assert.match(train.get('--lr <x>')!, /\(default: 2e-5\)$/);
  assert.match(train.get('--modules <set>')!, /\(choices: "all", "attn", "mlp", default: "all"\)$/);
  assert.match(train.get('--model <dir>')!, /required unless --resume/);
  assert.match(train.get('--out <dir>')!, /required unless --resume/);
  const run = options(['run']);
  const want: Record<string, string> = { '--tau <t>': '0.5', '--min-layers <n>': '1', '--max-layers <n>': 'no limit', '--max-len <n>': '2048', '--warmup <ratio>': '0.03', '--seed <n>': '0', '--heldout <ratio>': '0.1' };
  for (const [flag, d] of Object.entries(want)) assert.ok(run.get(flag)!.endsWith(`(default: ${d})`), `${flag}: ${run.get(flag)}`);
  assert.match(run.get('--epochs <n>')!, /\(default: 1 for the bundled demo, 2 with --model\)$/);
  for (const [c, flags] of [[['eval'], ['--model <dir>', '--data <files...>']], [['profile'], ['--model <dir>', '--data <file>', '--langs <list>', '--out <dir>']], [['select'], ['--profile <dir>']], [['generate'], ['--model <dir>']]] as const) {
    const o = options([...c]);
    for (const f of flags) assert.match(o.get(f)!, /\(required\)$/, `${c.join(' ')} ${f}: ${o.get(f)}`);
  }
  assert.match(options(['select']).get('--tau <t>')!, /\(default: the profile's\)$/);
  // sweep's vlmeval options default as eval's do (one rule: src/eval/protocol.ts).
  const ev = options(['eval']);
  const sw = options(['sweep']);
  assert.match(sw.get('--protocol <name>')!, /default: vlmeval for \.tsv files, else logits\)$/);
  for (const f of ['--prompting <name>', '--max-new-tokens <n>', '--image-aspect <mode>', '--vision-tower <dir>']) {
    assert.ok(sw.has(f), `sweep ${f}`);
    assert.is(sw.get(f)!.replace(/.*\(/, '('), ev.get(f)!.replace(/.*\(/, '('), `${f}: the same choices and default`);
  }
});

test('bare plast train asks for --model first; a layer list out of range is named as typed, not number by number', () => {
  const bare = plast('train');
  assert.is(bare.status, 2, bare.stderr);
  assert.match(bare.stderr, /^plast: error \[ERR_INVALID\]: Expected --model/);
  const t = plast('train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'), '--layers', '0-99', '--out', join(ROOT, 'tmp', 'never'));
  assert.is(t.status, 2, t.stderr);
  assert.match(t.stderr, /received 0-99: 8-99 are not layers of the model\n$/);
  assert.not.match(t.stderr, /0,1,2/);
  const r = plast('run', '--layers', '0-99', '--out', join(ROOT, 'tmp', 'never'));
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /received 0-99: 8-99 are not layers of the model\n$/);
});

test.run();
