// Deterministic randomness for data order: mulberry32 (32-bit state, so it is trivial to save and
// restore) and a Fisher-Yates shuffle. Each epoch's order is derived from (seed, epoch) alone, so
// resuming in the middle of epoch e needs nothing but the seed and e. Never Math.random.

export class Mulberry32 {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A 32-bit mix of (seed, stream) (the murmur3 finaliser), so nearby seeds give unrelated streams. */
export function mixSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((stream + 1) >>> 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** In-place Fisher-Yates shuffle. */
export function shuffleInPlace<T>(xs: T[], rng: Mulberry32): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}

/** The order of n examples in epoch `epoch` for `seed`. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), new Mulberry32(mixSeed(seed, epoch)));
}
