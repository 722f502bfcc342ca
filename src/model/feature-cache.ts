// Projected image features kept by the image they came from, least recently used first out, within
// a byte budget. The features of an image do not depend on the prompt around it, and a profile or
// a training run meets each image once per language (and per epoch): the tower runs once instead.
import { createHash } from 'node:crypto';

export class FeatureCache {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(readonly budgetBytes: number) {}

  /** A key for an image source: the path or text itself when short, else a hash of it. */
  static key(source: string | Uint8Array, aspect: string): string {
    if (typeof source === 'string' && source.length <= 512) return `${aspect}\0s\0${source}`;
    return `${aspect}\0h\0${createHash('sha256').update(source).digest('hex')}`;
  }

  get(key: string): Float32Array | undefined {
    const v = this.entries.get(key);
    if (v) {
      this.entries.delete(key); // most recently used last
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, features: Float32Array): void {
    if (features.byteLength > this.budgetBytes || this.entries.has(key)) return;
    const own = features.slice(); // not a view that keeps a whole batch's buffer alive
    this.entries.set(key, own);
    this.bytes += own.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(k);
      this.bytes -= v.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
