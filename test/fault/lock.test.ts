// One writer per output (src/util/lock.ts): the kernel lock against other processes (a holder's
// pid in the error, free at once after kill -9, one winner among processes racing for a lock file
// a dead run left), and within one process the async contexts (a nested lock of the same job
// runs, a second job is refused). The library writers take it before anything is written.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastError } from '../../src/errors';
import { Model } from '../../src/model/model';
import { runProfile, writeProfile } from '../../src/profile/profile';
import { train } from '../../src/train/train';
import { lockOutput, lockPathFor, withOutputLock } from '../../src/util/lock';
import { ASSETS } from '../helpers';
import { LOCK_MODULE, cleanup, holdLock, snapshot, tempDir } from './harness';

const root = tempDir('lock');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The PlastError `fn` throws or rejects with (fails when it succeeds). */
async function failure(fn: () => unknown): Promise<PlastError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof PlastError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

test('another process holds the lock: ERR_IO naming its pid and the lock file; after kill -9 it is free at once', async () => {
  const d = join(root, 'held');
  const holder = await holdLock(d, 'profile');
  try {
    const e = await failure(() => lockOutput(d, 'select'));
    assert.is(e.code, 'ERR_IO');
    assert.ok(e.message.includes(`pid ${holder.pid}`), e.message);
    assert.ok(e.message.includes(lockPathFor(d)), e.message);
    assert.ok(e.message.includes('plast profile'), e.message);
    // The same through withOutputLock: fn never runs.
    let ran = false;
    assert.is((await failure(() => withOutputLock(d, 'select', () => void (ran = true)))).code, 'ERR_IO');
    assert.not.ok(ran);
  } finally {
    await holder.kill();
  }
  const t0 = Date.now();
  const lock = lockOutput(d, 'select');
  assert.ok(Date.now() - t0 < 1000);
  assert.is(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  lock.release();
});

test('two spellings of one output through a symbolic link share one lock', async () => {
  const real = join(root, 'real-parent');
  mkdirSync(real, { recursive: true });
  const link = join(root, 'link-parent');
  symlinkSync(real, link);
  assert.is(lockPathFor(join(link, 'out')), lockPathFor(join(real, 'out')));
  // Another process holds it through the link: the real path is busy, naming that process.
  const holder = await holdLock(join(link, 'out'), 'train');
  try {
    const e = await failure(() => lockOutput(join(real, 'out'), 'train'));
    assert.is(e.code, 'ERR_IO');
    assert.ok(e.message.includes(`pid ${holder.pid}`), e.message);
  } finally {
    await holder.kill();
  }
  // In one process: a job holding the real path refuses another job writing through the link,
  // and a nested call of the same job through the link just runs.
  let nested = false;
  const job = withOutputLock(join(real, 'out'), 'train', async () => {
    await sleep(30);
    await withOutputLock(join(link, 'out', 'model'), 'export', () => void (nested = true));
  });
  assert.match((await failure(() => withOutputLock(join(link, 'out'), 'train', () => 0))).message, /another job of this process .*plast train/);
  await job;
  assert.ok(nested);
});

/** A process that takes the lock on `target` when told "go" and reports won / busy; the winner holds it until told "release". */
function racer(target: string): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const script = `const { lockOutput } = require(${JSON.stringify(LOCK_MODULE)});
const lines = require('node:readline').createInterface({ input: process.stdin });
let lock;
lines.on('line', (l) => {
  if (l === 'go') {
    try {
      lock = lockOutput(process.argv[1], 'race');
      console.log('won');
    } catch (e) {
      console.log(e.code === 'ERR_IO' && /another writer holds it/.test(e.message) ? 'busy' : 'error ' + e.message);
      process.exit(0);
    }
  } else if (l === 'release') {
    lock.release();
    process.exit(0);
  }
});
console.log('ready');`;
  const child = spawn(process.execPath, ['-e', script, target], { stdio: ['pipe', 'pipe', 'inherit'] });
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));

test('processes racing for a lock file a dead run left: exactly one wins, round after round', async () => {
  const d = join(root, 'race');
  // Left by a run that died holding it (a pid that is not running).
  writeFileSync(lockPathFor(d), JSON.stringify({ pid: 2 ** 22 + 7, command: 'train', since: 'long ago' }));
  const N = 7;
  for (let round = 0; round < 4; round++) {
    const rs = Array.from({ length: N }, () => racer(d));
    for (const r of rs) assert.is((await r.lines.next()).value, 'ready');
    for (const r of rs) r.child.stdin!.write('go\n');
    const said = await Promise.all(rs.map(async (r) => (await r.lines.next()).value as string));
    const winners = rs.filter((_, i) => said[i] === 'won');
    assert.is(winners.length, 1, `round ${round}: ${said.join(', ')}`);
    assert.equal(said.filter((s) => s !== 'won'), Array(N - 1).fill('busy'), `round ${round}`);
    const w = winners[0]!;
    assert.is(JSON.parse(readFileSync(lockPathFor(d), 'utf8')).pid, w.child.pid, 'the file names the winner');
    // Half the rounds end with kill -9 (the file stays, with a dead pid), half with a release.
    if (round % 2 === 0) w.child.kill('SIGKILL');
    else w.child.stdin!.write('release\n');
    await Promise.all(rs.map((r) => exited(r.child)));
    assert.is(snapshot(lockPathFor(d)) === 'absent', round % 2 === 1, 'a release removes the file; a kill leaves it');
  }
});

test('in one process: a second job on the output is refused, a nested lock of the same job runs', async () => {
  const d = join(root, 'jobs');
  let nested = '';
  const first = withOutputLock(d, 'train', async () => {
    await sleep(30);
    nested = await withOutputLock(d, 'train', () => 'nested ran');
    // Under a directory it holds, the job writes without another lock file.
    await withOutputLock(join(d, 'model'), 'export', () => assert.is(snapshot(lockPathFor(join(d, 'model'))), 'absent'));
    return 'first';
  });
  const second = await failure(() => withOutputLock(d, 'profile', () => 'second'));
  assert.is(second.code, 'ERR_IO');
  assert.match(second.message, /another job of this process .*plast train/);
  // Overlapping outputs are one output: a file under the held directory, or a directory above it.
  assert.is((await failure(() => withOutputLock(join(d, 'model'), 'export', () => 0))).code, 'ERR_IO');
  assert.is((await failure(() => withOutputLock(root, 'sweep', () => 0))).code, 'ERR_IO');
  assert.is(await first, 'first');
  assert.is(nested, 'nested ran');
  assert.is(snapshot(lockPathFor(d)), 'absent', 'released when the job ends');
  assert.is(await withOutputLock(d, 'profile', () => 'after'), 'after');

  // lockOutput (a CLI's lock) is held by every context of the process.
  const e = join(root, 'cli');
  const lock = lockOutput(e, 'train');
  try {
    assert.equal(await Promise.all([withOutputLock(e, 'train', () => 1), withOutputLock(e, 'train', () => 2)]), [1, 2]);
    assert.is((await failure(() => lockOutput(e, 'train'))).code, 'ERR_IO');
  } finally {
    lock.release();
  }
});

test('the library writers take the lock: train() and writeProfile on an output another process holds fail before writing', async () => {
  const pairs = join(root, 'pairs.jsonl');
  writeFileSync(pairs, [0, 1, 2].map((i) => JSON.stringify({ lang: 'ar', source: `once upon a time ${i}`, target: `the cat ${i}` })).join('\n') + '\n');
  const m = await Model.load(join(ASSETS, 'stories260K'), { backend: 'cpu' });
  try {
    const prof = await runProfile(m, { data: join(ASSETS, 'data', 'xquad_questions_train.jsonl'), langs: ['en', 'ar'], limit: 2, progress: false });
    for (const [name, write] of [
      ['train', (out: string) => train(m, { out, data: pairs, layers: [0], epochs: 1, batch: 2, progress: false })],
      ['writeProfile', (out: string) => writeProfile(out, prof, { plots: false })],
    ] as const) {
      const out = join(root, `lib-${name}`);
      const holder = await holdLock(out, 'run');
      try {
        const e = await failure(() => write(out));
        assert.is(e.code, 'ERR_IO', name);
        assert.ok(e.message.includes(`pid ${holder.pid}`), `${name}: ${e.message}`);
        assert.is(snapshot(out), 'absent', `${name} wrote nothing`);
      } finally {
        await holder.kill();
      }
      await write(out); // free once the holder is gone
      assert.is.not(snapshot(out), 'absent');
    }
  } finally {
    m.dispose();
  }
});

// A file system without flock (some Lustre mounts, FUSE) answers ENOSYS: there the output is
// written without the kernel lock, with a warning, rather than every command refusing to run. The
// child runs with a preloaded flock that fails so; it needs a C compiler (the native build has one).
const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
if (!cc) console.log('  skip: no C compiler (cc, gcc, clang) to build the ENOSYS flock shim');
(cc ? test : test.skip)('a file system without flock: the output is written, with a warning', () => {
  const src = join(root, 'noflock.c');
  const so = join(root, 'noflock.so');
  writeFileSync(src, '#include <errno.h>\nint flock(int fd, int op) { (void)fd; (void)op; errno = ENOSYS; return -1; }\n');
  const built = spawnSync(cc!, ['-shared', '-fPIC', '-o', so, src], { encoding: 'utf8' });
  assert.is(built.status, 0, built.stderr);
  const d = join(root, 'no-flock');
  const script = `const { lockOutput } = require(${JSON.stringify(LOCK_MODULE)});
const a = lockOutput(process.argv[1], 'train');
const b = lockOutput(process.argv[1] + '-2', 'train');
console.log(JSON.stringify({ record: JSON.parse(require('fs').readFileSync(a.file, 'utf8')), pid: process.pid }));
a.release(); b.release();`;
  const r = spawnSync(process.execPath, ['-e', script, d], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: so } });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { record: { pid: number }; pid: number };
  assert.is(out.record.pid, out.pid, 'the lock file still names the writer');
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('plast: warning:'));
  assert.is(warnings.length, 1, `one warning per directory: ${r.stderr}`);
  assert.match(warnings[0]!, /the file system has no flock, so .*no-flock is written without the one-writer lock/);
  // Without the shim the same call takes the kernel lock and says nothing.
  const plain = spawnSync(process.execPath, ['-e', script, d], { encoding: 'utf8' });
  assert.is(plain.status, 0, plain.stderr);
  assert.is(plain.stderr, '');
});

test.after(cleanup(root));
test.run();
