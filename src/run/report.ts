// The report of `plast run`: report.json (everything the Markdown shows, machine-readable) and
// report.md (a page a researcher reads first: the selection and why, the training, and the
// before/after scores, with the profile and loss plots beside it).
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { BUNDLED_DATA, BUNDLED_MODEL } from '../assets';
import { parallelItems } from '../data/parallel';
import { EvalReport } from '../eval/evaluate';
import { selectionVerdict } from '../profile/report';
import type { ProfileJson } from '../profile/types';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { version } from '../version';
import { ReportInput } from './types';

const NLL_METRIC = 'English-target NLL per token';

export interface ScoreRow {
  lang: string;
  n: number;
  before: number;
  after: number;
  delta: number;
}

export interface EvalComparison {
  file: string;
  kind: string;
  metric: string;
  /** 'lower' for NLL, 'higher' for accuracy. */
  better: 'lower' | 'higher';
  rows: ScoreRow[];
}

/** Before/after per language for each evaluation file and metric. */
/**
 * What the before/after scores of a run can show. The bundled mini-ml was trained on all of the
 * bundled data, held-out pairs included (assets/mini-ml/SOURCE.md), so on it a run measures how
 * much training disturbs memorised text, not a gain in translation; the report says so rather
 * than let a reader take the demo's numbers for the method's effect.
 */
export function evalCaveat(c: { model: string; data: string }, evals: EvalComparison[] = []): string | null {
  const data = resolve(c.data);
  const bundledData = data === resolve(BUNDLED_DATA) || data.startsWith(resolve(BUNDLED_DATA) + sep);
  if (resolve(c.model) !== resolve(BUNDLED_MODEL) || !bundledData) return null;
  const before = evals.find((e) => e.metric === NLL_METRIC)?.rows.find((r) => r.lang === 'all')?.before;
  return (
    'The bundled mini-ml was trained on all of the bundled data, these held-out pairs included (assets/mini-ml/SOURCE.md: ' +
    `its X→English NLL is about 4.7 on NTREX sentences it never saw${before !== undefined ? `, against ${before.toFixed(2)} here` : ''}). ` +
    'On it the scores before and after measure how much the training disturbs text the model has memorised, not a gain in translation: ' +
    'the demo shows the steps of the method, not its effect. Give --model and --data (with pairs the model never saw) for that.'
  );
}

export function compareEvals(before: EvalReport[], after: EvalReport[]): EvalComparison[] {
  const out: EvalComparison[] = [];
  before.forEach((b, i) => {
    const a = after[i];
    if (!a) return;
    const file = b.data.join(', ');
    if (b.nll && a.nll) {
      const rows = Object.entries(b.nll.perLang).map(([lang, s]) => {
        const after = a.nll!.perLang[lang]?.nll ?? NaN;
        return { lang, n: s.pairs, before: s.nll, after, delta: after - s.nll };
      });
      rows.push({ lang: 'all', n: b.nll.overall.pairs, before: b.nll.overall.nll, after: a.nll.overall.nll, delta: a.nll.overall.nll - b.nll.overall.nll });
      out.push({ file, kind: b.kind, metric: NLL_METRIC, better: 'lower', rows });
    }
    for (const m of ['letter', 'likelihood'] as const) {
      const rb = b[m];
      const ra = a[m];
      if (!rb || !ra) continue;
      const rows = Object.entries(rb.perLang).map(([lang, s]) => {
        const after = ra.perLang[lang]?.accuracy ?? NaN;
        return { lang, n: s.items, before: s.accuracy, after, delta: after - s.accuracy };
      });
      rows.push({ lang: 'all', n: rb.overall.items, before: rb.overall.accuracy, after: ra.overall.accuracy, delta: ra.overall.accuracy - rb.overall.accuracy });
      out.push({ file, kind: b.kind, metric: `${m === 'letter' ? 'option-letter' : 'continuation-likelihood'} accuracy`, better: 'higher', rows });
    }
  });
  return out;
}

const f4 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));
const sci = (x: number): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(4));

/** How a value moved, in words, at the precision the report prints it. */
function moved(what: string, before: number, after: number, fmt: (x: number) => string): string {
  if (fmt(before) === fmt(after)) return `${what} stayed at ${fmt(before)}`;
  return `${what} ${after > before ? 'rose' : 'fell'} from ${fmt(before)} to ${fmt(after)}`;
}

export interface LayerChange {
  layer: number;
  trained: boolean;
  overlapBefore: number;
  overlapAfter: number;
  msdBefore: number;
  msdAfter: number;
}

/** Per layer, the overlap with English and the MSD before and after training. */
export function layerChanges(before: ProfileJson, after: ProfileJson, trained: number[]): LayerChange[] {
  return before.layers.map((l, i) => ({
    layer: l.layer,
    trained: trained.includes(l.layer),
    overlapBefore: l.overlapAvg,
    overlapAfter: after.layers[i]!.overlapAvg,
    msdBefore: l.msd,
    msdAfter: after.layers[i]!.msd,
  }));
}

/**
 * The profile after training against the one before, in words: over the trained layers (their
 * mean) how the overlap with English and the MSD moved, how many other layers rose and fell, and
 * how that compares with what the paper reports (Fig. 6: the overlap rises and the MSD falls in
 * the shallow layers) — compared, not quoted.
 */
export function compareProfiles(rows: LayerChange[]): string {
  const trained = rows.filter((x) => x.trained);
  const others = rows.filter((x) => !x.trained);
  const mean = (xs: LayerChange[], f: (x: LayerChange) => number): number => xs.reduce((a, x) => a + f(x), 0) / Math.max(1, xs.length);
  const out: string[] = [];
  if (trained.length > 0) {
    const o0 = mean(trained, (x) => x.overlapBefore);
    const o1 = mean(trained, (x) => x.overlapAfter);
    const m0 = mean(trained, (x) => x.msdBefore);
    const m1 = mean(trained, (x) => x.msdAfter);
    const where = trained.length === 1 ? `On the trained layer ${trained[0]!.layer}` : `On the trained layers ${trained.map((x) => x.layer).join(', ')} (their mean)`;
    out.push(`${where} the ${moved('overlap with English', o0, o1, f4)} and the ${moved('MSD', m0, m1, sci)}.`);
    const overlapUp = f4(o1) !== f4(o0) && o1 > o0;
    const msdDown = sci(m1) !== sci(m0) && m1 < m0;
    out.push(
      `The paper (Fig. 6) reports the overlap rising and the MSD falling in the shallow layers after PLAST; here ` +
        (overlapUp && msdDown ? 'both did.' : overlapUp ? 'the overlap did, the MSD did not.' : msdDown ? 'the MSD did, the overlap did not.' : 'neither did.'),
    );
  }
  if (others.length > 0) {
    const count = (f: (x: LayerChange) => [number, number], fmt: (x: number) => string): string => {
      const up = others.filter((x) => fmt(f(x)[1]) !== fmt(f(x)[0]) && f(x)[1] > f(x)[0]).length;
      const down = others.filter((x) => fmt(f(x)[1]) !== fmt(f(x)[0]) && f(x)[1] < f(x)[0]).length;
      return `rose in ${up} and fell in ${down}`;
    };
    out.push(
      `Of the ${others.length} layers not trained, the overlap ${count((x) => [x.overlapBefore, x.overlapAfter], f4)}, the MSD ${count((x) => [x.msdBefore, x.msdAfter], sci)}.`,
    );
  }
  return out.join(' ');
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]): string => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function writeReport(out: string, r: ReportInput): { json: string; markdown: string } {
  const c = r.state.config;
  const sel = r.profile.selection;
  const split = existsSync(join(out, 'data', 'split.json')) ? (JSON.parse(readFileSync(join(out, 'data', 'split.json'), 'utf8')) as Record<string, unknown>) : null;
  const evals = compareEvals(r.evalBefore, r.evalAfter);
  const plots = [
    ...r.profile.files.plots.filter((p) => p.endsWith('.png')).map((p) => join('profile', p)),
    ...['train/loss.png', 'train/loss.svg'].filter((p) => existsSync(join(out, p))).slice(0, 1),
    ...(r.profileAfter ? ['plot-compare-overlap.png', 'plot-compare-msd.png'].map((p) => join('profile-after', p)).filter((p) => existsSync(join(out, p))) : []),
  ];
  const after = r.profileAfter;
  const compare = after ? layerChanges(r.profile, after, r.layers) : null;
  const stageSeconds = Object.fromEntries(Object.entries(r.state.stages).map(([k, v]) => [k, v?.seconds ?? null]));
  const json = {
    format: 'plast-report',
    engineVersion: version,
    generatedAt: new Date().toISOString(),
    model: c.model,
    backend: r.state.backendUsed ?? c.backend,
    config: c,
    stageSeconds,
    split,
    profile: {
      questions: r.profile.questions,
      languages: r.profile.languages,
      layers: r.profile.layers.map((l) => ({ layer: l.layer, R: l.R, overlapAvg: l.overlapAvg, msd: l.msd, inK: l.inK })),
      selection: sel,
      verdict: selectionVerdict(sel),
    },
    profileAfter: compare,
    profileAfterSummary: compare ? compareProfiles(compare) : null,
    train: { layers: r.layers, layersFrom: c.layers ? '--layers' : 'profile selection', ...r.train },
    eval: evals,
    evalCaveat: evalCaveat(c, evals),
    plots,
  };
  const jsonFile = join(out, 'report.json');
  writeJsonAtomic(jsonFile, json);

  const md: string[] = [];
  md.push(`# PLAST run: ${basename(c.model)}`, '');
  md.push(`${new Date().toISOString().slice(0, 19).replace('T', ' ')} UTC · plast ${version} · backend ${json.backend} · format ${formatLine(c.template, r.profile.params.template, r.evalBefore[0]?.template)} · languages ${c.langs.join(', ')}`, '');
  md.push('## Selection', '');
  const items = parallelItems(c.profileData);
  md.push(`Profiled ${r.profile.questions} parallel ${items} per language from \`${basename(c.profileData)}\` (${c.profileReason}), scope ${r.profile.params.scope}.`, '');
  md.push(
    table(
      ['layer', ...c.langs.map((l) => `R ${l}`), 'mean O', 'MSD', ''],
      r.profile.layers.map((l) => [
        l.layer,
        ...c.langs.map((g) => f4(l.R[g])),
        f4(l.overlapAvg),
        sci(l.msd),
        [sel.selected.includes(l.layer) ? '**selected**' : l.inK ? 'K' : '', l.layer === sel.peakLayer ? 'peak' : ''].filter(Boolean).join(', '),
      ]),
    ),
    '',
  );
  md.push(json.profile.verdict, '');
  md.push('The reasoning, step by step:', '');
  for (const s of sel.reasoning) md.push(`- ${s}`);
  for (const w of sel.warnings) md.push(`- warning: ${w}`);
  md.push('');
  md.push('## Training', '');
  const share = r.train.trainableParams && r.train.totalParams ? ` (${((100 * r.train.trainableParams) / r.train.totalParams).toFixed(1)}% of ${r.train.totalParams.toLocaleString('en-US')})` : '';
  md.push(
    `Layers ${r.layers.join(', ')} (${json.train.layersFrom}), modules ${c.modules}: ${r.train.trainableParams?.toLocaleString('en-US') ?? '?'} trainable parameters${share}. ` +
      `${r.train.step} steps of ${c.batch} sequences, lr ${c.lr}, ${c.epochs} epoch(s), warmup ${c.warmup}, seed ${c.seed}` +
      (split ? `, ${String(split['train'])} training pairs (${String(split['heldout'])} held out by item).` : '.'),
    '',
  );
  md.push(`Loss ${f4(r.train.firstLoss)} → ${f4(r.train.finalLoss)}; ${Math.round(r.train.tokensPerSecond)} tokens/s; ${r.train.seconds.toFixed(1)} s. Tuned checkpoint: \`train/model\` (HF format); delta: \`train/delta.safetensors\`.`, '');
  md.push('## Evaluation before and after', '');
  if (json.evalCaveat) md.push(`Note: ${json.evalCaveat}`, '');
  for (const e of evals) {
    md.push(`${e.metric} (${e.better} is better) on \`${relative(out, e.file) || e.file}\`:`, '');
    md.push(table(['language', 'n', 'before', 'after', 'change'], e.rows.map((x) => [x.lang, x.n, f4(x.before), f4(x.after), `${x.delta > 0 ? '+' : ''}${f4(x.delta)}`])), '');
  }
  if (compare) {
    md.push('## Profile after training', '');
    md.push(
      `The same ${items} profiled on the tuned checkpoint. ${json.profileAfterSummary}`,
      '',
    );
    md.push(
      table(
        ['layer', 'mean O before', 'after', 'MSD before', 'after', ''],
        compare.map((x) => [x.layer, f4(x.overlapBefore), f4(x.overlapAfter), sci(x.msdBefore), sci(x.msdAfter), x.trained ? 'trained' : '']),
      ),
      '',
    );
  }
  if (plots.length) {
    md.push('## Plots', '');
    for (const p of plots) md.push(`![${p}](${p})`, '');
  }
  md.push('## Time', '');
  md.push(table(['stage', 'seconds'], Object.entries(stageSeconds).map(([k, v]) => [k, v === null ? '-' : v.toFixed(1)])), '');
  md.push('Files: `profile/` (profile.json, counts.safetensors, lape.json, plots), `profile-after/` (the same for the tuned checkpoint, with the before/after plots), `train/` (train.jsonl, summary.json, loss plot, checkpoint, export), `data/` (the split), `eval-before.json`, `eval-after.json`, `report.json`, `run.json`.', '');
  const mdFile = join(out, 'report.md');
  writeFileAtomic(mdFile, md.join('\n'));
  return { json: jsonFile, markdown: mdFile };
}

/** The conversation format as asked for and as it resolved (profile, and training + eval). */
function formatLine(asked: string, profile: string, evals: string | undefined): string {
  const used = evals === undefined || evals === profile ? profile : `${profile} (profile), ${evals} (training and eval)`;
  return asked === used ? used : `${used} (--template ${asked})`;
}
