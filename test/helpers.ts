// Shared test helpers: paths, fixture loading, relative errors, running the CLI, and an explicit
// skip notice for suites whose inputs (../shared) are absent — a skipped suite registers no
// passing test.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { PlastError } from '../src/errors';
import { concatF32, packBatch } from '../src/model/batch';
import { Model } from '../src/model/model';
import { call } from '../src/native';
import { readSafetensorsHeader } from '../src/model/safetensors';

export const ROOT = resolve(__dirname, '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const ASSETS = join(ROOT, 'assets');
/** The compiled file package.json's "bin" names: what `plast` runs once installed. */
export const CLI = join(ROOT, (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { plast: string } }).bin.plast);

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The working directory (default: the test's). */
  cwd?: string;
  /** The whole environment (default: this process's with PLAST_NO_PROGRESS=1, so stderr holds
   * messages rather than progress lines). */
  env?: NodeJS.ProcessEnv;
}

/** A `plast(...args)` that runs the CLI to its end under these options. */
export function plastCli(opts: CliOptions = {}): (...args: string[]) => CliResult {
  return (...args) => {
    const env = opts.env ?? { ...process.env, PLAST_NO_PROGRESS: '1' };
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

/** Runs `plast ARGS` to its end (plastCli's defaults). */
export const plast = plastCli();
export const SHARED = process.env.PLAST_SHARED ?? resolve(ROOT, '..', 'shared');

/** Returns the path if it exists; otherwise prints why the suite is skipped and returns null. */
export function sharedPath(rel: string, suite: string): string | null {
  const p = join(SHARED, rel);
  if (existsSync(p)) return p;
  console.log(`  SKIP ${suite}: ${p} not found (set PLAST_SHARED to the shared folder); no test from it counted`);
  return null;
}

export type Tensors = Record<string, Float32Array | BigInt64Array>;

/** Reads every F32/I64 tensor of a safetensors file into typed arrays. */
export function readTensors(file: string): Tensors {
  const h = readSafetensorsHeader(file);
  const buf = readFileSync(file);
  const out: Tensors = {};
  for (const [name, t] of h.tensors) {
    const bytes = buf.buffer.slice(buf.byteOffset + t.begin, buf.byteOffset + t.end);
    if (t.dtype === 'F32') out[name] = new Float32Array(bytes);
    else if (t.dtype === 'I64') out[name] = new BigInt64Array(bytes);
    else throw new Error(`${file}: ${name} has dtype ${t.dtype}; fixtures hold F32 and I64 only`);
  }
  return out;
}

export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`length ${a.length} != ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - ref[i]!;
    num += d * d;
    den += ref[i]! * ref[i]!;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** log softmax(row)[label], computed independently of the engine (a test's reference). */
export function logSoftmax(row: Float32Array, label: number): number {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  return row[label]! - mx - Math.log(s);
}

/** Per-position next-token NLL of `ids` from logits at every position ([T x V], row-major). */
export function nextTokenNll(logits: Float32Array, ids: number[], V: number): Float32Array {
  const nll = new Float32Array(ids.length - 1);
  for (let t = 0; t + 1 < ids.length; t++) nll[t] = -logSoftmax(logits.subarray(t * V, (t + 1) * V), ids[t + 1]!);
  return nll;
}

export function f32(t: Float32Array | BigInt64Array | undefined, name: string): Float32Array {
  if (!(t instanceof Float32Array)) throw new Error(`fixture tensor ${name} missing or not F32`);
  return t;
}

export interface FixtureMeta {
  model: string;
  ids: number[][];
  count_mask: number[][];
  target_spans: [number, number][];
  counted_tokens: number;
  loss: number;
  label_tokens: number;
  train_layers: number[];
  trainable: string[];
  adamw: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; warmup_steps: number; total_steps: number; clip: number };
  steps: { loss: number; lr: number; grad_norm: number }[];
  optim: { tensors: string[]; eps: number; steps: { lr: number; grad_norm: number }[] };
  /** The head-dim fixtures' long batch (forward only; long.ids, long.nll, long.counts). */
  long?: { lengths: number[]; rows: number; logit_rows: number; counted_tokens: number };
}

export function fixture(name: string): { dir: string; meta: FixtureMeta; expected: Tensors } {
  const dir = join(FIXTURES, name);
  return {
    dir,
    meta: JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as FixtureMeta,
    expected: readTensors(join(dir, 'expected.safetensors')),
  };
}

/**
 * A head-dim fixture's long batch as sequences: ids from long.ids (one padded row per sequence),
 * counted tokens 1 .. n - 2, logits at every position; and HF's per-token NLL of the next token,
 * concatenated over the sequences (long.nll).
 */
export function longBatch(name: string, meta: FixtureMeta, expected: Tensors): { seqs: { ids: number[]; count: number[]; logitAt: number[] }[]; nll: Float32Array } {
  if (!meta.long) throw new Error(`fixture ${name} has no long batch`);
  const all = expected['long.ids'];
  if (!(all instanceof BigInt64Array)) throw new Error(`fixture ${name}: long.ids missing or not I64`);
  const T = all.length / meta.long.lengths.length;
  const seqs = meta.long.lengths.map((n, b) => {
    const ids = Array.from(all.subarray(b * T, b * T + n), Number);
    return { ids, count: ids.map((_, t) => (t >= 1 && t < n - 1 ? 1 : 0)), logitAt: ids.map((_, t) => t) };
  });
  return { seqs, nll: f32(expected['long.nll'], 'long.nll') };
}

/**
 * A head-dim fixture's long batch through `model` with the gate values returned: the batch, the
 * forward's result, and the relative error of the per-token NLL against HF's (long.nll).
 */
export async function longForward(
  model: Model,
  name: string,
  meta: FixtureMeta,
  expected: Tensors,
): Promise<{ batch: ReturnType<typeof packBatch>; r: Awaited<ReturnType<Model['native']['forward']>>; nllErr: number }> {
  const { seqs, nll } = longBatch(name, meta, expected);
  const batch = packBatch(seqs, model.padId());
  batch.wantGates = true;
  const r = await call(() => model.native.forward(batch));
  const V = model.config.vocabSize;
  const logits = batch.logitSpans.map(([s0, e0]) => r.logits!.subarray(s0 * V, e0 * V));
  return { batch, r, nllErr: relErr(concatNll(logits, seqs, V), nll) };
}

/** The NLLs of every sequence's next tokens (nextTokenNll), concatenated as long.nll is. */
export function concatNll(logits: Float32Array[], seqs: { ids: number[] }[], V: number): Float32Array {
  return concatF32(seqs.map((s, b) => nextTokenNll(logits[b]!, s.ids, V)));
}

/**
 * Gate counts of a forward with batch.wantGates, against the gate values the backend returned
 * and against reference (HF) counts, per layer l and neuron j:
 *   selfDiff: neurons whose count differs from the number of counted tokens with gate > 0;
 *   hfDiff: the sum of |count - reference count|;
 *   unexplained: neurons whose |count - reference count| exceeds the number of counted tokens
 *     with |gate| <= delta (delta = deltaOverRms x the rms of layer l's gates over real tokens):
 *     a decision can only flip where the gate is that close to 0.
 */
export function gateCountCheck(
  batch: { B: number; T: number; keyMask: Int32Array; countMask?: Int32Array },
  r: { gates?: Float32Array | null; counts?: BigInt64Array | null },
  ref: BigInt64Array,
  L: number,
  I: number,
  deltaOverRms: number,
): { selfDiff: number; hfDiff: number; unexplained: number } {
  const N = batch.B * batch.T;
  const gates = r.gates;
  const counts = r.counts;
  const cm = batch.countMask;
  assert.ok(gates && gates.length === L * N * I, `expected ${L} x ${N} x ${I} gate values`);
  assert.ok(counts && counts.length === L * I && cm, 'counts and a count mask');
  let selfDiff = 0;
  let hfDiff = 0;
  let unexplained = 0;
  for (let l = 0; l < L; l++) {
    let ss = 0;
    let real = 0;
    for (let n = 0; n < N; n++) {
      if (!batch.keyMask[n]) continue;
      real++;
      for (let j = 0; j < I; j++) ss += gates[(l * N + n) * I + j]! ** 2;
    }
    const delta = deltaOverRms * Math.sqrt(ss / (real * I));
    for (let j = 0; j < I; j++) {
      let pos = 0;
      let near = 0;
      for (let n = 0; n < N; n++) {
        if (!cm[n]) continue;
        const g = gates[(l * N + n) * I + j]!;
        if (g > 0) pos++;
        if (Math.abs(g) <= delta) near++;
      }
      const c = Number(counts[l * I + j]);
      if (c !== pos) selfDiff++;
      const d = Math.abs(c - Number(ref[l * I + j]));
      hfDiff += d;
      if (d > near) unexplained++;
    }
  }
  return { selfDiff, hfDiff, unexplained };
}

/** The training sequences of a fixture: loss on the target span (next-token labels). */
export function targetSequences(meta: FixtureMeta): { ids: number[]; logitAt: number[]; labels: number[] }[] {
  return meta.ids.map((ids, b) => {
    const [s, e] = meta.target_spans[b]!;
    const logitAt: number[] = [];
    const labels: number[] = [];
    for (let t = s - 1; t < e - 1; t++) {
      logitAt.push(t);
      labels.push(ids[t + 1]!);
    }
    return { ids, logitAt, labels };
  });
}

export async function rejects(p: Promise<unknown> | (() => unknown), code: string, pattern?: RegExp): Promise<Error & { code?: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code !== code) throw new Error(`expected ${code} but got ${e.code}: ${e.message}`);
    if (pattern && !pattern.test(e.message)) throw new Error(`message "${e.message}" does not match ${pattern}`);
    return e;
  }
  throw new Error(`expected an error with code ${code}, but nothing was thrown`);
}

/**
 * Runs `fn` and asserts it throws a PlastError with `code` (and a message matching `pattern`),
 * whose message is for a person: no stack frames inside it. Returns the error.
 */
export async function expectCode(code: string, fn: () => Promise<unknown> | unknown, pattern?: RegExp): Promise<PlastError> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, PlastError, String(err));
    assert.is((err as PlastError).code, code, (err as Error).message);
    if (pattern) assert.match((err as Error).message, pattern);
    assert.not.match((err as Error).message, /\n\s+at /);
    return err as PlastError;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}
