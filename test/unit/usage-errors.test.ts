// A bad command line is reported like every other failure: `plast: error [ERR_INVALID]: …` naming
// the flag, one hint line naming the command's help, exit 2; no help dump, no stack, nothing on
// stdout, no output directory. Commander rejects these while parsing, so no model is loaded.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { registerProfile, registerProfileMerge, registerSelect } from '../../src/profile/cli';
import { registerTrain } from '../../src/train/cli';
import { UsageError, typedUsageErrors } from '../../src/cli/usage';
import { plastCli } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-usage-'));

const plast = plastCli({ cwd: tmp });

// [what, arguments (an --out in tmp where the command has one), what the message names, whose help]
const out = (name: string): string[] => ['--out', join(tmp, name)];
const CASES: [string, string[], RegExp, string][] = [
  ['above a range', ['select', '--profile', join(tmp, 'p'), '--tau', '2'], /option '--tau <t>' argument '2' is invalid\. Expected a number in \[0, 0\.999999\] for --tau but received "2"/, 'plast select'],
  ['a negative learning rate', ['train', '--lr', '-1', ...out('train')], /option '--lr <x>' argument '-1' is invalid/, 'plast train'],
  ['zero epochs', ['run', '--epochs', '0', ...out('run')], /option '--epochs <n>' argument '0' is invalid\. Expected an integer >= 1 for --epochs/, 'plast run'],
  ['a fractional batch', ['sweep', '--batch', '1.5', ...out('sweep')], /option '--batch <n>' argument '1\.5' is invalid/, 'plast sweep'],
  ['a negative top-k', ['lens', '--top-k', '-1', ...out('lens')], /option '--top-k <n>' argument '-1' is invalid/, 'plast lens'],
  ['not a number', ['bench', '--seq-len', 'many'], /option '--seq-len <n>' argument 'many' is invalid/, 'plast bench'],
  ['a bad item of a list', ['bench', '--train-layers', '0,x'], /option '--train-layers <list>' argument '0,x' is invalid\. Expected an integer >= 0 for --train-layers but received "x"/, 'plast bench'],
  ['a negative token id', ['generate', '--model', join(tmp, 'm'), '--stop', '2,-1'], /option '--stop <ids>' argument '2,-1' is invalid/, 'plast generate'],
  ['an invalid choice', ['profile', '--scope', 'words', ...out('profile')], /option '--scope <scope>' argument 'words' is invalid\. Allowed choices are question, text, image, all\./, 'plast profile'],
  ['an unknown option', ['eval', '--model', join(tmp, 'm'), '--data', join(tmp, 'd.tsv'), '--bogus'], /unknown option '--bogus'/, 'plast eval'],
  ['a misspelt option', ['train', '--epoch', '2', ...out('train-typo')], /unknown option '--epoch' \(Did you mean --epochs\?\)/, 'plast train'],
  ['a missing required option', ['generate', '--prompt', 'hi'], /required option '--model <dir>' not specified/, 'plast generate'],
  ['an option without its value', ['run', ...out('run-lr'), '--lr'], /option '--lr <x>' argument missing/, 'plast run'],
  ['an excess argument', ['select', '--profile', join(tmp, 'p'), 'extra'], /too many arguments for 'select'\. Expected 0 arguments but got 1\./, 'plast select'],
  ['a missing argument', ['profile', 'merge'], /missing required argument 'out'/, 'plast profile merge'],
  ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/, 'plast'],
];

test('usage errors: ERR_INVALID naming the flag, a hint at the help, exit 2, nothing else', () => {
  for (const [what, args, names, cmd] of CASES) {
    const r = plast(...args);
    const at = `${what} (plast ${args.join(' ')}): ${r.stderr}`;
    assert.is(r.status, 2, at);
    assert.is(r.stdout, '', at);
    assert.ok(r.stderr.startsWith('plast: error [ERR_INVALID]: '), at);
    assert.not.match(r.stderr, /^plast: error \[ERR_INVALID\]: error:/, at);
    assert.match(r.stderr, names, at);
    const hint = cmd === 'plast' ? '(plast --help lists the commands)' : `(${cmd} --help lists the options)`;
    assert.is(r.stderr.split('\n').length, 3, `two lines: ${at}`);
    assert.ok(r.stderr.endsWith(`\n${hint}\n`), at);
    assert.not.match(r.stderr, /Usage:/, at);
    assert.not.match(r.stderr, /\n {4}at /, at);
  }
  for (const d of ['p', 'train', 'run', 'sweep', 'lens', 'profile', 'train-typo', 'run-lr']) assert.not.ok(existsSync(join(tmp, d)), `${d} not created`);
});

test("the error carries the option's long flag as its field and the hint of the command that parsed it", async () => {
  const program = new Command('plast');
  registerTrain(program);
  registerProfileMerge(registerProfile(program));
  registerSelect(program);
  typedUsageErrors(program);
  const fails = async (args: string[]): Promise<UsageError> => {
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (e) {
      assert.instance(e, UsageError, String(e));
      return e as UsageError;
    }
    throw new Error(`plast ${args.join(' ')} parsed`);
  };
  const cases: [string[], string | undefined, string][] = [
    [['select', '--tau', '2'], '--tau', '(plast select --help lists the options)'],
    [['select'], '--profile', '(plast select --help lists the options)'],
    [['select', '--peak', 'middle'], '--peak', '(plast select --help lists the options)'],
    [['train', '--bogus'], '--bogus', '(plast train --help lists the options)'],
    [['train', '--lr'], '--lr', '(plast train --help lists the options)'],
    [['profile', 'merge'], undefined, '(plast profile merge --help lists the options)'],
    [['nope'], undefined, '(plast --help lists the commands)'],
  ];
  for (const [args, field, hint] of cases) {
    const e = await fails(args);
    assert.is(e.code, 'ERR_INVALID');
    assert.is(e.field, field, args.join(' '));
    assert.is(e.hint, hint);
    assert.not.match(e.message, /^error: /);
  }
});

test('help, --version and a missing command are not usage errors: they keep their output and exit codes', () => {
  const help = plast('select', '--help');
  assert.is(help.status, 0);
  assert.match(help.stdout, /^Usage: plast select/);
  const version = plast('--version');
  assert.is(version.status, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  // No command: the commands on stderr, exit 2 (as before; nothing to run is a usage error).
  for (const args of [[], ['help', 'frobnicate']]) {
    const r = plast(...args);
    assert.is(r.status, 2, args.join(' '));
    assert.is(r.stdout, '');
    assert.match(r.stderr, /^Usage: plast \[options\] \[command\]/);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
