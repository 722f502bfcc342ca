// `npx plast` runs the package's bin file directly: it must be executable and start with a node
// shebang (tsc writes files without the x bit; `npm run build:ts` sets it).
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers';

test('the plast bin is executable, has a node shebang and runs', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: { plast: string } };
  const bin = join(ROOT, pkg.bin.plast);
  assert.ok((statSync(bin).mode & 0o111) !== 0, `${bin} is not executable`);
  assert.ok(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'));
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), pkg.version);
});

test.run();
