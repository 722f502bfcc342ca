// The models a server holds, by handle. A directory loaded twice on the same backend is the same
// model (one load, one handle): clients that each "load" the model they need share its weights.
// Loads in flight are shared too, so two concurrent loads of one directory read it once.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { PlastError } from '../errors';
import { Model } from '../model/model';
import { BackendChoice, resolveBackend } from '../native';

export interface Loaded {
  handle: string;
  dir: string;
  backend: string;
  model: Model;
  loadSeconds: number;
  forwardCalls: number;
}

export class ModelRegistry {
  private next = 1;
  private readonly byHandle = new Map<string, Loaded>();
  private readonly byKey = new Map<string, Promise<Loaded>>();

  async load(dir: string, backend: BackendChoice | undefined, opts: { checkFinite?: boolean; onProgress?: (done: number, total: number) => void }): Promise<{ loaded: Loaded; reused: boolean }> {
    const name = resolveBackend(backend);
    let real: string;
    try {
      real = realpathSync(resolve(dir));
    } catch {
      real = resolve(dir); // Model.load names the missing directory in its error
    }
    const key = `${name}\u0000${real}`;
    const have = this.byKey.get(key);
    if (have) return { loaded: await have, reused: true };
    const t0 = Date.now();
    const p = Model.load(real, { backend: name, ...(opts.checkFinite !== undefined ? { checkFinite: opts.checkFinite } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }).then((model) => {
      const loaded: Loaded = { handle: `m${this.next++}`, dir: real, backend: name, model, loadSeconds: (Date.now() - t0) / 1000, forwardCalls: 0 };
      this.byHandle.set(loaded.handle, loaded);
      return loaded;
    });
    this.byKey.set(key, p);
    p.catch(() => this.byKey.delete(key)); // a failed load is tried again next time
    return { loaded: await p, reused: false };
  }

  get(handle: string): Loaded {
    const l = this.byHandle.get(handle);
    if (!l) throw new PlastError('ERR_INVALID', `Expected a model handle from model.load but received ${JSON.stringify(handle)} (unknown or unloaded)`, { field: 'handle' });
    return l;
  }

  unload(handle: string): boolean {
    const l = this.byHandle.get(handle);
    if (!l) return false;
    this.byHandle.delete(handle);
    this.byKey.delete(`${l.backend}\u0000${l.dir}`);
    l.model.dispose();
    return true;
  }

  disposeAll(): void {
    for (const h of [...this.byHandle.keys()]) this.unload(h);
  }
}
