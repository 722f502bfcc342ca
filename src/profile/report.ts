// The human-readable summary `plast profile`, `plast select` and `plast profile merge` print.
import { parallelItems } from '../data/parallel';
import type { ProfileJson } from './types';

const num = (x: number, d = 3): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(d));

export function formatProfile(p: ProfileJson): string {
  const langs = p.params.langs;
  const others = langs.filter((l) => l !== 'en');
  const out: string[] = [];
  const shard = p.params.shard ? ` (shards ${p.params.shard.indices.join(',')} of ${p.params.shard.count})` : '';
  out.push(
    `${p.questions} ${parallelItems(p.data.file)}${shard} x ${langs.length} languages, scope ${p.params.scope}, template ${p.params.template}, backend ${p.params.backend}`,
  );
  out.push(`counted tokens: ${langs.map((l) => `${l} ${p.languages[l]!.tokens}`).join(', ')}`);
  out.push('');
  const head = ['layer', ...langs.map((l) => `R ${l}`), 'O avg', 'MSD', ''];
  const rows = p.layers.map((s) => [
    String(s.layer),
    ...langs.map((l) => num(s.R[l]!)),
    num(s.overlapAvg),
    num(s.msd, 6),
    [s.inK ? 'K' : '', s.layer === p.selection.peakLayer ? 'peak' : '', s.selected ? 'SELECTED' : ''].filter(Boolean).join(' '),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padStart(widths[c]!))).join('  ').trimEnd();
  out.push(line(head));
  for (const r of rows) out.push(line(r));
  out.push('');
  out.push(`selection (τ = ${p.selection.tau}; overlap averaged over ${others.join(', ')}; MSD over all ${langs.length} languages):`);
  for (const r of p.selection.reasoning) out.push(`  - ${r}`);
  for (const w of p.selection.warnings) out.push(`  ! ${w}`);
  out.push(`peak layer ${p.selection.peakLayer}, θ = ${p.selection.theta === null ? 'n/a (K empty)' : num(p.selection.theta, 6)}, selected layers: ${p.selection.selected.length ? p.selection.selected.join(', ') : 'none'}`);
  const lape = p.lape;
  out.push(
    `LAPE language-specific neurons (p > ${num(lape.threshold)}, lowest-entropy ${lape.kept} of ${lape.candidates} candidates): ` +
      langs.map((l) => `${l} ${lape.perLayer[l]!.reduce((a, b) => a + b, 0)}`).join(', '),
  );
  return out.join('\n');
}
