// File-system mistakes on the command line: an --out that is a file where a directory is meant,
// or a directory where a file is meant. Each is a typed error (ERR_IO, exit 1) that names the
// path, printed without a stack, raised before any work, and leaves nothing behind.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeDirAtomic, writeFileAtomic } from '../../src/util/atomic';
import { ASSETS, plastCli, rejects } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'plast-paths-'));
const MODEL = join(ASSETS, 'mini-ml');
const QUESTIONS = join(ASSETS, 'data', 'xquad_questions_train.jsonl');

const plast = plastCli({ cwd: tmp });

function typedIoError(r: { status: number | null; stderr: string }, path: string, what: RegExp): void {
  assert.is(r.status, 1, r.stderr);
  assert.ok(r.stderr.startsWith(`plast: error [ERR_IO]: ${path}: `), r.stderr);
  assert.match(r.stderr, what);
  assert.not.match(r.stderr, /^\s+at /m, 'no stack trace');
}

test('an --out that is a file: plast train, run, profile', () => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'mine\n');
  typedIoError(plast('train', '--model', MODEL, '--data', QUESTIONS, '--layers', '7', '--out', file), file, /--out must be a directory, but it is a file/);
  typedIoError(plast('run', '--out', file), file, /--out must be a directory, but it is a file/);
  typedIoError(plast('profile', '--model', MODEL, '--data', QUESTIONS, '--langs', 'en,ar', '--limit', '2', '--out', file), file, /--out must be a directory/);
  assert.is(readFileSync(file, 'utf8'), 'mine\n', 'the file is untouched');
});

test('plast eval --out DIR: refused before the evaluation, no temp file left', () => {
  const dir = join(tmp, 'a-dir');
  mkdirSync(dir);
  typedIoError(plast('eval', '--model', MODEL, '--data', QUESTIONS, '--limit', '2', '--out', dir), dir, /--out must be a file, but it is a directory/);
  assert.equal(readdirSync(tmp).filter((f) => f.startsWith('.')), [], 'no temp file beside it');
  assert.equal(readdirSync(dir), []);
});

test('the atomic writers: a directory in a file\'s place and a file in a directory\'s place are ERR_IO naming the path; no temp is left', async () => {
  const dir = join(tmp, 'w');
  mkdirSync(join(dir, 'target'), { recursive: true });
  await rejects(() => writeFileAtomic(join(dir, 'target'), 'x'), 'ERR_IO', /target: cannot write the file \(it is a directory\)/);
  writeFileSync(join(dir, 'file'), 'keep');
  await rejects(writeDirAtomic(join(dir, 'file'), () => {}), 'ERR_IO', /file: cannot write the directory \(a file is in its place\)/);
  assert.is(readFileSync(join(dir, 'file'), 'utf8'), 'keep');
  // A parent that is a file: ENOTDIR from mkdir, as ERR_IO naming the path.
  await rejects(() => writeFileAtomic(join(dir, 'file', 'x.json'), '{}'), 'ERR_IO', /file: cannot create the directory \(a file is in its place\)/);
  assert.equal(readdirSync(dir).sort(), ['file', 'target']);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
