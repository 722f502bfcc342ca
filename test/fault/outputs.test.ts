// Fault cases, profile directories and outputs: a profile whose profile.json or counts.safetensors
// is damaged (including counts above a language's token total), `plast select` options out of
// range, outputs in read-only places, and a second writer on a locked output. Each is a typed
// error; the profile read and any existing output stay byte for byte as they were.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Model } from '../../src/model/model';
import { CountsFile, readCounts, writeCounts } from '../../src/profile/counts';
import { reselect } from '../../src/profile/merge';
import { runProfile, writeProfile } from '../../src/profile/profile';
import { TrainLog } from '../../src/train/log';
import { writeJsonAtomic } from '../../src/util/atomic';
import { lockOutput, lockPathFor } from '../../src/util/lock';
import { ASSETS } from '../helpers';
import { FaultCase, checkAll, cleanup, holdLock, report, snapshot, tempDir } from './harness';

const root = tempDir('outputs');
const GOOD = join(root, 'good');
let n = 0;
/** A copy of the good profile with `mutate` applied. */
const copy = (mutate: (dir: string) => void): string => {
  const d = join(root, `p${n++}`);
  cpSync(GOOD, d, { recursive: true });
  mutate(d);
  return d;
};
const editJson = (d: string, f: (j: Record<string, any>) => unknown): void => {
  const p = join(d, 'profile.json');
  const j = JSON.parse(readFileSync(p, 'utf8')) as Record<string, any>;
  const r = f(j);
  writeFileSync(p, JSON.stringify(r === undefined ? j : r));
};
const editCounts = (d: string, f: (c: CountsFile) => void): void => {
  const p = join(d, 'counts.safetensors');
  const c = readCounts(p);
  f(c);
  rmSync(p);
  writeCounts(p, c);
};

test.before(async () => {
  const m = await Model.load(join(ASSETS, 'stories260K'), { backend: 'cpu' });
  const p = await runProfile(m, { data: join(ASSETS, 'data', 'xquad_questions_train.jsonl'), langs: ['en', 'ar'], limit: 3, progress: false });
  m.dispose();
  await writeProfile(GOOD, p, { plots: false });
});

function cases(): FaultCase[] {
  const out: FaultCase[] = [];
  const sel = (name: string, mutate: (d: string) => void, file: string, field?: string, code?: string | string[]): void => {
    const d = copy(mutate);
    out.push({ name: `select: ${name}`, run: () => reselect(d, { plots: false }), file, code, untouched: [d], ...(field ? { field } : {}) });
    // The same input, written elsewhere: an existing output there stays whole.
    const o = copy(() => {});
    out.push({ name: `select --out: ${name}`, run: () => reselect(d, { plots: false, out: o }), file, code, untouched: [d, o], ...(field ? { field } : {}) });
  };
  sel('profile.json not JSON', (d) => writeFileSync(join(d, 'profile.json'), '{"format": '), 'profile.json', undefined, 'ERR_FORMAT');
  sel('profile.json null', (d) => writeFileSync(join(d, 'profile.json'), 'null'), 'profile.json', undefined, 'ERR_FORMAT');
  sel('profile.json a list', (d) => writeFileSync(join(d, 'profile.json'), '[]'), 'profile.json', undefined, 'ERR_FORMAT');
  sel('profile.json missing', (d) => rmSync(join(d, 'profile.json')), 'profile.json', undefined, 'ERR_IO');
  sel('profile.json a directory', (d) => {
    rmSync(join(d, 'profile.json'));
    mkdirSync(join(d, 'profile.json'));
  }, 'profile.json', undefined, ['ERR_IO', 'ERR_FORMAT']);
  sel('format wrong', (d) => editJson(d, (j) => void (j['format'] = 'other')), 'profile.json', undefined, 'ERR_FORMAT');
  sel('formatVersion 2', (d) => editJson(d, (j) => void (j['formatVersion'] = 2)), 'profile.json', undefined, 'ERR_FORMAT');
  sel('langs differ from the counts', (d) => editJson(d, (j) => void (j['params'].langs = ['en', 'zh'])), 'profile.json', undefined, 'ERR_MISMATCH');
  sel('token total differs from the counts', (d) => editJson(d, (j) => void (j['languages'].ar.tokens += 1)), 'profile.json', undefined, 'ERR_MISMATCH');
  sel('counts.safetensors missing', (d) => rmSync(join(d, 'counts.safetensors')), 'counts.safetensors', undefined, 'ERR_IO');
  sel('counts.safetensors garbage', (d) => writeFileSync(join(d, 'counts.safetensors'), 'not a safetensors file at all'), 'counts.safetensors', undefined, 'ERR_FORMAT');
  sel('counts.safetensors a FIFO', (d) => {
    rmSync(join(d, 'counts.safetensors'));
    execFileSync('mkfifo', [join(d, 'counts.safetensors')]);
  }, 'counts.safetensors', undefined, 'ERR_IO');
  sel('a count above the token total', (d) => editCounts(d, (c) => void (c.counts['ar']![5] = c.tokens['ar']! + 1)), 'counts.safetensors', 'counts.ar', 'ERR_FORMAT');
  sel('every count above the token total', (d) => editCounts(d, (c) => void c.counts['en']!.fill(c.tokens['en']! * 10)), 'counts.safetensors', 'counts.en', 'ERR_FORMAT');
  sel('zero tokens counted', (d) => {
    editCounts(d, (c) => {
      c.tokens['ar'] = 0;
      c.counts['ar']!.fill(0);
    });
    editJson(d, (j) => void (j['languages'].ar.tokens = 0));
  }, 'counts.safetensors', 'tokens', 'ERR_FORMAT');
  sel('counts metadata format wrong', (d) => {
    const c = readCounts(join(d, 'counts.safetensors'));
    rmSync(join(d, 'counts.safetensors'));
    writeCounts(join(d, 'counts.safetensors'), c);
    const b = readFileSync(join(d, 'counts.safetensors'));
    writeFileSync(join(d, 'counts.safetensors'), Buffer.from(b.toString('latin1').replace('plast-counts', 'plast-xounts'), 'latin1'));
  }, 'counts.safetensors', undefined, 'ERR_FORMAT');
  // The options of `plast select`.
  for (const [k, v] of [['tau', -1], ['tau', 1], ['tau', NaN], ['minLayers', -1], ['minLayers', 1.5], ['minLayers', 99], ['maxLayers', 0]] as const) {
    const d = copy(() => {});
    out.push({ name: `select ${k} = ${v}`, run: () => reselect(d, { plots: false, [k]: v }), file: '', field: k, code: 'ERR_INVALID', untouched: [d] });
  }
  // Read-only and impossible places.
  for (const p of ['/proc/plast-fault/out', '/sys/plast-fault-out']) {
    out.push({ name: `lock ${p}`, run: () => lockOutput(p, 'test'), file: p, code: 'ERR_IO' });
    out.push({ name: `write a profile to ${p}`, run: () => reselect(copy(() => {}), { plots: false, out: p }), file: p, code: 'ERR_IO' });
    out.push({ name: `write a JSON report to ${p}/r.json`, run: () => writeJsonAtomic(`${p}/r.json`, {}), file: p, code: 'ERR_IO' });
    out.push({ name: `append to a training log in ${p}`, run: () => new TrainLog(p).append({}), file: p, code: 'ERR_IO' });
  }
  {
    const d = copy(() => {});
    out.push({ name: 'a JSON report where a directory is', run: () => writeJsonAtomic(d, {}), file: d, code: 'ERR_IO', untouched: [d] });
  }
  return out;
}

/** A second writer while another process holds the lock: the error names the holder's pid. */
function secondWriter(d: string, holder: number): FaultCase {
  return { name: 'a second writer', run: () => lockOutput(d, 'select'), file: d, field: `pid ${holder}`, code: 'ERR_IO', untouched: [d] };
}

test('profile directories, select options, read-only places and a second writer are typed errors; the outputs stay whole', async () => {
  const locked = copy(() => {});
  const holder = await holdLock(locked);
  try {
    const all = [...cases(), secondWriter(locked, holder.pid)];
    report('profile dirs and outputs', all.length);
    await checkAll(all);
  } finally {
    await holder.kill();
  }
});

test('a lock file whose process has exited is free; temp files a killed writer left are removed', async () => {
  const d = copy(() => {});
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
  writeFileSync(lockPathFor(d), JSON.stringify({ pid, command: 'profile' }));
  const staleDir = join(d, `.checkpoint-000002.${pid}.1700000000000.1.tmp`);
  mkdirSync(staleDir);
  const staleSibling = join(root, `.${d.split('/').pop()}.${pid}.1700000000000.2.tmp`);
  mkdirSync(staleSibling);
  const live = join(d, `.checkpoint-000004.${process.ppid}.1700000000000.3.tmp`);
  mkdirSync(live);
  const lock = lockOutput(d, 'test');
  assert.equal(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  assert.is(snapshot(staleDir), 'absent');
  assert.is(snapshot(staleSibling), 'absent');
  assert.is.not(snapshot(live), 'absent', "a live process's temp directory is left alone");
  lock.release();
  assert.is(snapshot(lock.file), 'absent');
  // Taken again after release.
  lockOutput(d, 'test').release();
});

test('a lock file left empty, or naming a live process that holds no lock, is free', () => {
  const d = copy(() => {});
  writeFileSync(lockPathFor(d), '');
  lockOutput(d, 'test').release();
  // A pid that runs (the parent of this process) is no longer a holder: only the kernel lock is.
  writeFileSync(lockPathFor(d), JSON.stringify({ pid: process.ppid, command: 'profile', since: 'now' }));
  const lock = lockOutput(d, 'test');
  assert.equal(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  lock.release();
});

test('control: the good profile reselects', async () => {
  const p = await reselect(copy(() => {}), { plots: false });
  assert.ok(p.json.selection.selected.length >= 0);
});

test.after(cleanup(root));
test.run();
