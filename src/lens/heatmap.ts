// The lens heatmap: language (y) by layer (x), one panel per next token (English, source
// language), the cell's colour the mean probability of that token over the language's prompts
// and its text the value. Drawn with vega-lite + vega headlessly, rasterised with the bundled
// font (plot/chart.ts's svgToPng), like every plot of the engine.
import { FONT_FAMILY, svgToPng } from '../plot/chart';
import { writeFileAtomic } from '../util/atomic';
import { LensReport } from './lens';

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const esmImport = new Function('m', 'return import(m)') as (m: string) => Promise<unknown>;

interface Vega {
  View: new (runtime: unknown, opts: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
  parse(spec: unknown): unknown;
}

export const layerLabel = (h: number): string => (h === 0 ? 'emb' : String(h));

export function lensHeatmapSpec(r: LensReport): Record<string, unknown> {
  const values: Record<string, unknown>[] = [];
  for (const lang of r.langs) {
    for (const row of r.summary[lang] ?? []) {
      values.push({ lang, layer: layerLabel(row.layer), order: row.layer, token: 'English next token', p: row.pEn });
      values.push({ lang, layer: layerLabel(row.layer), order: row.layer, token: 'source-language next token', p: row.pSrc });
    }
  }
  const max = Math.max(1e-6, ...values.map((v) => v['p'] as number));
  const layerOrder = r.layers.map(layerLabel);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Logit lens: probability of the next token by layer', subtitle: `${r.model} · ${r.kind === 'parallel' ? `task ${r.task}` : 'own prompts'} · last prompt token · emb = the embeddings, l = after layer l` },
    data: { values },
    facet: { column: { field: 'token', type: 'nominal', title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: Math.max(160, 26 * layerOrder.length),
      height: Math.max(60, 26 * r.langs.length),
      layer: [
        {
          mark: 'rect',
          encoding: {
            x: { field: 'layer', type: 'ordinal', sort: layerOrder, title: 'layer' },
            y: { field: 'lang', type: 'nominal', sort: r.langs, title: 'language' },
            color: { field: 'p', type: 'quantitative', title: 'mean p', scale: { scheme: 'blues', domain: [0, max] } },
          },
        },
        {
          mark: { type: 'text', fontSize: 8 },
          encoding: {
            x: { field: 'layer', type: 'ordinal', sort: layerOrder },
            y: { field: 'lang', type: 'nominal', sort: r.langs },
            text: { field: 'p', type: 'quantitative', format: '.2f' },
            color: { condition: { test: `datum.p > ${max / 2}`, value: 'white' }, value: 'black' },
          },
        },
      ],
    },
    config: { font: FONT_FAMILY, view: { stroke: null } },
  };
}

/** OUT/`base`.svg and .png. */
export async function writeLensHeatmap(base: string, r: LensReport): Promise<{ svg: string; png: string }> {
  const [vega, vl] = (await Promise.all([esmImport('vega'), esmImport('vega-lite')])) as [Vega, { compile(s: unknown): { spec: unknown } }];
  const view = new vega.View(vega.parse(vl.compile(lensHeatmapSpec(r)).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  writeFileAtomic(`${base}.svg`, svg);
  writeFileAtomic(`${base}.png`, svgToPng(svg));
  return { svg: `${base}.svg`, png: `${base}.png` };
}
