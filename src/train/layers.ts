// Which layers to train: a list ("0-4", "0,2,3", "0-2,5") or a profile directory whose
// profile.json carries `selection.selected` (0-based layer indices) — the contract with
// `plast profile`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlastError } from '../errors';
import { ModuleSet } from '../model/model';

/** The tensor sets of a layer that can train (`modules`): every tensor, or the attention or MLP
 * half with the RMSNorm in front of it (the paper's Table 9 ablation). */
export const MODULE_SETS: ModuleSet[] = ['all', 'attn', 'mlp'];

export function parseLayerList(spec: string): number[] {
  const out = new Set<number>();
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0) throw new PlastError('ERR_INVALID', `Expected a layer list such as "0-4" or "0,2,3" for --layers but received "${spec}"`, { field: 'layers' });
  for (const part of parts) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw new PlastError('ERR_INVALID', `Expected a layer list such as "0-4" or "0,2,3" for --layers but received "${spec}" ("${part}")`, { field: 'layers' });
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw new PlastError('ERR_INVALID', `--layers range "${part}" runs backwards`, { field: 'layers' });
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** A list of layers as --layers takes it, runs written as ranges: [0, 1, 2, 5] -> "0-2,5". */
export function formatLayerList(layers: number[]): string {
  const xs = [...new Set(layers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : String(xs[i]));
    i = j + 1;
  }
  return parts.join(',');
}

/** The selected layers of a `plast profile` output directory (DIR/profile.json selection.selected). */
export function layersFromProfile(dir: string): number[] {
  const file = join(dir, 'profile.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_IO' : 'ERR_FORMAT';
    throw new PlastError(code, `${file}: cannot read the profile (${(err as Error).message})`, { file, cause: err });
  }
  const sel = (json as { selection?: { selected?: unknown } })?.selection?.selected;
  if (!Array.isArray(sel) || !sel.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected selection.selected to be a list of 0-based layer indices but found ${JSON.stringify(sel)}`, { file, field: 'selection.selected' });
  }
  if (sel.length === 0) throw new PlastError('ERR_DATA', `${file}: the profile selected no layers; nothing to train`, { file, field: 'selection.selected' });
  return [...new Set(sel as number[])].sort((a, b) => a - b);
}

/** The conversation format a `plast profile` output directory was made with (params.template). */
export function profileFormat(dir: string): string | undefined {
  try {
    const t = (JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')) as { params?: { template?: unknown } }).params?.template;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined; // layersFromProfile reports an unreadable profile
  }
}
