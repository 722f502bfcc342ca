// Recomputing a saved profile (`plast select`) and summing shards (`plast profile merge`), both
// from counts.safetensors alone: the model is not run.
import { resolve } from 'node:path';
import { PlastError } from '../errors';
import { withOutputLock } from '../util/lock';
import { CountsFile } from './counts';
import { LapeOptions } from './lape';
import { finishProfile, metaOf, readProfile, writeProfile } from './profile';
import { SelectOptions } from './stats';
import { Profile, ProfileJson, ShardCoverage } from './types';

export interface ReselectOptions extends SelectOptions {
  lape?: LapeOptions;
  /** Write the recomputed profile here instead of replacing `dir`. */
  out?: string;
  plots?: boolean;
}

function statOptions(json: ProfileJson, o: SelectOptions & { lape?: LapeOptions }): SelectOptions & { lape: LapeOptions } {
  return {
    tau: o.tau ?? json.stats.tau,
    minLayers: o.minLayers ?? json.stats.minLayers,
    maxLayers: o.maxLayers !== undefined ? o.maxLayers : json.stats.maxLayers,
    peak: o.peak ?? json.stats.peak ?? 'global',
    lape: {
      filterRate: o.lape?.filterRate ?? json.lape.filterRate,
      activationBarRatio: o.lape?.activationBarRatio ?? json.lape.activationBarRatio ?? json.lape.filterRate,
      topRate: o.lape?.topRate ?? json.lape.topRate,
    },
  };
}

/**
 * Recomputes the statistics, selection, LAPE neurons and plots of the profile in `dir` from its
 * saved counts (τ, --min-layers, --max-layers default to the values it was made with) and writes
 * the result atomically to `dir` (or `out`).
 */
export async function reselect(dir: string, opts: ReselectOptions = {}): Promise<Profile> {
  // Locked before the read: in place, the read and the write are one update.
  return withOutputLock(opts.out ?? dir, 'select', () => reselectLocked(dir, opts));
}

async function reselectLocked(dir: string, opts: ReselectOptions): Promise<Profile> {
  const { json, counts } = readProfile(dir);
  checkCountRanges(dir, counts);
  const so = statOptions(json, opts);
  const meta = metaOf(json);
  meta.run = { ...json.run, reselected: { at: new Date().toISOString(), from: dir, tau: so.tau, minLayers: so.minLayers, maxLayers: so.maxLayers ?? null } };
  const p = finishProfile(meta, counts, so);
  await writeProfile(opts.out ?? dir, p, opts.plots === false ? { plots: false } : {});
  return p;
}

/**
 * A neuron fires on at most every counted token of a language: a count above that language's
 * token total (a damaged or hand-edited counts file) would give rates above 1 and a selection
 * that means nothing, so it is refused before anything is written.
 */
export function checkCountRanges(dir: string, c: CountsFile): void {
  const file = resolve(dir, 'counts.safetensors');
  for (const l of c.langs) {
    const total = c.tokens[l]!;
    if (!(total > 0)) {
      throw new PlastError('ERR_FORMAT', `${file}: language ${l} has ${total} counted tokens; a profile needs at least one`, { file, field: 'tokens' });
    }
    const v = c.counts[l]!;
    for (let i = 0; i < v.length; i++) {
      if (v[i]! > total) {
        const layer = Math.floor(i / c.intermediate);
        throw new PlastError(
          'ERR_FORMAT',
          `${file}: counts.${l} of layer ${layer}, neuron ${i % c.intermediate} is ${v[i]}, more than the ${total} tokens counted for ${l}`,
          { file, field: `counts.${l}` },
        );
      }
    }
  }
}

export interface MergeOptions extends SelectOptions {
  lape?: LapeOptions;
  plots?: boolean;
}

function mismatch(what: string, a: string, av: unknown, b: string, bv: unknown): PlastError {
  return new PlastError('ERR_MISMATCH', `cannot merge: ${what} differs (${a}: ${JSON.stringify(av)}; ${b}: ${JSON.stringify(bv)})`, { field: what });
}

/**
 * Sums the counts of profiles made by separate processes over disjoint shards of the same
 * questions (`--shard i/n`) into the profile a single run would give. Refused (ERR_MISMATCH):
 * different model weights, data file, languages, scope, template, limit, backend or engine
 * version; shards of different n; overlapping shards (the same shard twice, or an unsharded
 * profile with anything). τ and the layer limits are recomputed: taken from the options, else
 * from the inputs when they agree.
 */
export async function mergeProfiles(out: string, inputs: string[], opts: MergeOptions = {}): Promise<Profile> {
  return withOutputLock(out, 'profile merge', () => mergeLocked(out, inputs, opts));
}

async function mergeLocked(out: string, inputs: string[], opts: MergeOptions): Promise<Profile> {
  if (inputs.length < 2) throw new PlastError('ERR_INVALID', `Expected at least two profile directories to merge but received ${inputs.length}`, { field: 'inputs' });
  // Writing over a shard while reading it would lose that shard's counts.
  const clash = inputs.find((dir) => resolve(dir) === resolve(out));
  if (clash !== undefined) throw new PlastError('ERR_INVALID', `the merge output ${out} is one of its inputs; Expected a new directory`, { field: 'out' });
  const read = inputs.map((dir) => ({ dir, ...readProfile(dir) }));
  for (const r of read) checkCountRanges(r.dir, r.counts);
  const first = read[0]!;
  const checks: [string, (j: ProfileJson) => unknown][] = [
    ['engine version', (j) => j.engineVersion],
    ['model (weights fingerprint)', (j) => j.model.fingerprint],
    ['model shape', (j) => [j.model.layers, j.model.intermediate]],
    ['data file (sha256)', (j) => j.data.sha256],
    ['languages', (j) => j.params.langs],
    ['scope', (j) => j.params.scope],
    ['template', (j) => j.params.template],
    ['limit', (j) => j.params.limit],
    ['backend', (j) => j.params.backend],
  ];
  for (const r of read.slice(1)) {
    for (const [what, get] of checks) {
      if (JSON.stringify(get(r.json)) !== JSON.stringify(get(first.json))) throw mismatch(what, first.dir, get(first.json), r.dir, get(r.json));
    }
  }
  // Shards: all of the same n, pairwise disjoint.
  const covered = new Map<number, string>();
  let n: number | undefined;
  for (const r of read) {
    const s: ShardCoverage | null = r.json.params.shard;
    if (s === null) {
      throw new PlastError('ERR_MISMATCH', `cannot merge: ${r.dir} is not a shard (it covers every question), so it overlaps the other inputs`, { field: 'shard' });
    }
    if (n !== undefined && s.count !== n) throw mismatch('shard count n', first.dir, n, r.dir, s.count);
    n = s.count;
    for (const i of s.indices) {
      const prev = covered.get(i);
      if (prev !== undefined) {
        throw new PlastError('ERR_MISMATCH', `cannot merge: shard ${i}/${s.count} appears twice (${prev} and ${r.dir})`, { field: 'shard' });
      }
      covered.set(i, r.dir);
    }
  }
  const indices = [...covered.keys()].sort((a, b) => a - b);
  const shard: ShardCoverage | null = indices.length === n ? null : { count: n!, indices };

  // τ and the layer limits: the options, else the inputs' common values.
  const common = <T>(what: string, get: (j: ProfileJson) => T, given: T | undefined): T => {
    if (given !== undefined) return given;
    const v = get(first.json);
    for (const r of read.slice(1)) {
      if (JSON.stringify(get(r.json)) !== JSON.stringify(v)) {
        throw new PlastError('ERR_MISMATCH', `cannot merge: the inputs were made with different ${what} (${first.dir}: ${JSON.stringify(v)}; ${r.dir}: ${JSON.stringify(get(r.json))}); give it explicitly`, { field: what });
      }
    }
    return v;
  };
  const so: SelectOptions & { lape: LapeOptions } = {
    tau: common('tau', (j) => j.stats.tau, opts.tau),
    minLayers: common('min-layers', (j) => j.stats.minLayers, opts.minLayers),
    maxLayers: common('max-layers', (j) => j.stats.maxLayers, opts.maxLayers),
    peak: common('peak', (j) => j.stats.peak ?? 'global', opts.peak),
    lape: {
      filterRate: common('LAPE filter rate', (j) => j.lape.filterRate, opts.lape?.filterRate),
      activationBarRatio: common('LAPE activation bar ratio', (j) => j.lape.activationBarRatio ?? j.lape.filterRate, opts.lape?.activationBarRatio),
      topRate: common('LAPE top rate', (j) => j.lape.topRate, opts.lape?.topRate),
    },
  };

  const langs = first.counts.langs;
  const sum: CountsFile = {
    langs,
    layers: first.counts.layers,
    intermediate: first.counts.intermediate,
    counts: Object.fromEntries(langs.map((l) => [l, new Float64Array(first.counts.layers * first.counts.intermediate)])),
    tokens: Object.fromEntries(langs.map((l) => [l, 0])),
    questions: Object.fromEntries(langs.map((l) => [l, 0])),
  };
  for (const r of read) {
    for (const l of langs) {
      const acc = sum.counts[l]!;
      const c = r.counts.counts[l]!;
      for (let k = 0; k < acc.length; k++) acc[k]! += c[k]!;
      sum.tokens[l]! += r.counts.tokens[l]!;
      sum.questions[l]! += r.counts.questions[l]!;
    }
  }
  const meta = metaOf(first.json);
  meta.params = { ...meta.params, shard };
  meta.questions = read.reduce((a, r) => a + r.json.questions, 0);
  meta.languages = Object.fromEntries(
    langs.map((l) => [
      l,
      {
        questions: sum.questions[l]!,
        tokens: sum.tokens[l]!,
        promptTokens: read.reduce((a, r) => a + r.json.languages[l]!.promptTokens, 0),
      },
    ]),
  );
  meta.run = {
    command: 'profile merge',
    mergedAt: new Date().toISOString(),
    inputs: read.map((r) => ({ dir: r.dir, shard: r.json.params.shard, run: r.json.run })),
  };
  const p = finishProfile(meta, sum, so);
  await writeProfile(out, p, opts.plots === false ? { plots: false } : {});
  return p;
}
