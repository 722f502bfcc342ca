// The human-readable summary `plast profile`, `plast select` and `plast profile merge` print.
import { parallelItems } from '../data/parallel';
import type { Selection } from './stats';
import type { ProfileJson } from './types';

const num = (x: number, d = 3): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(d));

const layerWord = (xs: number[]): string => `${xs.length === 1 ? 'layer' : 'layers'} ${xs.join(', ')}`;

/**
 * The selection in plain words: what the paper's rule (the layers of K — those before the
 * overlap peak — whose MSD exceeds θ, the mean MSD over K) selected, and when it selected nothing,
 * why and what was taken instead; then what --min-layers and --max-layers changed.
 */
export function selectionVerdict(sel: Selection): string {
  const { K, byRule, selected, peakLayer } = sel;
  const out: string[] = [];
  const rule = "The paper's rule (the layers before the overlap peak, K, whose MSD exceeds θ, the mean MSD over K)";
  if (K.length === 0) {
    out.push(`${rule} selected no layer: the overlap with English peaks at layer ${peakLayer}, so no layer comes before the peak and K is empty.`);
  } else if (byRule.length === K.length) {
    // Not every layer of K can exceed the mean of K: the rule's "all of K when none exceeds θ".
    const why =
      K.length === 1
        ? `K holds only layer ${K[0]}, so θ is that layer's own MSD and no layer of K can exceed it`
        : `every layer of K (${K.join(', ')}) has the same MSD, so none exceeds their mean`;
    out.push(`${rule} selected no layer: ${why}. All of K, ${layerWord(K)}, is taken instead.`);
  } else {
    out.push(`${rule} selected ${layerWord(byRule)}, of K = ${K.join(', ')} (the overlap peaks at layer ${peakLayer}; θ = ${num(sel.theta ?? 0, 6)}).`);
  }
  const added = selected.filter((l) => !byRule.includes(l));
  const dropped = byRule.filter((l) => !selected.includes(l));
  if (added.length > 0) out.push(`--min-layers ${sel.minLayers} added ${layerWord(added)}.`);
  if (dropped.length > 0) out.push(`--max-layers ${sel.maxLayers} dropped ${layerWord(dropped)}.`);
  out.push(selected.length > 0 ? `Selected: ${layerWord(selected)}.` : 'Nothing is selected.');
  return out.join(' ');
}

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
  out.push(selectionVerdict(p.selection));
  out.push(`peak layer ${p.selection.peakLayer}, θ = ${p.selection.theta === null ? 'n/a (K empty)' : num(p.selection.theta, 6)}, selected layers: ${p.selection.selected.length ? p.selection.selected.join(', ') : 'none'}`);
  const lape = p.lape;
  out.push(
    `LAPE language-specific neurons (p > ${num(lape.threshold)}, lowest-entropy ${lape.kept} of ${lape.candidates} candidates): ` +
      langs.map((l) => `${l} ${lape.perLayer[l]!.reduce((a, b) => a + b, 0)}`).join(', '),
  );
  return out.join('\n');
}
