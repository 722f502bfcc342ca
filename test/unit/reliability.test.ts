// The small pieces behind the failure behaviour: strict UTF-8 with the first bad byte, mkdir -p
// that never loops, the input check on an open descriptor, and the cell verdict every reader uses.
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstInvalidUtf8 } from '../../src/data/jsonl';
import { checkCell } from '../../src/data/validate';
import { readInput } from '../../src/util/input';
import { makeDirs } from '../../src/util/paths';
import { rejects } from '../helpers';

test('firstInvalidUtf8: valid text runs to the end; stray, truncated, overlong and surrogate bytes are found', () => {
  const ok = Buffer.from('héllo, мир, 世界, 🙂', 'utf8');
  assert.is(firstInvalidUtf8(ok), ok.length);
  assert.is(firstInvalidUtf8(Buffer.from([0x61, 0xff, 0x62])), 1);
  assert.is(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82])), 1);
  assert.is(firstInvalidUtf8(Buffer.from([0xc0, 0xaf])), 0);
  assert.is(firstInvalidUtf8(Buffer.from([0xe0, 0x80, 0x80])), 0);
  assert.is(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80])), 0);
  assert.is(firstInvalidUtf8(Buffer.from([0xf4, 0x90, 0x80, 0x80])), 0);
});

test('makeDirs: creates every missing level; a file in the way and an impossible place are ERR_IO', async () => {
  const d = mkdtempSync(join(tmpdir(), 'plast-mk-'));
  makeDirs(join(d, 'a', 'b', 'c'));
  makeDirs(join(d, 'a', 'b', 'c'));
  writeFileSync(join(d, 'f'), '');
  await rejects(() => makeDirs(join(d, 'f', 'x')), 'ERR_IO', /f: cannot create the directory \(a file is in its place\)/);
  await rejects(() => makeDirs('/proc/plast-no/such/dir'), 'ERR_IO', /\/proc\/plast-no/);
});

test('readInput: a directory is ERR_IO naming it; a file reads', async () => {
  const d = mkdtempSync(join(tmpdir(), 'plast-in-'));
  mkdirSync(join(d, 'dir'));
  await rejects(() => readInput(join(d, 'dir')), 'ERR_IO', /it is a directory, not a regular file/);
  writeFileSync(join(d, 'f'), 'x');
  assert.is(readInput(join(d, 'f')).toString(), 'x');
});

test('checkCell: only non-blank strings are text', () => {
  assert.equal(checkCell('en', 'hi', 'text'), { ok: true, text: 'hi' });
  for (const v of [5, true, null, {}, []]) assert.is((checkCell('en', v, 'source') as { reason: string }).reason, 'not-text');
  assert.is((checkCell('en', undefined, 'source') as { reason: string }).reason, 'missing-field');
  assert.is((checkCell('en', ' ', 'target') as { reason: string }).reason, 'empty-target');
});

test.run();
