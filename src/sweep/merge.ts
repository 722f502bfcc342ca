// `plast sweep merge OUT IN...`: joins the directories of a sweep run as shards (`--shard i/n`,
// e.g. one process per GPU) into the directory one unsharded run would have written: each
// finished variant's small files (result.json, eval.json, train.jsonl, summary.json, the loss
// plot) are copied into OUT/variants/<name>/, then the table and plot are written. Refused
// (ERR_MISMATCH): different settings or variant lists, shards of different n, the same shard
// twice, an unsharded input; a shard's unfinished variant is named (ERR_DATA) unless `partial`.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PlastError } from '../errors';
import { writeJsonAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';
import { checkOutputDir, io } from '../util/paths';
import { SweepJson, SweepResult, collect, readSweepJson, variantDir } from './sweep';
import { readVariantResult } from './variant';
import { shardVariants } from './variants';
import { writeSweepTable } from './table';

const COPIED = ['result.json', 'eval.json', 'train.jsonl', 'summary.json', 'loss.svg', 'loss.png'];

export interface MergeSweepOptions {
  /** Merge what is finished even when a shard has unfinished variants (the table says how many). */
  partial?: boolean;
}

type Merged = Pick<SweepResult, 'out' | 'results' | 'table' | 'variants'>;

export async function mergeSweeps(out: string, inputs: string[], o: MergeSweepOptions = {}): Promise<Merged> {
  if (inputs.length < 2) throw new PlastError('ERR_INVALID', `Expected at least two sweep directories to merge but received ${inputs.length}`, { field: 'inputs' });
  checkOutputDir(out, 'OUT');
  return withOutputLock(out, 'sweep merge', () => mergeLocked(out, inputs, o));
}

async function mergeLocked(out: string, inputs: string[], o: MergeSweepOptions): Promise<Merged> {
  const clash = inputs.find((d) => resolve(d) === resolve(out));
  if (clash) throw new PlastError('ERR_INVALID', `the merge output ${out} is one of its inputs; Expected a new directory`, { field: 'out' });
  const read = inputs.map((dir) => ({ dir, json: readSweepJson(dir) }));
  const first = read[0]!;
  for (const r of read.slice(1)) {
    for (const [what, get] of [['settings', (j: SweepJson) => j.settings], ['variants', (j: SweepJson) => j.variants], ['engine version', (j: SweepJson) => j.engine]] as const) {
      if (JSON.stringify(get(r.json)) !== JSON.stringify(get(first.json))) {
        throw new PlastError('ERR_MISMATCH', `cannot merge: the ${what} differ (${first.dir} and ${r.dir})`, { field: what });
      }
    }
  }
  const seen = new Map<number, string>();
  let n: number | undefined;
  for (const r of read) {
    const s = r.json.shard;
    if (s === null) throw new PlastError('ERR_MISMATCH', `cannot merge: ${r.dir} is not a shard (it ran every variant), so it overlaps the other inputs`, { field: 'shard' });
    if (n !== undefined && s.count !== n) throw new PlastError('ERR_MISMATCH', `cannot merge: shard counts differ (${first.dir}: ${n}; ${r.dir}: ${s.count})`, { field: 'shard' });
    n = s.count;
    const prev = seen.get(s.index);
    if (prev !== undefined) throw new PlastError('ERR_MISMATCH', `cannot merge: shard ${s.index}/${s.count} appears twice (${prev} and ${r.dir})`, { field: 'shard' });
    seen.set(s.index, r.dir);
  }
  const variants = first.json.variants;
  for (const r of read) {
    for (const v of shardVariants(variants, r.json.shard!)) {
      const src = variantDir(r.dir, v.name);
      if (!readVariantResult(src)) {
        if (o.partial) continue;
        throw new PlastError('ERR_DATA', `cannot merge: variant ${v.name} of ${r.dir} (shard ${r.json.shard!.index}/${n}) is not finished; rerun that shard, or merge with --partial`, { file: src });
      }
      const dst = variantDir(out, v.name);
      io(dst, 'create the variant directory', () => mkdirSync(dst, { recursive: true }));
      for (const f of COPIED) if (existsSync(join(src, f))) io(join(dst, f), 'copy', () => copyFileSync(join(src, f), join(dst, f)));
    }
  }
  const missing = Array.from({ length: n! }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0 && !o.partial) {
    throw new PlastError('ERR_DATA', `cannot merge: shard(s) ${missing.map((i) => `${i}/${n}`).join(', ')} missing; give every shard, or merge with --partial`, { field: 'inputs' });
  }
  // The merged directory is an unsharded sweep: running \`plast sweep\` on it runs what is missing.
  const json: SweepJson = { ...first.json, shard: null };
  writeJsonAtomic(join(out, 'sweep.json'), { ...json, merged: read.map((r) => ({ dir: r.dir, shard: r.json.shard })) });
  const results = collect(out, variants);
  const table = await writeSweepTable(out, json, results);
  return { out, results, table, variants };
}
