// The Python client (clients/python/plast_client.py) against a real server process: load, forward
// (arrays decoded), errors, a job's progress and its cancellation; TCP with a token and a Unix socket. Skipped, and said so, without
// python3.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers';
import { ENV } from './helpers';

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'plast-py-'));

if (!python) {
  console.log('  SKIP python client: python3 not found; no test from it counted');
} else {
  test('the Python client: start, call, forward arrays, errors, progress, cancel; the server ends with it', () => {
    const out = join(tmp, 'profile');
    const r = spawnSync('python3', [join(ROOT, 'test', 'serve', 'python_client_check.py'), ROOT, out], { encoding: 'utf8', env: ENV, timeout: 240_000 });
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /python client: ok/);
    assert.not.ok(existsSync(out));
  });
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
