// The lens report: lens.json (everything, per prompt, position and layer), lens.md (per language,
// a table over layers of the two next tokens' mean probability and median rank; with --positions
// all, the first prompt of each language as Fig. 1 draws it: the top token per layer and position)
// and the heatmap (heatmap.ts).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { withOutputLock } from '../util/lock';
import { io } from '../util/paths';
import { layerLabel, writeLensHeatmap } from './heatmap';
import { LensReport } from './lens';

const cell = (s: string): string => JSON.stringify(s).slice(1, -1).replace(/\|/g, '\\|');
const p3 = (x: number): string => x.toFixed(3);

export function lensMarkdown(r: LensReport): string {
  const out: string[] = ['# Logit lens', ''];
  out.push(`Model \`${r.model}\`, data \`${r.data}\` (${r.kind === 'parallel' ? `parallel rows, task ${r.task}` : 'own prompts'}), ${r.items.length} prompts, ${r.numLayers} layers.`);
  out.push('Layer `emb` is the embeddings, `l` the output of decoder layer l (1-based here), each through the final norm and the LM head; the last row is the model\'s own prediction. Numbers are at the last prompt token: mean probability, median rank (1 = top) of the English and the source-language next token, the share of prompts where English is the more probable, mean entropy (nats) and the most frequent top token.', '');
  for (const lang of r.langs) {
    const ex = r.items.find((i) => i.lang === lang)!;
    out.push(`## ${lang}`, '', `First prompt: \`${cell(ex.prompt)}\` — English next token \`${cell(ex.enToken.token)}\`, source-language next token \`${cell(ex.srcToken.token)}\`.`, '');
    out.push('| layer | p(en) | rank(en) | p(src) | rank(src) | en > src | entropy | top token |', '|---|---|---|---|---|---|---|---|');
    for (const s of r.summary[lang] ?? []) {
      out.push(`| ${layerLabel(s.layer)} | ${p3(s.pEn)} | ${s.rankEn} | ${p3(s.pSrc)} | ${s.rankSrc} | ${(100 * s.enAboveSrc).toFixed(0)}% | ${s.entropy.toFixed(2)} | \`${cell(s.top.token)}\` (${s.top.count}/${s.items}) |`);
    }
    out.push('');
    if (r.positions === 'all') {
      out.push(`Top token per layer (rows, top = last layer) and prompt position (columns) of the first prompt, as in Fig. 1:`, '');
      out.push(`| layer | ${ex.positions.map((p) => `\`${cell(p.token)}\``).join(' | ')} |`, `|---|${ex.positions.map(() => '---').join('|')}|`);
      for (let h = r.layers.length - 1; h >= 0; h--) out.push(`| ${layerLabel(r.layers[h]!)} | ${ex.positions.map((p) => `\`${cell(p.layers[h]!.top[0]?.token ?? '')}\``).join(' | ')} |`);
      out.push('');
    }
  }
  out.push(`![lens heatmap](lens.png)`, '', `${r.seconds.toFixed(1)} s`, '');
  return out.join('\n');
}

/** OUT/lens.json, OUT/lens.md, OUT/lens.svg + .png. */
export async function writeLensReport(out: string, r: LensReport): Promise<{ json: string; markdown: string; svg: string; png: string }> {
  return withOutputLock(out, 'lens', async () => {
    io(out, 'create the output directory', () => mkdirSync(out, { recursive: true }));
    const json = join(out, 'lens.json');
    const markdown = join(out, 'lens.md');
    writeJsonAtomic(json, r);
    writeFileAtomic(markdown, lensMarkdown(r));
    const plot = await writeLensHeatmap(join(out, 'lens'), r);
    return { json, markdown, ...plot };
  });
}
