// The layer sets of a sweep (the paper's Fig. 5 and Table 9), each a variant with a name that is
// also its subdirectory: base (no training, the starting point), first-K (layers 0..K-1 for each
// K), random-N-sS (N layers drawn with seed S; N defaults to the size of the PLAST selection, else
// the largest K), all (every layer), plast (the profile's selection) and plast-attn / plast-mlp
// (the selection's attention or MLP half, Table 9). The order is fixed, so `--shard i/n` (variant
// j runs in shard j % n) splits the same list the same way in every process.
import { PlastError } from '../errors';
import { ModuleSet } from '../model/model';
import { Mulberry32, mixSeed, shuffleInPlace } from '../train/rng';
import { formatLayerList } from '../train/layers';

export type VariantKind = 'base' | 'first' | 'random' | 'all' | 'plast' | 'plast-attn' | 'plast-mlp';

export interface Variant {
  name: string;
  kind: VariantKind;
  /** 0-based layers trained (empty for base). */
  layers: number[];
  modules: ModuleSet;
  seed?: number;
}

export interface VariantPlan {
  numLayers: number;
  /** K of each first-K variant. */
  firstK?: number[];
  randomSeeds?: number[];
  randomSize?: number;
  /** Every layer (default true). */
  all?: boolean;
  /** The base model, untrained (default true). */
  base?: boolean;
  /** The PLAST selection, when a profile is given. */
  selection?: number[];
  /** The attention-only and MLP-only variants of the selection (default true with a selection). */
  modules?: boolean;
}

/** N distinct layers of [0, numLayers) drawn with `seed` (a mulberry32 shuffle seeded by mixSeed(0x5eed, seed), as the data order is), sorted. */
export function randomLayers(numLayers: number, size: number, seed: number): number[] {
  const xs = shuffleInPlace(Array.from({ length: numLayers }, (_, i) => i), new Mulberry32(mixSeed(0x5eed, seed)));
  return xs.slice(0, size).sort((a, b) => a - b);
}

export function planVariants(p: VariantPlan): Variant[] {
  const L = p.numLayers;
  const out: Variant[] = [];
  if (p.base !== false) out.push({ name: 'base', kind: 'base', layers: [], modules: 'all' });
  for (const k of p.firstK ?? []) {
    if (!Number.isInteger(k) || k < 1 || k > L) throw new PlastError('ERR_INVALID', `Expected each K of --k in [1, ${L}] (the model has ${L} layers) but received ${k}`, { field: 'firstK' });
    out.push({ name: `first-${k}`, kind: 'first', layers: Array.from({ length: k }, (_, i) => i), modules: 'all' });
  }
  const seeds = p.randomSeeds ?? [];
  if (seeds.length > 0) {
    const size = p.randomSize ?? p.selection?.length ?? Math.max(0, ...(p.firstK ?? []));
    if (!Number.isInteger(size) || size < 1 || size > L) {
      throw new PlastError('ERR_INVALID', `Expected the random layer-set size in [1, ${L}] but received ${size}${p.randomSize === undefined ? ' (give --random-size, a --profile or --k)' : ''}`, { field: 'randomSize' });
    }
    for (const s of seeds) {
      if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw new PlastError('ERR_INVALID', `Expected random seeds in [0, 4294967295] but received ${s}`, { field: 'randomSeeds' });
      out.push({ name: `random-${size}-s${s}`, kind: 'random', layers: randomLayers(L, size, s), modules: 'all', seed: s });
    }
  }
  if (p.all !== false) out.push({ name: 'all', kind: 'all', layers: Array.from({ length: L }, (_, i) => i), modules: 'all' });
  if (p.selection) {
    const sel = [...new Set(p.selection)].sort((a, b) => a - b);
    if (sel.length === 0 || sel.some((l) => !Number.isInteger(l) || l < 0 || l >= L)) throw new PlastError('ERR_INVALID', `the profile's selection ${JSON.stringify(p.selection)} is not a set of layers of a ${L}-layer model`, { field: 'profile' });
    out.push({ name: 'plast', kind: 'plast', layers: sel, modules: 'all' });
    if (p.modules !== false) {
      out.push({ name: 'plast-attn', kind: 'plast-attn', layers: sel, modules: 'attn' });
      out.push({ name: 'plast-mlp', kind: 'plast-mlp', layers: sel, modules: 'mlp' });
    }
  }
  const names = new Set<string>();
  for (const v of out) {
    if (names.has(v.name)) throw new PlastError('ERR_INVALID', `variant ${v.name} is asked for twice`, { field: 'variants' });
    names.add(v.name);
  }
  if (out.length === 0) throw new PlastError('ERR_INVALID', 'the sweep has no variants (give --k, --random-seeds, --profile, or keep base/all)', { field: 'variants' });
  return out;
}

/** A variant's layers as a short text: "0-2", "all 8", "0,3 (attn)". */
export function describeLayers(v: Variant, numLayers: number): string {
  if (v.kind === 'base') return '-';
  const list = v.layers.length === numLayers ? `0-${numLayers - 1}` : formatLayerList(v.layers);
  return v.modules === 'all' ? list : `${list} (${v.modules})`;
}

/** The variants shard `index` of `count` runs: variant j when j % count == index. */
export function shardVariants(vs: Variant[], shard?: { index: number; count: number }): Variant[] {
  return shard ? vs.filter((_, j) => j % shard.count === shard.index) : vs;
}
